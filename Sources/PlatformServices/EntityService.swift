import ClusterCore
import ClusterRuntime
import GameDomain
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

    public func handle(shard: UInt32, key: String, command bytes: [UInt8]) async throws -> [UInt8] {
        let command: EntityCodec.Command
        do {
            command = try EntityCodec.decodeCommand(bytes)
        } catch {
            throw EntityError(code: "bad_command", message: "\(error)")
        }
        try await mailboxes.enter(key)
        do {
            let reply = try await run(shard: shard, key: key, command: command)
            await mailboxes.leave(key)
            return EntityCodec.encode(reply)
        } catch {
            await mailboxes.leave(key)
            throw error
        }
    }

    private func run(shard: UInt32, key: String, command: EntityCodec.Command) async throws -> EntityCodec.Reply {
        let now = clock()
        switch command {
        case .getUser:
            let state = try await host.read(shard: shard) { ($0 as! EntityStore).user(key) }
            return .user(state?.exists == true ? state : nil)

        case .getName:
            let state = try await host.read(shard: shard) { ($0 as! EntityStore).name(key) }
            return .owner(state?.owner, confirmed: state?.isConfirmed ?? false)

        case .user(let command):
            var state = try await host.read(shard: shard) { ($0 as! EntityStore).user(key) } ?? .initial
            let events: [User.Event]
            do {
                events = try state.handle(command, now: now)
            } catch {
                return Self.failure(error)
            }
            if !events.isEmpty {
                _ = try await host.propose(shard: shard, EntityCodec.encodeRecord(key: key, events: .user(events)))
                for event in events { state.apply(event) }
            }
            if events.contains(where: { if case .sessionRevoked(_, .refreshTokenReused) = $0 { true } else { false } }) {
                return .failure(code: "session_revoked", message: "this refresh token was already used; the session is revoked")
            }
            return .user(state)

        case .name(let command):
            let state = try await host.read(shard: shard) { ($0 as! EntityStore).name(key) } ?? .initial
            let events: [NameReservation.Event]
            do {
                events = try state.handle(command, now: now)
            } catch NameReservation.Failure.taken {
                return .failure(code: "taken", message: "\(key) is taken")
            } catch {
                return .failure(code: "not_reserved", message: "\(error)")
            }
            if !events.isEmpty {
                _ = try await host.propose(shard: shard, EntityCodec.encodeRecord(key: key, events: .name(events)))
            }
            return .done
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

/// Per-entity serialization: one command at a time per key, with a bounded queue.
actor Mailboxes {
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var busy: Set<String> = []
    private let depthMax: Int

    init(depthMax: Int) { self.depthMax = depthMax }

    func enter(_ key: String) async throws {
        guard busy.contains(key) else {
            busy.insert(key)
            return
        }
        guard waiting[key, default: []].count < depthMax else {
            throw EntityError(code: "overloaded", message: "too many commands queued for \(key)")
        }
        await withCheckedContinuation { waiting[key, default: []].append($0) }
    }

    func leave(_ key: String) {
        if var queue = waiting[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[key] = queue.isEmpty ? nil : queue
            next.resume()
        } else {
            busy.remove(key)
        }
    }
}
