import ClusterCore
import ClusterTestKit
import Foundation
import Testing

/// Seeded chaos runs of the replication protocol. Each run prints its seed on failure;
/// `PLUME_REPLICATION_RUNS` raises the number of runs (and `PLUME_REPLICATION_SEED` replays one).
@Suite struct ReplicationSimulationTests {
    static var runs: Int { Int(ProcessInfo.processInfo.environment["PLUME_REPLICATION_RUNS"] ?? "") ?? 1000 }

    @Test func noAcknowledgedWriteIsLostAndCommittedPrefixesNeverDiverge() throws {
        let seeds: [UInt64] =
            if let one = ProcessInfo.processInfo.environment["PLUME_REPLICATION_SEED"].flatMap(UInt64.init) {
                [one]
            } else {
                (0..<UInt64(Self.runs)).map { 0xC0FFEE &+ $0 &* 7919 }
            }
        var acknowledged = 0
        var installs = 0
        for seed in seeds {
            let simulation = ReplicationSimulation(seed: seed)
            do {
                try simulation.run(chaos: .seconds(2))
            } catch {
                Issue.record("\(error) — replay with PLUME_REPLICATION_SEED=\(seed)")
                return
            }
            acknowledged += simulation.acknowledged.count
            installs += simulation.installs
        }
        print("replication simulation: \(seeds.count) runs, \(acknowledged) writes acknowledged, \(installs) snapshot installs")
        // The runs did real work: writes were acknowledged despite the nemesis.
        #expect(acknowledged > seeds.count * 10, "only \(acknowledged) writes acknowledged in \(seeds.count) runs")
        // Lagging replicas and candidates caught up from compacted bases, not only by log shipping.
        if seeds.count >= 100 { #expect(installs > 0, "no run installed a base") }
    }

    @Test func aStablePrimaryCommitsEveryProposal() throws {
        var replicas = ["a", "b", "c"].map { Replication.Replica(me: NodeID($0)!, genesis: ["a", "b", "c"].map { NodeID($0)! }) }
        var inbox: [(Replication.Message, from: NodeID, to: Int)] = []
        var commits: [Int: [Replication.Entry]] = [:]
        func deliver(_ directives: [Replication.Directive], from index: Int) {
            for directive in directives {
                switch directive {
                case .send(let message, let to): inbox.append((message, replicas[index].me, ["a", "b", "c"].firstIndex(of: to.rawValue)!))
                case .commit(let entries): commits[index, default: []] += entries
                default: break
                }
            }
        }
        deliver(replicas[0].startCandidacy(replicas: replicas.map(\.me)), from: 0)
        func drain() {
            while !inbox.isEmpty {
                let (message, from, to) = inbox.removeFirst()
                deliver(replicas[to].onMessage(message, from: from), from: to)
            }
        }
        drain()
        #expect(replicas[0].isPrimary)
        for value in 1...20 {
            let (_, directives) = try replicas[0].propose([UInt8(value)])
            deliver(directives, from: 0)
            drain()
        }
        deliver(replicas[0].onTick(), from: 0)
        drain()
        // Start entry + 20 commands, committed on the primary and applied in order by the followers.
        #expect(replicas[0].commitLSN == 21)
        #expect(commits[0]?.count == 21)
        for index in 1...2 {
            #expect(replicas[index].log == replicas[0].log)
            #expect(commits[index]?.map(\.lsn) == Array(1...21))
        }
    }

    @Test func aFollowerRefusesAnOlderEpoch() {
        let genesis = ["a", "b", "c"].map { NodeID($0)! }
        var follower = Replication.Replica(me: genesis[1], genesis: genesis)
        let newer = Replication.Epoch(number: 5, node: "c")
        _ = follower.onMessage(.prepare(epoch: newer, replicas: genesis, fromLSN: 0), from: genesis[2])
        let older = Replication.Epoch(number: 4, node: "a")
        let reply = follower.onMessage(.append(epoch: older, prevLSN: 0, prevEpoch: .genesis, entries: [], commitLSN: 0), from: genesis[0])
        #expect(reply == [.send(.refuse(epoch: older, promised: newer), to: genesis[0])])
    }

    @Test func aFollowerBehindTheBaseCatchesUpFromIt() throws {
        let ids = ["a", "b", "c"].map { NodeID($0)! }
        var replicas = ids.map { Replication.Replica(me: $0, genesis: ids) }
        var persisted = ids.map { _ in Replication.Replica.Durable() }
        var inbox: [(Replication.Message, from: NodeID, to: Int)] = []
        var installed: [Int: Replication.Base] = [:]
        var cut: Set<Int> = []
        func deliver(_ directives: [Replication.Directive], from index: Int) {
            for change in replicas[index].takeDurableChanges() { persisted[index].apply(change) }
            for directive in directives {
                switch directive {
                case .send(let message, let to): inbox.append((message, replicas[index].me, ids.firstIndex(of: to)!))
                case .installed(let base): installed[index] = base
                default: break
                }
            }
        }
        func drain() {
            while !inbox.isEmpty {
                let (message, from, to) = inbox.removeFirst()
                if cut.contains(to) || cut.contains(ids.firstIndex(of: from)!) { continue }
                deliver(replicas[to].onMessage(message, from: from), from: to)
            }
        }
        deliver(replicas[0].startCandidacy(replicas: ids), from: 0)
        drain()
        cut = [2]  // c misses everything from here on
        for value in 1...30 {
            deliver(try replicas[0].propose([UInt8(value)]).directives, from: 0)
            drain()
        }
        #expect(replicas[0].commitLSN == 31)
        replicas[0].compact(upTo: 31, state: [42])
        #expect(replicas[0].baseLSN == 31 && replicas[0].log.isEmpty)
        #expect(replicas[0].latestConfig == Replication.Config(epoch: replicas[0].primaryEpoch!, replicas: ids))
        cut = []
        deliver(replicas[0].onTick(), from: 0)
        drain()
        // c got the base (state and position) instead of 30 entries it could not be sent.
        #expect(installed[2]?.lsn == 31)
        #expect(installed[2]?.state == [42])
        #expect(replicas[2].baseLSN == 31 && replicas[2].commitLSN == 31)
        // It then follows with ordinary appends.
        let (lsn, directives) = try replicas[0].propose([99])
        deliver(directives, from: 0)
        drain()
        deliver(replicas[0].onTick(), from: 0)
        drain()
        #expect(replicas[2].entry(at: lsn)?.payload == .command([99]))
        #expect(replicas[2].commitLSN == lsn)
        // Its durable changes (the installed base among them) rebuild the same state after a restart.
        #expect(persisted[2] == replicas[2].durable)
        #expect(Replication.Replica(me: ids[2], genesis: ids, durable: persisted[2]).durable == replicas[2].durable)
    }

    @Test func aCandidateBehindAPromisersBaseAdoptsIt() throws {
        let ids = ["a", "b", "c"].map { NodeID($0)! }
        var replicas = ids.map { Replication.Replica(me: $0, genesis: ids) }
        var persisted = ids.map { _ in Replication.Replica.Durable() }
        var inbox: [(Replication.Message, from: NodeID, to: Int)] = []
        var installed: [Int: Replication.Base] = [:]
        var cut: Set<Int> = []
        func deliver(_ directives: [Replication.Directive], from index: Int) {
            for change in replicas[index].takeDurableChanges() { persisted[index].apply(change) }
            for directive in directives {
                switch directive {
                case .send(let message, let to): inbox.append((message, replicas[index].me, ids.firstIndex(of: to)!))
                case .installed(let base): installed[index] = base
                default: break
                }
            }
        }
        func drain() {
            while !inbox.isEmpty {
                let (message, from, to) = inbox.removeFirst()
                if cut.contains(to) || cut.contains(ids.firstIndex(of: from)!) { continue }
                deliver(replicas[to].onMessage(message, from: from), from: to)
            }
        }
        deliver(replicas[0].startCandidacy(replicas: ids), from: 0)
        drain()
        cut = [2]
        for value in 1...10 {
            deliver(try replicas[0].propose([UInt8(value)]).directives, from: 0)
            drain()
        }
        deliver(replicas[0].onTick(), from: 0)
        drain()
        #expect(replicas[1].commitLSN == 11)
        replicas[1].compact(upTo: 11, state: [7, 7])
        persisted[1] = replicas[1].durable
        // a is gone; c (which has only the genesis start) runs for the next epoch with b.
        cut = [0]
        deliver(replicas[2].startCandidacy(replicas: [ids[2], ids[1]]), from: 2)
        drain()
        #expect(replicas[2].isPrimary)
        #expect(installed[2]?.lsn == 11 && installed[2]?.state == [7, 7])
        deliver(replicas[2].onTick(), from: 2)
        drain()
        #expect(replicas[2].isServing)
        #expect(replicas[2].commitLSN == 12)
        // What c persisted (the installed base, then its start entry) rebuilds it.
        #expect(persisted[2] == replicas[2].durable)
    }

    @Test func aCandidateThatKeepsLosingKeepsItsHistoryBounded() {
        let ids = ["a", "b", "c"].map { NodeID($0)! }
        var lonely = Replication.Replica(me: ids[0], genesis: ids)
        var persisted = Replication.Replica.Durable()
        // Cut off from everyone: every candidacy fails, and a new one starts, 2,000 times.
        for _ in 0..<2000 {
            _ = lonely.startCandidacy(replicas: ids)
            for change in lonely.takeDurableChanges() { persisted.apply(change) }
        }
        #expect(lonely.history.count == 1, "history holds \(lonely.history.count) configurations")
        #expect(persisted == lonely.durable)
        // An epoch it did lead stays: a later candidate may need that configuration's quorum.
        var inbox: [(Replication.Message, from: NodeID, to: Int)] = []
        var replicas = [lonely] + ids.dropFirst().map { Replication.Replica(me: $0, genesis: ids) }
        func deliver(_ directives: [Replication.Directive], from index: Int) {
            for case .send(let message, let to) in directives { inbox.append((message, replicas[index].me, ids.firstIndex(of: to)!)) }
        }
        deliver(replicas[0].onTick(), from: 0)
        while !inbox.isEmpty {
            let (message, from, to) = inbox.removeFirst()
            deliver(replicas[to].onMessage(message, from: from), from: to)
        }
        #expect(replicas[0].isPrimary)
        let led = replicas[0].primaryEpoch!
        _ = replicas[0].startCandidacy(replicas: [ids[0], ids[1]])
        #expect(replicas[0].history.contains { $0.epoch == led } || replicas[0].committedStart >= led)
    }
}
