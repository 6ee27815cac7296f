import ClusterCore
import ClusterRuntime
import GameDomain
import Synchronization
import WireProtocol

/// Runs entity commands on the shards this node leads: one command at a time per entity, the
/// aggregate decides against the committed state, and the events are replicated before the
/// reply (so a reply means the write is durable on a majority of the shard's replicas).
public final class EntityService: EntityHandler {
    private let host: ReplicationHost
    private let mailboxes: Mailboxes
    private let clock: @Sendable () -> Double

    /// - Parameter mailboxDepthMax: commands queued for one entity before callers get `overloaded`.
    public init(host: ReplicationHost, mailboxDepthMax: Int = 256, clock: @escaping @Sendable () -> Double) {
        self.host = host
        self.mailboxes = Mailboxes(depthMax: mailboxDepthMax)
        self.clock = clock
    }

    public func handle(shard: UInt32, key: String, command bytes: [UInt8], deadline: ContinuousClock.Instant)
        async throws -> [UInt8]
    {
        let command: EntityCodec.Command
        do {
            command = try EntityCodec.decodeCommand(bytes)
        } catch {
            throw EntityError(code: "bad_command", message: "\(error)")
        }
        return EntityCodec.encode(try await handle(shard: shard, key: key, command: command, deadline: deadline))
    }

    /// Runs a decoded command (the local path of ``AccountService/asking(_:local:timeout:)``).
    /// A command whose deadline passes while it waits for its entity is not run: it fails with
    /// ``ReplicationError/notStarted``.
    public func handle(
        shard: UInt32,
        key: String,
        command: EntityCodec.Command,
        deadline: ContinuousClock.Instant
    ) async throws -> EntityCodec.Reply {
        try await mailboxes.enter(key, deadline: deadline)
        // A write whose caller stops waiting may still commit: the entity then takes its next
        // command only once that is decided (see ``Settlement``), so no command is decided on
        // a state that lacks an earlier one.
        let mailboxes = mailboxes
        let settlement = Settlement { mailboxes.leave(key) }
        do {
            let reply = try await run(
                shard: shard,
                key: key,
                command: command,
                deadline: deadline,
                settlement: settlement
            )
            mailboxes.leave(key)
            return reply
        } catch {
            if !settlement.isPending { mailboxes.leave(key) }
            throw error
        }
    }

    private func run(
        shard: UInt32,
        key: String,
        command: EntityCodec.Command,
        deadline: ContinuousClock.Instant,
        settlement: Settlement
    ) async throws -> EntityCodec.Reply {
        let now = clock()
        switch command {
        case .getUser:
            let state = try await host.read(shard: shard) { ($0 as! EntityStore).user(key) }
            return .user(state?.exists == true ? state : nil)

        case .getName:
            let state = try await host.read(shard: shard) { ($0 as! EntityStore).name(key) }
            return .owner(state?.owner, confirmed: state?.isConfirmed ?? false)

        case .user(let command):
            // Decided and replicated in one call on the host; the reply waits for the commit.
            return try await host.execute(shard: shard, deadline: deadline, settlement: settlement) {
                machine -> (command: [UInt8]?, result: EntityCodec.Reply) in
                var state = (machine as! EntityStore).user(key) ?? .initial
                let events: [User.Event]
                do throws(User.Failure) {
                    events = try state.handle(command, now: now)
                } catch {
                    return (nil, Self.failure(error))
                }
                for event in events { state.apply(event) }
                let record = events.isEmpty ? nil : EntityCodec.encodeRecord(key: key, events: .user(events))
                if events.contains(where: {
                    if case .sessionRevoked(_, .refreshTokenReused) = $0 { true } else { false }
                }) {
                    return (
                        record,
                        .failure(
                            code: "session_revoked",
                            message: "this refresh token was already used; the session is revoked"
                        )
                    )
                }
                return (record, .user(state.withoutSecrets))
            }

        case .name(let command):
            return try await host.execute(shard: shard, deadline: deadline, settlement: settlement) {
                machine -> (command: [UInt8]?, result: EntityCodec.Reply) in
                let state = (machine as! EntityStore).name(key) ?? .initial
                let events: [NameReservation.Event]
                do {
                    events = try state.handle(command, now: now)
                } catch NameReservation.Failure.taken {
                    return (nil, .failure(code: "taken", message: "\(key) is taken"))
                } catch {
                    return (nil, .failure(code: "not_reserved", message: "\(error)"))
                }
                return (events.isEmpty ? nil : EntityCodec.encodeRecord(key: key, events: .name(events)), .done)
            }
        }
    }

