import ClusterCore
import ClusterRuntime
import GameDomain
import Synchronization

/// Runs entity requests on the shards this node leads, for every registered kind: one command at
/// a time per entity, the kind's aggregate decides against the committed state, and a
/// replicated kind's events are in the shard's log on a majority of its replicas before the
/// reply. A soft kind's state stays in this node's memory (see ``Durability/soft``).
public final class EntityService: EntityHandler {
    public let registry: EntityRegistry
    let host: ReplicationHost<EntityStore>
    private let mailboxes: Mailboxes
    private let soft = SoftStates()
    private let clock: @Sendable () -> Double

    /// - Parameter mailboxDepthMax: commands queued for one entity before callers get `overloaded`.
    public init(
        host: ReplicationHost<EntityStore>,
        registry: EntityRegistry,
        mailboxDepthMax: Int = 256,
        clock: @escaping @Sendable () -> Double
    ) {
        self.host = host
        self.registry = registry
        self.mailboxes = Mailboxes(depthMax: mailboxDepthMax)
        self.clock = clock
    }

    /// Serves a request forwarded by another node: an encoded ``EntityRequest`` in, an encoded
    /// reply (the kind's reply or its typed failure) out. A request that does not decode is
    /// refused with ``ReplicationError/malformed(_:)``.
    public func handle(shard: UInt32, key: String, command bytes: [UInt8], deadline: ContinuousClock.Instant)
        async throws -> [UInt8]
    {
        let envelope: Plume_Entity_Request
        do {
            envelope = try EntityRequestEnvelope.decode(bytes)
        } catch {
            throw ReplicationError.malformed("\(error)")
        }
        guard let kind = registry.kind(tag: envelope.kind), key.hasPrefix(kind.keyPrefix) else {
            throw ReplicationError.malformed("no entity kind \(envelope.kind) for \(key) here")
        }
        if case .search(let search)? = envelope.body { return try await serveSearch(kind, search) }
        return try await serve(kind, envelope, shard: shard, key: key, deadline: deadline)
    }

    private func serve<K: EntityKind>(
        _ kind: K.Type,
        _ envelope: Plume_Entity_Request,
        shard: UInt32,
        key: String,
        deadline: ContinuousClock.Instant
    ) async throws -> [UInt8] {
        let request: EntityRequest<K>
        do {
            request = try EntityRequest<K>(envelope)
        } catch {
            throw ReplicationError.malformed("\(error)")
        }
        return EntityReplyCodec.encode(
            K.self,
            try await run(K.self, shard: shard, key: key, request, deadline: deadline)
        )
    }

    /// Runs a request typed (the local path of ``NodeEntityTransport``). A command whose deadline
    /// passes while it waits for its entity is not run: it fails with ``ReplicationError/notStarted``.
    /// Cluster failures throw; the kind's own refusals come back as the result's failure.
    public func run<K: EntityKind>(
        _ kind: K.Type,
        shard: UInt32,
        key: String,
        _ request: EntityRequest<K>,
        deadline: ContinuousClock.Instant
    ) async throws -> Result<K.Reply, K.Failure> {
        try await mailboxes.enter(key, deadline: deadline)
        // A write whose caller stops waiting may still commit: the entity then takes its next
        // command only once that is decided (see ``Settlement``), so no command is decided on
        // a state that lacks an earlier one.
        let mailboxes = mailboxes
        let settlement = Settlement { mailboxes.leave(key) }
        do {
            let result =
                switch K.durability {
                case .replicated:
                    try await replicated(
                        K.self,
                        shard: shard,
                        key: key,
                        request,
                        deadline: deadline,
                        settlement: settlement
                    )
                case .soft:
                    try soft(K.self, shard: shard, key: key, request)
                }
            mailboxes.leave(key)
            return result
        } catch {
            if !settlement.isPending { mailboxes.leave(key) }
            throw error
        }
    }

    private func replicated<K: EntityKind>(
        _ kind: K.Type,
        shard: UInt32,
        key: String,
        _ request: EntityRequest<K>,
        deadline: ContinuousClock.Instant,
        settlement: Settlement
    ) async throws -> Result<K.Reply, K.Failure> {
        switch request {
        case .read(let read):
            let state = try await host.read(shard: shard, deadline: deadline) { store in
                try store.state(of: K.self, key: key)
            }
            return Result { () throws(K.Failure) in try K.read(read, state: state ?? .initial) }
        case .command(let command):
            let now = clock()
            // Decided and replicated in one call on the host; the reply waits for the commit.
            return try await host.execute(shard: shard, deadline: deadline, settlement: settlement) { store in
                let decision = Self.decide(
                    K.self,
                    command,
                    on: try store.state(of: K.self, key: key) ?? .initial,
                    now: now
                )
                return (
                    decision.events.isEmpty ? nil : EntityRecord.encode(K.self, key: key, events: decision.events),
                    decision.result
                )
            }
        }
    }

