import ClusterCore
import ClusterTestKit
import Foundation
import Testing

/// Seeded chaos runs of the replication protocol. Each run prints its seed on failure;
/// `PLUME_REPLICATION_RUNS` raises the number of runs (and `PLUME_REPLICATION_SEED` replays one;
/// `PLUME_SIM_DEBUG=1` prints its trace).
@Suite struct ReplicationSimulationTests {
    static var runs: Int { Int(ProcessInfo.processInfo.environment["PLUME_REPLICATION_RUNS"] ?? "") ?? 2000 }

    @Test func noAcknowledgedWriteIsLostAndCommittedPrefixesNeverDiverge() async throws {
        let seeds: [UInt64] =
            if let one = ProcessInfo.processInfo.environment["PLUME_REPLICATION_SEED"].flatMap(UInt64.init) {
                [one]
            } else {
                (0..<UInt64(Self.runs)).map { 0xC0FFEE &+ $0 &* 7919 }
            }
        // A minute of computing, off the cooperative pool the clustered tests' nodes run on.
        let (acknowledged, installs, membership, windows, failure) = try await onOwnThread {
            () -> (
                Int, Int, (Int, Int),
                (
                    crashes: Int, committed: Int, reads: Int, confirmed: Int, heldBack: Int, leased: Int, wipes: Int,
                    recoveries: Int
                ),
                String?
            ) in
            var windows = (
                crashes: 0, committed: 0, reads: 0, confirmed: 0, heldBack: 0, leased: 0, wipes: 0, recoveries: 0
            )
            var acknowledged = 0
            var installs = 0
            var membership = (joins: 0, removals: 0)
            for seed in seeds {
                let simulation = ReplicationSimulation(seed: seed)
                do {
                    try simulation.run(chaos: .seconds(2))
                } catch {
                    return (
                        acknowledged, installs, membership, windows,
                        "\(error) — replay with PLUME_REPLICATION_SEED=\(seed)"
                    )
                }
                acknowledged += simulation.acknowledged.count
                windows.crashes += simulation.primaryCrashesBeforeStartWrite
                windows.committed += simulation.primaryCrashesAfterFollowersCommitted
                windows.reads += simulation.reads
                windows.confirmed += simulation.readsConfirmed
                windows.heldBack += simulation.staleReadsHeldBack
                windows.leased += simulation.leaseReads
                windows.wipes += simulation.wipes
                windows.recoveries += simulation.recoveries
                installs += simulation.installs
                membership.joins += simulation.joins
                membership.removals += simulation.removals
            }
            return (acknowledged, installs, membership, windows, nil)
        }
        if let failure {
            Issue.record(Comment(rawValue: failure))
            return
        }
        print(
            "replication simulation: \(seeds.count) runs, \(acknowledged) writes acknowledged, \(installs) snapshot installs, "
                + "\(membership.0) nodes joined, \(membership.1) decommissioned, \(windows.reads) reads checked "
                + "(\(windows.confirmed) confirmed by a round, \(windows.leased) answered under a read lease, "
                + "\(windows.heldBack) at deposed primaries held back), "
                + "\(windows.crashes) primaries crashed before their start entry was durable, "
                + "\(windows.wipes) nodes wiped, \(windows.recoveries) replicas recovered"
        )
        // No epoch commits anything before its start entry is durable on its primary (its
        // appends wait for that write), so a primary crashed in that window never had its epoch
        // committed behind its back.
        #expect(
            windows.committed == 0,
            "\(windows.committed) epochs committed before their primary's start entry was durable"
        )
        // The runs did real work: writes were acknowledged despite the nemesis.
        #expect(acknowledged > seeds.count * 10, "only \(acknowledged) writes acknowledged in \(seeds.count) runs")
        // Lagging replicas and candidates caught up from compacted bases, not only by log shipping.
        if seeds.count >= 100 {
            #expect(installs > 0, "no run installed a base")
            // Members came and went: fresh nodes joined replica sets, others left them for good.
            #expect(membership.0 > 0 && membership.1 > 0, "joins \(membership.0), decommissions \(membership.1)")
            // The nemesis reached the persistence point it aims at.
            #expect(windows.crashes > 0, "no primary crashed before its start entry was durable")
            // Deposed primaries that had not heard of it were asked to read (answering, they
            // would have been stale; the read rounds held them back), and most reads were answered.
            #expect(windows.heldBack > 0, "no read reached a deposed primary")
            #expect(
                (windows.confirmed + windows.leased) * 2 > windows.reads,
                "\(windows.confirmed) + \(windows.leased) of \(windows.reads) reads answered"
            )
            #expect(windows.leased > 0, "no read was answered under a lease")
            // Nodes came back with emptied data directories and recovered.
            #expect(
                windows.wipes > 0 && windows.recoveries > windows.wipes,
                "\(windows.wipes) wipes, \(windows.recoveries) recoveries"
            )
        }
    }

    /// A node whose data directory was emptied comes back under its id. Without recovery its
    /// empty promise completes a quorum that misses an acknowledged write (the control run
    /// shows the window is reached); recovering, it abstains, the candidate waits for the node
    /// that holds the write, and the wiped node ends up holding it too.
    @Test(arguments: [false, true]) func aWipedNodeNeverCountsTowardAQuorumForWhatItLost(recovers: Bool) throws {
        var cluster = Harness(["a", "b", "c"])
        cluster.campaign(0)
        cluster.cut = [2]
        let lsn = try cluster.propose([42], at: 0)
        #expect(cluster.replicas[0].commitLSN == lsn, "acknowledged: on a and b")
        // b's directory is emptied; it restarts under its id. a is down.
        cluster.replicas[1] = Replication.Replica(me: cluster.ids[1], genesis: cluster.ids)
        cluster.persisted[1] = Replication.Replica.Durable()
        if recovers { cluster.deliver(cluster.replicas[1].beginRecovery(nonce: 1), from: 1) }
        cluster.cut = [0]
        cluster.drain()
        cluster.campaign(2, replicas: [cluster.ids[2], cluster.ids[1], cluster.ids[0]])
        guard recovers else {
            // b's empty promise and c's own make a majority: c leads without the write and
            // commits something else at its position.
            #expect(cluster.replicas[2].isPrimary)
            try cluster.propose([7], at: 2)
            #expect(cluster.replicas[2].entry(at: lsn)?.payload != .command([42]), "the acknowledged write is lost")
            return
        }
        #expect(!cluster.replicas[2].isPrimary, "c must not lead on b's forgotten word")
        #expect(cluster.replicas[1].isRecovering)
        // a is back: c's candidacy gets a's promise, adopts the write, and b catches up from c.
        cluster.cut = []
        cluster.campaign(2, replicas: [cluster.ids[2], cluster.ids[1], cluster.ids[0]])
        #expect(cluster.replicas[2].isPrimary)
        for _ in 0..<3 {
            cluster.tick(1)
            cluster.tick(2)
        }
        #expect(cluster.replicas[2].entry(at: lsn)?.payload == .command([42]))
        #expect(!cluster.replicas[1].isRecovering)
        #expect(cluster.replicas[1].entry(at: lsn)?.payload == .command([42]))
        #expect(cluster.persisted[1] == cluster.replicas[1].durable)
    }

    /// A new cluster: every node starts recovering, nobody holds anything, and they finish at
    /// once and elect a primary.
    @Test func aNewClusterWhoseNodesAllRecoverStillElects() throws {
        var cluster = Harness(["a", "b", "c"])
        for index in 0..<3 { cluster.deliver(cluster.replicas[index].beginRecovery(nonce: 1), from: index) }
        cluster.drain()
        #expect(cluster.replicas.allSatisfy { !$0.isRecovering })
        cluster.campaign(0)
        #expect(cluster.replicas[0].isServing)
    }

    /// The primary's node comes back emptied under its id before anyone else stood: the others
    /// follow nobody, so it stands itself, counting only their promises for the epoch it led
    /// before, and adopts the log they hold.
    @Test func aWipedPrimaryStandsAgainOnlyOnTheOthersWord() throws {
        var cluster = Harness(["a", "b", "c"])
        cluster.campaign(0)
        let lsn = try cluster.propose([5], at: 0)
        cluster.replicas[0] = Replication.Replica(me: cluster.ids[0], genesis: cluster.ids)
        cluster.persisted[0] = Replication.Replica.Durable()
        cluster.deliver(cluster.replicas[0].beginRecovery(nonce: 1), from: 0)
        cluster.drain()
        #expect(cluster.replicas[0].isRecovering, "no primary to follow: it learned, and may stand")
        // With c away, b's promise alone is not the others' majority of the epoch a led.
        cluster.cut = [2]
        cluster.campaign(0)
        #expect(!cluster.replicas[0].isPrimary)
        cluster.cut = []
        cluster.campaign(0)
        #expect(cluster.replicas[0].isPrimary && !cluster.replicas[0].isRecovering)
        #expect(cluster.replicas[0].entry(at: lsn)?.payload == .command([5]))
    }

    @Test func aStablePrimaryCommitsEveryProposal() throws {
        var cluster = Harness(["a", "b", "c"])
        cluster.campaign(0)
        #expect(cluster.replicas[0].isPrimary)
        try cluster.propose(1...20, at: 0)
        cluster.tick(0)
        // Start entry + 20 commands, committed on the primary and applied in order by the followers.
        #expect(cluster.replicas[0].commitLSN == 21)
        #expect(cluster.commits[0]?.count == 21)
        for index in 1...2 {
            #expect(cluster.replicas[index].log == cluster.replicas[0].log)
            #expect(cluster.commits[index]?.map(\.lsn) == Array(1...21))
        }
    }

    @Test func aPrimaryCountsItselfTowardsAQuorumOnlyOnceItsOwnWriteIsDone() throws {
        var cluster = Harness(["a", "b", "c"])
        cluster.campaign(0)
        #expect(cluster.replicas[0].isServing)
        // a's write of the next entry is slow and c is cut off; b writes it and acknowledges at once.
        cluster.slowWriters = [0]
        cluster.cut = [2]
        let lsn = try cluster.propose([7], at: 0)
        #expect(cluster.persisted[1].log.last?.lsn == lsn, "the append left before a's own write completed")
        #expect(
            cluster.replicas[0].commitLSN < lsn,
            "b's copy and a's unwritten one are not a majority of durable copies"
        )
        cluster.completeWrites(of: 0)
        cluster.drain()
        #expect(cluster.replicas[0].commitLSN == lsn)
        #expect(cluster.commits[0]?.last?.lsn == lsn)
    }

    @Test func aFollowerRefusesAnOlderEpoch() {
        let genesis = ["a", "b", "c"].map { NodeID($0)! }
        var follower = Replication.Replica(me: genesis[1], genesis: genesis)
        let newer = Replication.Epoch(number: 5, node: "c")
        _ = follower.onMessage(.prepare(epoch: newer, replicas: genesis, fromLSN: 0), from: genesis[2])
        let older = Replication.Epoch(number: 4, node: "a")
        let reply = follower.onMessage(
            .append(epoch: older, prevLSN: 0, prevEpoch: .genesis, entries: [], commitLSN: 0),
            from: genesis[0]
        )
        #expect(reply == [.send(.refuse(epoch: older, promised: newer), to: genesis[0])])
    }

    @Test func aReadRoundConfirmsAPrimaryOnlyWhileNoNewerEpochHasAMajority() throws {
        var cluster = Harness(["a", "b", "c"])
        cluster.campaign(0)
        try cluster.propose(1...3, at: 0)
        // A majority answers: the round is confirmed.
        let first = try cluster.startReadRound(at: 0)
        #expect(cluster.readsConfirmed[0] == first)
        // One follower away, the other still answers: a majority with the primary itself.
        cluster.cut = [2]
        let second = try cluster.startReadRound(at: 0)
        #expect(cluster.readsConfirmed[0] == second)
        // a is cut off (stopped, say) while b and c start a newer epoch and commit a write that
        // a never sees.
        cluster.cut = [0]
        cluster.campaign(1, replicas: [cluster.ids[1], cluster.ids[2], cluster.ids[0]])
        #expect(cluster.replicas[1].isPrimary)
        let newer = try cluster.propose([9], at: 1)
        cluster.tick(1)
        #expect(cluster.replicas[1].commitLSN == newer)
        // a still believes it leads, and its state lacks the write.
        #expect(cluster.replicas[0].isPrimary && cluster.replicas[0].commitLSN < newer)
        // Back in touch: its read round is refused (b and c promised the newer epoch), so it is
        // never confirmed, and a steps down instead of answering from its old state.
        cluster.cut = []
        let third = try cluster.startReadRound(at: 0)
        #expect(cluster.readsConfirmed[0] == second && third > second)
        #expect(!cluster.replicas[0].isPrimary)
        #expect(throws: Replication.ProposeError.notPrimary) { try cluster.replicas[0].startReadRound() }
    }

    @Test func aReadRoundLostOnTheWayIsAskedAgainOnTheTick() throws {
        var cluster = Harness(["a", "b", "c"])
        cluster.campaign(0)
        cluster.cut = [1, 2]
        let round = try cluster.startReadRound(at: 0)
        #expect(cluster.readsConfirmed[0] == nil)
        cluster.cut = []
        cluster.tick(0)
        #expect(cluster.readsConfirmed[0] == round)
    }

    @Test func aFollowerBehindTheBaseCatchesUpFromIt() throws {
        var cluster = Harness(["a", "b", "c"])
        cluster.campaign(0)
        cluster.cut = [2]  // c misses everything from here on
        try cluster.propose(1...30, at: 0)
        #expect(cluster.replicas[0].commitLSN == 31)
        cluster.replicas[0].compact(upTo: 31, state: [42])
        #expect(cluster.replicas[0].baseLSN == 31 && cluster.replicas[0].log.isEmpty)
        #expect(
            cluster.replicas[0].latestConfig
                == Replication.Config(epoch: cluster.replicas[0].primaryEpoch!, replicas: cluster.ids)
        )
        cluster.cut = []
        cluster.tick(0)
        // c got the base (state and position) instead of 30 entries it could not be sent.
        #expect(cluster.installed[2]?.lsn == 31)
        #expect(cluster.installed[2]?.state == [42])
        #expect(cluster.replicas[2].baseLSN == 31 && cluster.replicas[2].commitLSN == 31)
        // It then follows with ordinary appends.
        let lsn = try cluster.propose([99], at: 0)
        cluster.tick(0)
        #expect(cluster.replicas[2].entry(at: lsn)?.payload == .command([99]))
        #expect(cluster.replicas[2].commitLSN == lsn)
        // Its durable changes (the installed base among them) rebuild the same state after a restart.
        #expect(cluster.persisted[2] == cluster.replicas[2].durable)
        #expect(
            Replication.Replica(me: cluster.ids[2], genesis: cluster.ids, durable: cluster.persisted[2]).durable
                == cluster.replicas[2].durable
        )
    }

    @Test func aCandidateBehindAPromisersBaseAdoptsIt() throws {
        var cluster = Harness(["a", "b", "c"])
        cluster.campaign(0)
        cluster.cut = [2]
        try cluster.propose(1...10, at: 0)
        cluster.tick(0)
        #expect(cluster.replicas[1].commitLSN == 11)
        cluster.replicas[1].compact(upTo: 11, state: [7, 7])
        cluster.persisted[1] = cluster.replicas[1].durable
        // a is gone; c (which has only the genesis start) runs for the next epoch with b.
        cluster.cut = [0]
        cluster.campaign(2, replicas: [cluster.ids[2], cluster.ids[1]])
        #expect(cluster.replicas[2].isPrimary)
        #expect(cluster.installed[2]?.lsn == 11 && cluster.installed[2]?.state == [7, 7])
        cluster.tick(2)
        #expect(cluster.replicas[2].isServing)
        #expect(cluster.replicas[2].commitLSN == 12)
        // What c persisted (the installed base, then its start entry) rebuilds it.
        #expect(cluster.persisted[2] == cluster.replicas[2].durable)
    }

    @Test func aCandidateThatKeepsLosingKeepsItsHistoryBounded() {
        var cluster = Harness(["a", "b", "c"])
        // Cut off from everyone: every candidacy fails, and a new one starts, 2,000 times.
        cluster.cut = [1, 2]
        for _ in 0..<2000 {
            cluster.campaign(0)
        }
        #expect(
            cluster.replicas[0].history.count == 1,
            "history holds \(cluster.replicas[0].history.count) configurations"
        )
        #expect(cluster.persisted[0] == cluster.replicas[0].durable)
        // Reachable again, it wins; an epoch it did lead stays (a later candidate may need its quorum).
        cluster.cut = []
        cluster.tick(0)
        #expect(cluster.replicas[0].isPrimary)
        let led = cluster.replicas[0].primaryEpoch!
        cluster.deliver(cluster.replicas[0].startCandidacy(replicas: [cluster.ids[0], cluster.ids[1]]), from: 0)
        #expect(cluster.replicas[0].history.contains { $0.epoch == led } || cluster.replicas[0].committedStart >= led)
    }
}

