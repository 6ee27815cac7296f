/// Which shard an entity key belongs to.
public enum Placement {
    /// The shard of `key` (for example `user/42`) among `shardCount` shards.
    ///
    /// Uses ``StableHash/placementHash(_:)``, never `hashValue`, so every node and every restart agree.
    public static func shard(forKey key: String, shardCount: Int) -> Int {
        precondition(shardCount >= 1, "at least one shard")
        return Int(StableHash.placementHash(key) % UInt64(shardCount))
    }
}

/// The placement of every shard on the nodes that are neither `dead` nor `left`.
///
/// Built from a ``HashRing`` over the serving members. Deterministic: every node with the same
/// view of membership computes the same table.
public struct ShardTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let shard: Int
        /// The ordered replica set, primary first.
        public let replicas: [NodeID]
        /// The first replica, or `nil` when no node serves.
        public var primary: NodeID? { replicas.first }
    }

    public let shardCount: Int
    public let replication: Int
    public let entries: [Entry]

    public init(
        shardCount: Int,
        replication: Int,
        nodes: some Sequence<NodeID>,
        virtualNodesPerNode: Int = HashRing.virtualNodesPerNodeDefault
    ) {
        let ring = HashRing(nodes: nodes, virtualNodesPerNode: virtualNodesPerNode)
        self.shardCount = shardCount
        self.replication = replication
        self.entries = (0..<shardCount).map { shard in
            Entry(shard: shard, replicas: ring.replicas(forShard: shard, count: replication))
        }
    }

    /// How many shards `node` leads, and in how many more it is a follower replica.
    public func counts(for node: NodeID) -> (primary: Int, replica: Int) {
        var primary = 0
        var replica = 0
        for entry in entries {
            if entry.primary == node {
                primary += 1
            } else if entry.replicas.contains(node) {
                replica += 1
            }
        }
        return (primary, replica)
    }
}
