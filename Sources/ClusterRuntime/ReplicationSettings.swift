/// The timing, bounds and checkpoint settings of a node's ``ReplicationHost``.
public struct ReplicationSettings: Sendable {
    public var tickInterval: Duration = .milliseconds(50)
    public var candidacyTimeout: Duration = .milliseconds(600)
    /// Writes waiting for commit on this node, all shards together.
    public var inFlightMax = 100_000
    /// The largest command ``ReplicationHost/propose(shard:_:deadline:)`` takes: an entry must fit in
    /// a WAL record and, with its batch, in a replication frame.
    public var commandBytesMax = 1024 * 1024
    /// A proposal not committed this long after it was made fails with `timeout`.
    public var commitTimeout: Duration = .seconds(10)
    /// WAL bytes written since the last checkpoint that start the next one.
    public var checkpointBytes = 64 * 1024 * 1024
    /// Entities without an event for this long are passivated (see ``ShardStateMachine/passivate(idleSince:)``).
    public var passivateAfter: Duration = .seconds(300)
    /// How often the state machines are asked to passivate idle entities.
    public var passivationInterval: Duration = .seconds(10)
    /// A primary re-sends entries a follower has not acknowledged after this long, and sends
    /// an empty append (carrying the commit position) after this long of silence.
    public var retransmitInterval: Duration = .milliseconds(200)
    public var heartbeatInterval: Duration = .seconds(1)
    /// Read leases: a follower that confirmed a primary's read round promises no other
    /// candidate for this long, and the primary serves reads without a round of their own until
    /// ``readLeaseServed`` of it has passed since that round started. It delays an election by
    /// at most this long after the follower last heard from a primary that was serving reads (a
    /// dead primary is detected later than that anyway). `.zero`: no leases, a round per read.
    public var readLease: Duration = .seconds(1)
    /// The part of ``readLease`` a primary uses: the rest covers clocks that drift apart.
    public var readLeaseServed: Duration { readLease * 0.8 }
    /// Replication messages to one peer per frame at most (and about this many bytes).
    public var batchMessagesMax = 512
    public var batchBytesMax = 4 * 1024 * 1024
    public init() {}
}
