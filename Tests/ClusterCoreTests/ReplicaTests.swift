import ClusterCore
import Testing

/// Single-replica cases the seeded simulation does not reach (its peers never send them).
@Suite struct ReplicaTests {
    static let nodes = ["n1", "n2", "n3"].map { NodeID($0)! }

    /// An append that names position 0 with an epoch other than genesis matches nothing: the
    /// follower refuses it with the hint 0 (it used to compute 0 - 1 and trap).
    @Test func anAppendAfterPositionZeroInAnotherEpochIsRefused() {
        var replica = Replication.Replica(me: Self.nodes[1], genesis: Self.nodes)
        let epoch = Replication.Epoch(number: 1, node: "n1")
        let directives = replica.onMessage(
            .append(epoch: epoch, prevLSN: 0, prevEpoch: epoch, entries: [], commitLSN: 0),
            from: Self.nodes[0]
        )
        let replies = directives.compactMap { directive -> (Replication.Message, NodeID)? in
            if case .send(let message, let to) = directive { (message, to) } else { nil }
        }
        #expect(replies.count == 1)
        #expect(replies.first?.0 == .appendReply(epoch: epoch, success: false, lsn: 0))
        #expect(replies.first?.1 == Self.nodes[0])
        #expect(replica.lastLSN == 0)
    }
}
