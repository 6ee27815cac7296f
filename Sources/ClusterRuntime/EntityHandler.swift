/// Serves commands for entities on the shards this node leads. The platform layer implements
/// it; the runtime calls it for local commands and for commands forwarded by other nodes.
public protocol EntityHandler: Sendable {
    /// Handles `command` for the entity `key` of `shard`, returning the encoded reply.
    func handle(shard: UInt32, key: String, command: [UInt8]) async throws -> [UInt8]
}

/// An error an entity handler returns to a caller on another node, by code.
public struct EntityError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
