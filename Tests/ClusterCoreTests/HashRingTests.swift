import ClusterCore
import Testing

@Suite struct HashRingTests {
    let three = ["n1", "n2", "n3"].map { NodeID($0)! }

    @Test func sameMembersGiveTheSameTableInAnyOrder() {
        let a = ShardTable(shardCount: 256, replication: 3, nodes: three)
        let b = ShardTable(shardCount: 256, replication: 3, nodes: three.reversed())
        #expect(a == b)
    }

    @Test func replicaSetsHoldDistinctNodesPrimaryFirst() {
        let nodes = (1...7).map { NodeID("n\($0)")! }
        let table = ShardTable(shardCount: 512, replication: 3, nodes: nodes)
        for entry in table.entries {
            #expect(entry.replicas.count == 3)
            #expect(Set(entry.replicas).count == 3)
            #expect(entry.primary == entry.replicas.first)
        }
    }

    @Test func replicationIsCappedByTheNodeCount() {
        let table = ShardTable(shardCount: 16, replication: 3, nodes: [NodeID("solo")!])
        #expect(table.entries.allSatisfy { $0.replicas == [NodeID("solo")!] })
        let empty = ShardTable(shardCount: 4, replication: 3, nodes: [])
        #expect(empty.entries.allSatisfy { $0.primary == nil })
    }

    @Test func primariesAreSpreadEvenly() {
        let nodes = (1...5).map { NodeID("n\($0)")! }
        let table = ShardTable(shardCount: 1024, replication: 3, nodes: nodes)
        for node in nodes {
            let primaries = table.counts(for: node).primary
            // Fair share is 204.8; 128 virtual nodes keep every node within ±35% of it.
            #expect(primaries > 133 && primaries < 277, "node \(node) leads \(primaries) shards")
        }
    }

    @Test(arguments: [1, 2, 3])
    func addingAFourthNodeMovesAboutAQuarterOfTheSlots(replication: Int) {
        let shards = 256
        let before = ShardTable(shardCount: shards, replication: replication, nodes: three)
        let after = ShardTable(shardCount: shards, replication: replication, nodes: three + [NodeID("n4")!])
        var moved = 0
        for (old, new) in zip(before.entries, after.entries) {
            moved += Set(new.replicas).subtracting(old.replicas).count
        }
        let slots = shards * replication
        let quarter = Double(slots) / 4
        #expect(Double(moved) > quarter * 0.5, "moved \(moved) of \(slots) slots")
        #expect(Double(moved) <= quarter * 1.5, "moved \(moved) of \(slots) slots")
        // Every moved slot went to the new node: nothing shuffles between the old ones.
        for (old, new) in zip(before.entries, after.entries) {
            #expect(Set(new.replicas).subtracting(old.replicas).isSubset(of: [NodeID("n4")!]))
        }
    }

    @Test func removingANodeOnlyMovesItsOwnSlots() {
        let four = three + [NodeID("n4")!]
        let before = ShardTable(shardCount: 256, replication: 2, nodes: four)
        let after = ShardTable(shardCount: 256, replication: 2, nodes: three)
        for (old, new) in zip(before.entries, after.entries) {
            let kept = old.replicas.filter { $0 != NodeID("n4")! }
            #expect(Array(new.replicas.prefix(kept.count)) == kept)
        }
    }
}
