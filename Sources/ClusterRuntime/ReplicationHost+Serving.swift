import ClusterCore
import Logging
import NIOPosix
import Persistence
import Synchronization
import WireProtocol

/// Which shards this node serves, published for readers off the actor, and shards stalled at a
/// record this node cannot apply.
extension ReplicationHost {
    /// Whether this node leads `shard`, has committed its epoch's start (so its state is
    /// complete) and applies its log, as of the host's last input.
    public nonisolated func serves(shard: UInt32) -> Bool {
        served.withLock { $0.term(of: shard) != nil }
    }

    /// While this node serves `shard`, a number that changes each time it starts serving it
    /// after the ring designated another node (or none) to lead it: state kept only in memory on
    /// the primary — soft entities — starts over with a new term. A re-election this node wins
    /// while it stays designated (its replica set changed: a node was lost or joined) keeps the
    /// term, and that state. Nil while it does not serve the shard.
    public nonisolated func servingTerm(shard: UInt32) -> UInt64? {
        served.withLock { $0.term(of: shard) }
    }

    /// Publishes a change of the shard's serving status (see ``serves(shard:)``).
    func publishServing(shard: UInt32) {
        let serving = slots[Int(shard)].isServing
        guard serving != slots[Int(shard)].serving else { return }
        slots[Int(shard)].serving = serving
        served.withLock { $0.set(shard, serving: serving) }
    }

    /// Stops applying the shard's log at a committed command this node cannot apply: logged and
    /// counted, the shard is served no more, and its waiting proposals are told their outcome is
    /// unknown here. The command is never skipped (that would diverge from the other replicas).
    func stall(shard: UInt32, lsn: UInt64, _ error: any Error) {
        slots[Int(shard)].stalled = Self.reportStall(shard: shard, lsn: lsn, error, metrics: metrics, logger: logger)
        failWaiters(of: Int(shard), with: .stalled(shard: shard))
        publishServing(shard: shard)
    }

    /// Logs and counts a stall (at start-up replay and at run time alike); returns its reason.
    static func reportStall(shard: UInt32, lsn: UInt64, _ error: any Error, metrics: ClusterMetrics, logger: Logger)
        -> String
    {
        metrics.recordsUnapplicable.increment()
        logger.critical(
            "a committed record of this shard cannot be applied; the node does not serve the shard",
            metadata: ["shard/id": "\(shard)", "lsn": "\(lsn)", "error": "\(error)"]
        )
        return "lsn \(lsn): \(error)"
    }

    /// Why this node does not apply `shard`'s log, if it stopped (see ``ShardStateMachine/apply(_:lsn:)``).
    public func stalledReason(shard: UInt32) -> String? {
        slots.indices.contains(Int(shard)) ? slots[Int(shard)].stalled : nil
    }

    /// The number of shards this node currently serves as primary.
    public var servedShards: Int { slots.indices.count { slots[$0].isServing } }

    /// The node the ring designates for the shard, which leads it once its candidacy succeeds.
    public func leader(of shard: UInt32) -> NodeID? {
        placement.entries.indices.contains(Int(shard)) ? placement.entries[Int(shard)].primary : nil
    }
}
