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
        for seed in seeds {
            let simulation = ReplicationSimulation(seed: seed)
            do {
                try simulation.run(chaos: .seconds(2))
            } catch {
                Issue.record("\(error) — replay with PLUME_REPLICATION_SEED=\(seed)")
                return
            }
            acknowledged += simulation.acknowledged.count
        }
        // The runs did real work: writes were acknowledged despite the nemesis.
        #expect(acknowledged > seeds.count * 10, "only \(acknowledged) writes acknowledged in \(seeds.count) runs")
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
}
