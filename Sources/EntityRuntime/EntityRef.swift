import ClusterCore
import ClusterRuntime
import GameDomain

/// Why a request to an entity failed: the kind refused it, or the cluster could not get an answer.
public enum EntityFailure<Domain: Error & Sendable>: Error, Sendable {
    /// The entity's aggregate refused (a typed failure of its kind).
    case domain(Domain)
    case cluster(ClusterFailure)
}

/// A request that the cluster could not answer, sorted by what the caller should do. The one
/// mapping of every cluster error (``ReplicationError``, ``TransportError`` …) that services see.
public struct ClusterFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The entity's queue or the node's in-flight bounds are full, or the request could not
        /// start before its deadline: nothing was applied; retry shortly.
        case overloaded
        /// No answer that says what happened — the deadline passed, the primary changed or
        /// stopped, the connection to it closed: a write may or may not have been applied.
        case timeout
        /// No primary yet, storage failed, shutting down, a reply that does not decode …
        case unavailable
    }

    public var kind: Kind
    public var message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// Sorts any error a cluster call throws.
    public init(_ error: any Error) {
        let kind: Kind =
            switch error {
            case let error as ClusterFailure: error.kind
            case ReplicationError.overloaded, ReplicationError.notStarted, TransportError.overloaded: .overloaded
            // The outcome is unknown: the write may have been applied (or may still be).
            case ReplicationError.timeout, ReplicationError.outcomeUnknown, TransportError.timeout,
                TransportError.connectionClosed:
                .timeout
            default: .unavailable
            }
        self.init(kind: kind, message: "\(error)")
    }

    public var description: String { message }
}

/// Carries requests to entities wherever they live.
public protocol EntityTransport: Sendable {
    func ask<K: EntityKind>(_ kind: K.Type, key: String, _ request: EntityRequest<K>) async throws(EntityFailure<
        K.Failure
    >)
        -> K.Reply
}

/// A typed reference to one entity: what services use to reach entities of any kind.
///
/// ```swift
/// let user = entities.ref(UserKind.self, id)
/// let state = try await user.ask(.closeSession(id: sessionID))
/// ```
public struct EntityRef<K: EntityKind>: Sendable {
    public let key: String
    private let transport: any EntityTransport

    public init(key: String, transport: any EntityTransport) {
        self.key = key
        self.transport = transport
    }

    /// Sends a command; its reply once the entity has decided (and, for a replicated kind, once
    /// its events are durable on a majority of the shard's replicas).
    public func ask(_ command: K.State.Command) async throws(EntityFailure<K.Failure>) -> K.Reply {
        try await transport.ask(K.self, key: key, .command(command))
    }

    /// Reads the entity's current state (on its shard's primary).
    public func read(_ read: K.Read) async throws(EntityFailure<K.Failure>) -> K.Reply {
        try await transport.ask(K.self, key: key, .read(read))
    }
}

/// The entities of a cluster, reached through one transport.
public struct Entities: Sendable {
    public let transport: any EntityTransport

    public init(_ transport: any EntityTransport) { self.transport = transport }

    /// The entity of kind `K` with the given id (its key is `K.keyPrefix + id`).
    public func ref<K: EntityKind>(_ kind: K.Type, _ id: String) -> EntityRef<K> {
        EntityRef(key: K.key(id), transport: transport)
    }

    /// The entity of kind `K` with the given whole key.
    public func ref<K: EntityKind>(_ kind: K.Type, key: String) -> EntityRef<K> {
        EntityRef(key: key, transport: transport)
    }
}

/// Requests through a cluster node: a request for a shard this node is designated to lead goes
/// straight to its ``EntityService``, typed, without encoding; any other is encoded and forwarded
/// to the shard's primary (``ClusterNode/ask(key:command:deadline:)``). Each request gets
/// `timeout` to be answered.
public struct NodeEntityTransport: EntityTransport {
    public let node: ClusterNode<EntityStore>
    public let local: EntityService?
    public let timeout: Duration

    public init(node: ClusterNode<EntityStore>, local: EntityService? = nil, timeout: Duration = .seconds(5)) {
        self.node = node
        self.local = local
        self.timeout = timeout
    }

    public func ask<K: EntityKind>(_ kind: K.Type, key: String, _ request: EntityRequest<K>)
        async throws(EntityFailure<K.Failure>) -> K.Reply
    {
        let deadline = ContinuousClock.now + timeout
        let result: Result<K.Reply, K.Failure>
        do {
            result = try await send(K.self, key: key, request, deadline: deadline)
        } catch {
            throw .cluster(ClusterFailure(error))
        }
        switch result {
        case .success(let reply): return reply
        case .failure(let failure): throw .domain(failure)
        }
    }

    private func send<K: EntityKind>(
        _ kind: K.Type,
        key: String,
        _ request: EntityRequest<K>,
        deadline: ContinuousClock.Instant
    )
        async throws -> Result<K.Reply, K.Failure>
    {
        if let local, let shard = node.designatedShard(forKey: key) {
            do {
                return try await local.run(K.self, shard: shard, key: key, request, deadline: deadline)
            } catch ReplicationError.notPrimary {
                // Still electing, or the ring moved: the general path waits and forwards.
            }
        }
        let reply = try await node.ask(key: key, command: request.encoded, deadline: deadline)
        return try EntityReplyCodec.decode(K.self, reply)
    }
}