    static func failure(_ error: User.Failure) -> EntityCodec.Reply {
        switch error {
        case .alreadyExists: .failure(code: "already_exists", message: "the user exists already")
        case .notFound: .failure(code: "not_found", message: "no such user")
        case .invalid(let field, let message): .failure(code: "invalid:\(field)", message: "\(field) \(message)")
        case .sessionInvalid: .failure(code: "session_invalid", message: "the session is unknown, expired or revoked")
        }
    }
}

/// Per-entity serialization: one command at a time per key, with a bounded queue. A lock, not
/// an actor: an uncontended entity is entered and left without a hop to another executor.
final class Mailboxes: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
        /// Takes the waiter out at its deadline; cancelled when its turn comes first.
        let timer: Task<Void, Never>
    }

    private struct State {
        var waiting: [String: [Waiter]] = [:]
        var busy: Set<String> = []
        var lastWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())
    private let depthMax: Int

    init(depthMax: Int) { self.depthMax = depthMax }

    /// Waits for the entity's turn, at most until `deadline`: a caller whose deadline passes
    /// first leaves the queue with ``ReplicationError/notStarted`` and nothing is run for it.
    /// Throws `overloaded` at once if `depthMax` callers are waiting already.
    func enter(_ key: String, deadline: ContinuousClock.Instant) async throws {
        enum Entry { case entered, full, wait(UInt64) }
        let entry = state.withLock { state -> Entry in
            if state.busy.insert(key).inserted { return .entered }
            guard state.waiting[key, default: []].count < depthMax else { return .full }
            state.lastWaiterID += 1
            return .wait(state.lastWaiterID)
        }
        switch entry {
        case .entered:
            break
        case .full:
            throw EntityError(code: "overloaded", message: "too many commands queued for \(key)")
        case .wait(let id):
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let timer = Task { [self] in
                    do {
                        try await Task.sleep(until: deadline, clock: .continuous)
                    } catch {
                        return  // cancelled: the turn came
                    }
                    giveUp(key, waiter: id)
                }
                let enteredMeanwhile = state.withLock { state -> Bool in
                    // The holder may have left between the two locks.
                    if state.busy.insert(key).inserted { return true }
                    state.waiting[key, default: []].append(Waiter(id: id, continuation: continuation, timer: timer))
                    return false
                }
                if enteredMeanwhile {
                    timer.cancel()
                    continuation.resume()
                }
            }
        }
        // The turn may come just as the deadline passes.
        guard ContinuousClock.now < deadline else {
            leave(key)
            throw ReplicationError.notStarted
        }
    }

    /// Takes a waiter whose deadline passed out of the queue (if its turn has not come yet).
    private func giveUp(_ key: String, waiter id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard var queue = state.waiting[key], let index = queue.firstIndex(where: { $0.id == id }) else {
                return nil
            }
            let waiter = queue.remove(at: index)
            state.waiting[key] = queue.isEmpty ? nil : queue
            return waiter
        }
        waiter?.continuation.resume(throwing: ReplicationError.notStarted)
    }

    func leave(_ key: String) {
        let next = state.withLock { state -> Waiter? in
            guard var queue = state.waiting[key], !queue.isEmpty else {
                state.busy.remove(key)
                return nil
            }
            let next = queue.removeFirst()
            state.waiting[key] = queue.isEmpty ? nil : queue
            return next  // the key stays busy: it passes to `next`
        }
        next?.timer.cancel()
        next?.continuation.resume()
    }

    /// Callers waiting for the entity's turn.
    func waiting(for key: String) -> Int { state.withLock { $0.waiting[key]?.count ?? 0 } }
}
