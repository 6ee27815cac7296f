import ClusterCore
import Testing

@testable import ClusterRuntime

/// The serving term that soft state (presence) lives by: it survives a re-election its primary
/// wins while the ring keeps designating it, and changes once the ring gave the shard away.
@Suite struct ServedShardsTests {
    let me = NodeID("n1")!
    let other = NodeID("n2")!

    @Test func aReElectionWhileStillDesignatedKeepsTheTermAndAHandOverEndsIt() {
        var served = ServedShards(shardCount: 4)
        let mine = ShardTable(shardCount: 4, replication: 1, nodes: [me])
        served.designate(mine, me: me)
        served.set(2, serving: true)
        let first = served.term(of: 2)
        #expect(first != nil)
        // A replica was lost: a new epoch, a pause, the same primary.
        served.set(2, serving: false)
        #expect(served.term(of: 2) == nil, "no term while it does not serve")
        served.designate(mine, me: me)
        served.set(2, serving: true)
        #expect(served.term(of: 2) == first, "still designated: the same term")
        // The ring gives every shard to n2 for a while, then back.
        served.set(2, serving: false)
        served.designate(ShardTable(shardCount: 4, replication: 1, nodes: [other]), me: me)
        served.designate(mine, me: me)
        served.set(2, serving: true)
        #expect(served.term(of: 2) != first, "given away meanwhile: a new term")
    }
}
