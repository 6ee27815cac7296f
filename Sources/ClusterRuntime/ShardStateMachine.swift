import ClusterCore

/// The state a shard's replicated log builds: committed commands are applied in log order, on
/// every replica, so every replica holds the same state up to its commit position.
///
/// A value owned by the ``ReplicationHost`` actor; reads get a copy-on-write snapshot.
public protocol ShardStateMachine: Sendable {
    /// Applies one committed command. Throws, having changed nothing, if it cannot: a command of a
    /// format this build does not know (written by a newer node) or damage. The host then stops
    /// applying the shard and serves it no more; it never skips a command.
    mutating func apply(_ command: [UInt8], lsn: UInt64) throws

    /// The whole state, encoded (what a snapshot and a snapshot transfer carry).
    func snapshot() -> [UInt8]

    /// Replaces the whole state by a decoded ``snapshot()``.
    mutating func restore(_ state: [UInt8]) throws

    /// Moves entities idle since `idleSince` out of their decoded, in-memory form (local memory
    /// management: the state itself does not change). Returns how many moved.
    mutating func passivate(idleSince: ContinuousClock.Instant) -> Int
}

extension ShardStateMachine {
    /// State machines without passivation keep everything as it is.
    public mutating func passivate(idleSince: ContinuousClock.Instant) -> Int { 0 }
}

/// Why a proposal or a read was not served.
public enum ReplicationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// This node does not lead the shard (yet); `leader` is the node it believes does, if any.
    case notPrimary(leader: NodeID?)
    /// The primary lost its role before the write committed: it may or may not be applied.
    case outcomeUnknown
    case timeout
    /// The deadline passed before the command was started (it waited its turn, or for a
    /// primary, too long): nothing was applied, so it is safe to send again.
    case notStarted
    case overloaded
    case shutdown
    /// The command exceeds ``ReplicationHost/Settings/commandBytesMax``; nothing was written.
    case commandTooLarge(bytes: Int, limit: Int)
    /// This node's write-ahead log failed: it takes no more writes until it is restarted.
    case storageFailed
    /// This node met a committed command of the shard that it cannot apply (see
    /// ``ShardStateMachine/apply(_:lsn:)``): it does not serve the shard.
    case stalled(shard: UInt32)
    /// The request does not decode on the node that received it.
    case malformed(String)

    public var description: String {
        switch self {
        case .notPrimary(let leader): "this node does not lead the shard" + (leader.map { " (try \($0))" } ?? "")
        case .outcomeUnknown: "the primary changed before the write committed; its outcome is unknown"
        case .timeout: "the write did not commit in time; its outcome is unknown"
        case .notStarted: "the deadline passed before the command could start; nothing was applied"
        case .overloaded: "too many writes in flight"
        case .shutdown: "the node is shutting down"
        case .commandTooLarge(let bytes, let limit): "the command has \(bytes) bytes; the limit is \(limit)"
        case .storageFailed: "this node's write-ahead log failed; it takes no writes until restarted"
        case .stalled(let shard):
            "this node cannot apply shard \(shard)'s log (a record of a newer version?); it does not serve it"
        case .malformed(let reason): "the request does not decode: \(reason)"
        }
    }

    /// The error's code on the wire (an `error` frame answering a forwarded request).
    public var code: String {
        switch self {
        case .notPrimary: "not_primary"
        case .outcomeUnknown: "outcome_unknown"
        case .timeout: "timeout"
        case .notStarted: "not_started"
        case .overloaded: "overloaded"
        case .shutdown, .storageFailed, .stalled: "unavailable"
        case .commandTooLarge: "too_large"
        case .malformed: "malformed"
        }
    }

    /// The error a peer's `error` frame names (``code``); nil for a code this build does not know.
    public init?(code: String, message: String) {
        switch code {
        case "not_primary": self = .notPrimary(leader: nil)
        case "outcome_unknown": self = .outcomeUnknown
        case "timeout": self = .timeout
        case "not_started": self = .notStarted
        case "overloaded": self = .overloaded
        case "unavailable": self = .shutdown
        case "too_large": self = .commandTooLarge(bytes: 0, limit: 0)
        case "malformed": self = .malformed(message)
        default: return nil
        }
    }
}
