import ClusterCore

/// What one node currently believes about the cluster: a snapshot for the HTTP edge and the CLI.
public struct ClusterView: Sendable {
    public var node: NodeID
    public var clusterAddress: NodeAddress
    public var httpAddress: NodeAddress
    /// Every known member, this node included, sorted by id.
    public var members: [SWIM.Member]
    /// The placement of every shard on the serving members.
    public var shards: ShardTable
    /// Whether this node has joined the cluster (heard from a seed, or is its own seed).
    public var isJoined: Bool
    /// Lifeguard's local health multiplier (0 is healthy).
    public var localHealth: Int

    public init(
        node: NodeID,
        clusterAddress: NodeAddress,
        httpAddress: NodeAddress,
        members: [SWIM.Member],
        shards: ShardTable,
        isJoined: Bool,
        localHealth: Int
    ) {
        self.node = node
        self.clusterAddress = clusterAddress
        self.httpAddress = httpAddress
        self.members = members
        self.shards = shards
        self.isJoined = isJoined
        self.localHealth = localHealth
    }
}
