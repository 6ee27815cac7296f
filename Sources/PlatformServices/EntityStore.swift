import ClusterRuntime
import GameDomain
import WireProtocol

/// The state of one shard: every entity whose key hashes to it, rebuilt from committed events.
public struct EntityStore: ShardStateMachine {
    public private(set) var users: [String: User.State] = [:]
    public private(set) var names: [String: NameReservation.State] = [:]
    /// Records that did not decode (a newer node's format, or damage): counted, never applied halfway.
    public private(set) var undecodable = 0

    public init() {}

    public func snapshot() -> [UInt8] {
        EntityCodec.encodeShardState(users: users, names: names)
    }

    public mutating func restore(_ state: [UInt8]) throws {
        (users, names) = try EntityCodec.decodeShardState(state)
    }

    public mutating func apply(_ command: [UInt8], lsn: UInt64) {
        guard let (key, events) = try? EntityCodec.decodeRecord(command) else {
            undecodable += 1
            return
        }
        switch events {
        case .user(let events):
            var state = users[key] ?? .initial
            for event in events { state.apply(event) }
            users[key] = state
        case .name(let events):
            var state = names[key] ?? .initial
            for event in events { state.apply(event) }
            names[key] = state
        }
    }
}

/// Entity keys: `kind/id`.
public enum EntityKey {
    public static func user(_ id: String) -> String { "user/\(id)" }
    public static func username(_ name: String) -> String { "name/username/\(Validation.usernameKey(name))" }
    public static func email(_ address: String) -> String { "name/email/\(Validation.emailKey(address))" }
}
