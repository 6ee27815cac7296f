/// Serves commands for entities on the shards this node leads. The platform layer implements
/// it; the runtime calls it for local commands and for commands forwarded by other nodes.
public protocol EntityHandler: Sendable {
    /// Handles `command` for the entity `key` of `shard`, returning the encoded reply. The
    /// caller waits until `deadline`: a command not started by then is not started at all, and a
    /// write not committed by then fails with ``ReplicationError/timeout`` (see
    /// ``ReplicationHost/propose(shard:_:deadline:)``). Fails with a ``ReplicationError``, which
    /// crosses the wire by its ``ReplicationError/code``.
    func handle(shard: UInt32, key: String, command: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8]
}
