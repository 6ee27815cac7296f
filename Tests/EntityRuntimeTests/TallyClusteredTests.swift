import ClusterCore
import ClusterRuntime
import ClusterTestKit
import EntityRuntime
import Foundation
import Testing
import WireProtocol

/// A kind registered only in these tests (``TallyKind``) goes through every part of the runtime —
/// the WAL, checkpoints, restore, passivation, a 3-node replicated cluster — and no runtime file
/// names it. Its soft twin (``SoftTallyKind``) lives in the primary's memory only.
@Suite(.serialized) struct TallyClusteredTests {
    static func total(_ entities: Entities, _ id: String) async throws -> Int64 {
        try await entities.ref(TallyKind.self, id).read(.total).total
    }

    @Test(.timeLimit(.minutes(2)))
    func aTestKindGoesThroughTheLogCheckpointsRestoreAndPassivation() async throws {
        try await TallyNode.withDirectory("plume-tally") { root in
            let configuration = TallyNode.standalone(root: root)
            let entry = configuration.nodes[0]
            var expected: [String: Int64] = [:]
            do {
                let running = try TallyNode.start(entry, of: configuration, checkpointAtShutdown: false)
                try await TallyNode.waitUntilServing([running], shards: configuration.shards)
                let entities = running.entities
                let first = try await entities.ref(TallyKind.self, "a").ask(.add(5, by: "ada"))
                #expect(first.total == 5 && first.lastBy == "ada")
                #expect(try await entities.ref(TallyKind.self, "a").ask(.add(7, by: "bob")).total == 12)
                expected["a"] = 12
                // The kind's typed failure comes back as such, and nothing is written.
                let refused = await failure(TallyKind.self) { () throws(EntityFailure<Tally.Failure>) in
                    _ = try await entities.ref(TallyKind.self, "a").ask(.add(-1, by: "eve"))
                }
                guard case .domain(.notPositive(-1))? = refused else {
                    Issue.record("expected notPositive(-1), got \(String(describing: refused))")
                    return
                }
                for index in 0..<40 {
                    _ = try await entities.ref(TallyKind.self, "t\(index)").ask(.add(Int64(index + 1), by: "p"))
                }
                for index in 0..<40 { expected["t\(index)"] = Int64(index + 1) }

                // A checkpoint writes the tallies into snapshots; later writes are in the WAL only.
                let report = try #require(try await running.node.replication.checkpoint())
                #expect(report.snapshotsWritten == configuration.shards)
                for index in 0..<10 {
                    expected["t\(index)"] = try await entities.ref(TallyKind.self, "t\(index)").ask(.add(100, by: "q"))
                        .total
                }
                #expect(expected["t3"] == 104)

                // Passivated (encoded into the arena) they read the same, and wake on the next write.
                await running.node.replication.passivateIdle(now: .now + .seconds(3600))
                #expect(await running.node.replication.entitiesPassivated >= 41)
                for (id, total) in expected { #expect(try await Self.total(entities, id) == total, "\(id)") }
                expected["a"] = try await entities.ref(TallyKind.self, "a").ask(.add(1, by: "ada")).total
                #expect(expected["a"] == 13)

                // The soft twin answers from memory.
                #expect(try await entities.ref(SoftTallyKind.self, "s").ask(.add(3, by: "ada")).total == 3)
                #expect(try await entities.ref(SoftTallyKind.self, "s").read(.total).total == 3)
                try await running.stop()
            }
            // Restarted from its snapshots and the WAL after them: every acknowledged write is
            // there; the soft tally starts over (its owners would rebuild it).
            let restarted = try TallyNode.start(entry, of: configuration)
            try await TallyNode.waitUntilServing([restarted], shards: configuration.shards)
            for (id, total) in expected { #expect(try await Self.total(restarted.entities, id) == total, "\(id)") }
            #expect(try await restarted.entities.ref(SoftTallyKind.self, "s").read(.total).total == 0)
            try await restarted.stop()
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aTestKindReplicatesAcrossThreeNodesOfDifferentMinorVersions() async throws {
        try await TallyNode.withDirectory("plume-tally3") { root in
            var configuration = ClusterConfiguration()
            configuration.name = "tally-test"
            configuration.shards = 16
            configuration.replication = 3
            configuration.dataDirectory = root
            configuration.nodes = LoopbackPorts.nodes(3)
            // A rolling upgrade in progress: one major wire version, three minor ones.
            var nodes: [TallyNode] = []
            for (index, entry) in configuration.nodes.enumerated() {
                nodes.append(try TallyNode.start(entry, of: configuration, wireVersionMinor: UInt8(index)))
            }
            try await TallyNode.waitUntilStable(nodes, shards: configuration.shards)
            // Each write goes in through a node in turn: most are forwarded to their primary.
            for index in 0..<30 {
                let entities = nodes[index % 3].entities
                _ = try await TallyNode.addOnce(Int64(index + 1), to: "r\(index)", by: "n\(index % 3)", via: entities)
                _ = try await TallyNode.addOnce(1000, to: "r\(index)", by: "n\(index % 3)", via: entities)
            }
            for running in nodes {
                for index in 0..<30 {
                    let state = try await TallyNode.read("r\(index)", via: running.entities)
                    #expect(
                        state.total == Int64(index + 1001) && state.additions == 2,
                        "r\(index) via \(running.node.settings.nodeID)"
                    )
                }
            }
            // A node leaves: the others take its shards over with every acknowledged write.
            try await nodes[0].stop()
            try await TallyNode.waitUntilStable(Array(nodes[1...]), shards: configuration.shards)
            for index in 0..<30 {
                let state = try await TallyNode.addOnce(1, to: "r\(index)", by: "late", via: nodes[1 + index % 2].entities)
                #expect(state.total == Int64(index + 1002), "r\(index)")
            }
            try await nodes[1].stop()
            try await nodes[2].stop()
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aReplicaStopsAtARecordItCannotDecodeAndNeverSkipsIt() async throws {
        try await TallyNode.withDirectory("plume-tally-newer") { root in
            let configuration = TallyNode.standalone(root: root)
            let entry = configuration.nodes[0]
            let key = TallyKind.key("x")
            let shard = UInt32(Placement.shard(forKey: key, shardCount: configuration.shards))
            do {
                let running = try TallyNode.start(entry, of: configuration)
                try await TallyNode.waitUntilServing([running], shards: configuration.shards)
                #expect(try await running.entities.ref(TallyKind.self, "x").ask(.add(2, by: "ada")).total == 2)
                // A record as a newer node would write it: a kind this node does not know.
                let newer = EntityRecord(kind: 999, key: key, events: [[0x0A, 0x00]]).encoded
                // It commits, but this node cannot apply it: its proposer hears so.
                await #expect(throws: ReplicationError.stalled(shard: shard)) {
                    _ = try await running.node.replication.propose(shard: shard, newer)
                }
                #expect(await running.node.replication.stalledReason(shard: shard) != nil)
                #expect(!running.node.replication.serves(shard: shard))
                // The shard is refused (not answered from a state that lacks the record) …
                let refused = await failure(TallyKind.self) { () throws(EntityFailure<Tally.Failure>) in
                    _ = try await running.entities.ref(TallyKind.self, "x").read(.total)
                }
                guard case .cluster(let cluster)? = refused else {
                    Issue.record("expected a cluster failure, got \(String(describing: refused))")
                    return
                }
                #expect(cluster.kind == .unavailable)
                // … while the other shards serve on.
                let other = try #require(
                    (0..<100).lazy.map { "o\($0)" }.first {
                        Placement.shard(forKey: TallyKind.key($0), shardCount: configuration.shards) != Int(shard)
                    }
                )
                #expect(try await running.entities.ref(TallyKind.self, other).ask(.add(1, by: "ada")).total == 1)
                try await running.stop()
            }
            // Restarted, it meets the record again and stops there again: never skipped.
            let restarted = try TallyNode.start(entry, of: configuration)
            let host = restarted.node.replication
            #expect(
                await eventually {
                    (0..<UInt32(configuration.shards)).count { host.serves(shard: $0) } == configuration.shards - 1
                }
            )
            #expect(!host.serves(shard: shard))
            #expect(await restarted.node.replication.stalledReason(shard: shard) != nil)
            try await restarted.stop()
        }
    }
}
