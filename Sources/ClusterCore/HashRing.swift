/// A consistent-hash ring with virtual nodes, mapping each shard to an ordered replica set.
///
/// Every node is placed on a 64-bit ring at `virtualNodesPerNode` points derived from its id.
/// A shard sits at a point derived from its number; its replica set is the first `replication`
/// distinct nodes met walking clockwise from there, the first of them being the primary.
/// Adding or removing one node therefore only moves the slots that node gains or loses.
///
/// The ring is a pure value: nodes with the same member list compute the same table.
///
/// - SeeAlso: Dynamo (DeCandia et al., 2007) §4.2, and Cassandra's virtual nodes.
public struct HashRing: Sendable, Equatable {
    /// The default number of points per node: enough that shares differ by a few percent.
    public static let virtualNodesPerNodeDefault = 128

    public let nodes: [NodeID]
    public let virtualNodesPerNode: Int
    private let points: [UInt64]
    private let owners: [Int32]

    public init(nodes: some Sequence<NodeID>, virtualNodesPerNode: Int = HashRing.virtualNodesPerNodeDefault) {
        precondition(virtualNodesPerNode >= 1, "a ring needs at least one point per node")
        let sortedNodes = Array(Set(nodes)).sorted()
        var placed: [(point: UInt64, owner: Int32)] = []
        placed.reserveCapacity(sortedNodes.count * virtualNodesPerNode)
        for (index, node) in sortedNodes.enumerated() {
            for virtualNode in 0..<virtualNodesPerNode {
                placed.append((StableHash.placementHash("\(node.rawValue)#\(virtualNode)"), Int32(index)))
            }
        }
        // Ties (astronomically unlikely) are broken by node order so every process agrees.
        placed.sort { ($0.point, $0.owner) < ($1.point, $1.owner) }
        self.nodes = sortedNodes
        self.virtualNodesPerNode = virtualNodesPerNode
        self.points = placed.map(\.point)
        self.owners = placed.map(\.owner)
    }

    /// The point of shard `shard` on the ring.
    public static func position(ofShard shard: Int) -> UInt64 {
        StableHash.placementHash("shard/\(shard)")
    }

    /// The ordered replica set of `shard`: `min(count, nodes.count)` distinct nodes, primary first.
    public func replicas(forShard shard: Int, count: Int) -> [NodeID] {
        let wanted = min(count, nodes.count)
        guard wanted > 0 else { return [] }
        let start = firstIndex(atOrAfter: Self.position(ofShard: shard))
        var chosen: [NodeID] = []
        chosen.reserveCapacity(wanted)
        var seen = Set<Int32>()
        var index = start
        while chosen.count < wanted {
            let owner = owners[index]
            if seen.insert(owner).inserted { chosen.append(nodes[Int(owner)]) }
            index += 1
            if index == points.count { index = 0 }
        }
        return chosen
    }

    /// Binary search for the first point `>= position`, wrapping to 0 past the end.
    private func firstIndex(atOrAfter position: UInt64) -> Int {
        var low = 0
        var high = points.count
        while low < high {
            let mid = (low + high) / 2
            if points[mid] < position { low = mid + 1 } else { high = mid }
        }
        return low == points.count ? 0 : low
    }
}