    private func soft<K: EntityKind>(_ kind: K.Type, shard: UInt32, key: String, _ request: EntityRequest<K>) throws
        -> Result<K.Reply, K.Failure>
    {
        guard let term = host.servingTerm(shard: shard) else {
            throw ReplicationError.notPrimary(leader: nil)
        }
        let state = soft.state(of: K.self, key: key, shard: shard, term: term) ?? .initial
        switch request {
        case .read(let read):
            return Result { () throws(K.Failure) in try K.read(read, state: state) }
        case .command(let command):
            let decision = Self.decide(K.self, command, on: state, now: clock())
            if !decision.events.isEmpty { soft.set(K.self, decision.state, key: key, shard: shard, term: term) }
            return decision.result
        }
    }

    /// The entities of the soft kind `kind` that have a state on the shards this node serves
    /// now, with that state (what an owner sweeps when a node is lost, say). A change goes
    /// through a command, as ever: the states may be stale by the time it runs.
    public func softStates<K: EntityKind>(of kind: K.Type) -> [(key: String, state: K.State)] {
        soft.states(of: K.self) { [host] shard in host.servingTerm(shard: shard) }
    }

    /// The aggregate's decision on `command`: its events, the state after them (before them for a
    /// replicated kind whose reply does not read it: see ``EntityKind/replyReadsState``), and the reply.
    static func decide<K: EntityKind>(_ kind: K.Type, _ command: K.State.Command, on state: K.State, now: Double)
        -> (events: [K.State.Event], state: K.State, result: Result<K.Reply, K.Failure>)
    {
        var state = state
        let events: [K.State.Event]
        do throws(K.Failure) {
            events = try state.handle(command, now: now)
        } catch {
            return ([], state, .failure(error))
        }
        // The state after the events is needed for the reply, and by a soft kind (which keeps it).
        if K.replyReadsState || K.durability == .soft {
            for event in events { state.apply(event) }
        }
        let result = Result { () throws(K.Failure) in try K.reply(to: command, events: events, state: state) }
        return (events, state, result)
    }
}

/// The states of soft entities on the shards this node leads, each shard's tagged with the
/// serving term it was built in: once the shard is lost (and perhaps led again later), what
/// was built before is gone, and its owners rebuild it.
final class SoftStates: Sendable {
    private struct Shard {
        var term: UInt64
        var states: [String: any Sendable] = [:]
    }

    private let shards = Mutex<[UInt32: Shard]>([:])

    func state<K: EntityKind>(of kind: K.Type, key: String, shard: UInt32, term: UInt64) -> K.State? {
        shards.withLock { shards in
            guard let current = shards[shard], current.term == term else {
                shards[shard] = Shard(term: term)
                return nil
            }
            return current.states[key] as? K.State
        }
    }

    /// Sets an entity's state; ``Aggregate/initial`` removes it (nothing is kept for it).
    func set<K: EntityKind>(_ kind: K.Type, _ state: K.State, key: String, shard: UInt32, term: UInt64) {
        shards.withLock { shards in
            if shards[shard]?.term != term { shards[shard] = Shard(term: term) }
            shards[shard]!.states[key] = state == .initial ? nil : state
        }
    }

    /// The entities of `kind` with a state, on the shards whose serving term is still the one
    /// their states were built in, or that this node does not serve at the moment (`term` of a
    /// shard; nil when this node does not serve it).
    func states<K: EntityKind>(of kind: K.Type, term: (UInt32) -> UInt64?) -> [(key: String, state: K.State)] {
        shards.withLock { shards in
            var found: [(key: String, state: K.State)] = []
            for (shard, current) in shards {
                // A shard between two elections this node wins keeps its term: its states are
                // listed (a command for them waits for the shard to serve again).
                if let now = term(shard), now != current.term {
                    shards[shard] = nil
                    continue
                }
                for (key, state) in current.states {
                    if let state = state as? K.State { found.append((key, state)) }
                }
            }
            return found.sorted { $0.key < $1.key }
        }
    }
}