/// A few replicas exchanging messages in order, with a cut (nodes whose messages are dropped),
/// persisting every durable change at once (and reporting it) and recording commits and installs.
struct Harness {
    let ids: [NodeID]
    var replicas: [Replication.Replica]
    var persisted: [Replication.Replica.Durable]
    var inbox: [(Replication.Message, from: NodeID, to: Int)] = []
    var commits: [Int: [Replication.Entry]] = [:]
    var installed: [Int: Replication.Base] = [:]
    var cut: Set<Int> = []
    /// The last read round confirmed at each node.
    var readsConfirmed: [Int: UInt64] = [:]

    /// `index` starts a read round and the messages settle; returns the round.
    mutating func startReadRound(at index: Int) throws -> UInt64 {
        let (round, directives) = try replicas[index].startReadRound()
        deliver(directives, from: index)
        drain()
        return round
    }

    init(_ names: [String]) {
        let ids = names.map { NodeID($0)! }
        self.ids = ids
        replicas = ids.map { Replication.Replica(me: $0, genesis: ids) }
        persisted = ids.map { _ in Replication.Replica.Durable() }
    }

    /// Nodes whose writes do not complete until ``completeWrites(of:)`` (their messages still leave).
    var slowWriters: Set<Int> = []
    var unwritten: [Int: [Replication.Replica.DurableChange]] = [:]

