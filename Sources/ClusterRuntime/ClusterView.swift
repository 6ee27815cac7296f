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
    /// Whether the node is configured to run alone: no other listed node and no other seed.
    public var isStandalone: Bool
    /// Lifeguard's local health multiplier (0 is healthy).
    public var localHealth: Int
    /// Some shard of this node is still recovering from a data directory that was new or emptied
    /// (see `NodeIdentity.isRecovering(directory:)`): the node counts in no majority yet.
    public var isRecovering = false

    /// Ready to serve (`GET /ready`): joined, either configured standalone or in touch with the
    /// cluster — some other member is known, so its peers answered at least once — and not
    /// recovering. A node whose seeds never answer (its dials fail, a wrong secret) knows only
    /// itself: it is not ready, though it is its own seed and so "joined".
    public var isReady: Bool {
        isJoined && (isStandalone || members.contains { $0.id != node }) && !isRecovering
    }

    public init(
        node: NodeID,
        clusterAddress: NodeAddress,
        httpAddress: NodeAddress,
        members: [SWIM.Member],
        shards: ShardTable,
        isJoined: Bool,
        isStandalone: Bool = false,
        localHealth: Int
    ) {
        self.node = node
        self.clusterAddress = clusterAddress
        self.httpAddress = httpAddress
        self.members = members
        self.shards = shards
        self.isJoined = isJoined
        self.isStandalone = isStandalone
        self.localHealth = localHealth
    }
}