    mutating func deliver(_ directives: [Replication.Directive], from index: Int) {
        let changes = replicas[index].takeDurableChanges()
        let slow = slowWriters.contains(index)
        if slow {
            unwritten[index, default: []] += changes
        } else {
            for change in changes { persisted[index].apply(change) }
        }
        for directive in directives {
            switch directive {
            case .send(let message, let to): inbox.append((message, replicas[index].me, ids.firstIndex(of: to)!))
            case .commit(let entries): commits[index, default: []] += entries
            case .installed(let base): installed[index] = base
            case .readConfirmed(_, let round): readsConfirmed[index] = round
            default: break
            }
        }
        // Written: the replica learns that its whole log is durable.
        if !changes.isEmpty && !slow {
            deliver(replicas[index].onPersisted(upTo: replicas[index].lastLSN), from: index)
        }
    }

    mutating func completeWrites(of index: Int) {
        slowWriters.remove(index)
        for change in unwritten.removeValue(forKey: index) ?? [] { persisted[index].apply(change) }
        deliver(replicas[index].onPersisted(upTo: replicas[index].lastLSN), from: index)
    }

    /// `index` runs for primary of `replicas` (all the nodes by default), and the messages settle.
    mutating func campaign(_ index: Int, replicas set: [NodeID]? = nil) {
        deliver(replicas[index].startCandidacy(replicas: set ?? ids), from: index)
        drain()
    }

    /// `index` proposes each value (as one byte) and the messages settle after each.
    mutating func propose(_ values: ClosedRange<Int>, at index: Int) throws {
        for value in values { try propose([UInt8(value)], at: index) }
    }

    @discardableResult
    mutating func propose(_ command: [UInt8], at index: Int) throws -> UInt64 {
        let (lsn, directives) = try replicas[index].propose(command)
        deliver(directives, from: index)
        drain()
        return lsn
    }

    mutating func tick(_ index: Int) {
        deliver(replicas[index].onTick(), from: index)
        drain()
    }

    mutating func drain() {
        while !inbox.isEmpty {
            let (message, from, to) = inbox.removeFirst()
            if cut.contains(to) || cut.contains(ids.firstIndex(of: from)!) { continue }
            deliver(replicas[to].onMessage(message, from: from), from: to)
        }
    }
}
