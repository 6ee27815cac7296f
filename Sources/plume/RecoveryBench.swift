import ArgumentParser
import ClusterCore
import ClusterRuntime
import ClusterTestKit
import EntityRuntime
import Foundation
import GameDomain
import Logging
import NIOPosix
import Persistence
import PlatformServices
import ServiceLifecycle
import WireProtocol

/// `plume bench recovery`: restart-to-ready time of a standalone node whose storage holds many
/// entities as a snapshot plus a WAL tail.
///
/// 1. The creations are written in the node's own WAL format (replicated-log entries through
///    `Replication.Replica`, persisted as its durable changes) — fast, no node needed.
/// 2. A node starts on that WAL (a full replay, timed too), checkpoints (snapshots every shard,
///    deletes the WAL), then takes the updates through replication, and stops without a
///    shutdown checkpoint: the updates stay a WAL tail.
/// 3. A node starts on the result and is timed until it serves every shard.
struct RecoveryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery",
        abstract: "Restart-to-ready time with many entities in storage (snapshot + WAL tail)."
    )

    @Option(help: "Users created.")
    var entities = 1_000_000

    @Option(help: "Profile updates after the checkpoint (the WAL tail replayed at restart).")
    var updates = 100_000

    func validate() throws {
        guard (1...10_000_000).contains(entities), (0...10_000_000).contains(updates) else {
            throw ValidationError("--entities 1...10,000,000, --updates 0...10,000,000")
        }
    }

    func run() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("plume-recovery-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var configuration = ClusterConfiguration.standalone
        configuration.name = "recovery-bench"
        let me = configuration.nodes[0].id
        let shards = configuration.shards

        let writeStart = ContinuousClock.now
        try await writeCreations(root: root, me: me, shards: shards)
        let written = ContinuousClock.now - writeStart
        print("plume bench recovery: \(entities) users in \(shards) shards written to the WAL in \(written)")

        // A node replays them all, checkpoints, and takes the updates as a WAL tail.
        var settings = try await nodeSettings(configuration, root: root)
        settings.checkpointAtShutdown = false
        let (first, replayed) = try await startUntilReady(settings)
        print("full WAL replay: \(first.node.recovery.recordsReplayed) records, ready after \(replayed)")
        let checkpointStart = ContinuousClock.now
        let report = try await first.node.replication.checkpoint()
        print(
            "checkpoint: \(report?.snapshotsWritten ?? 0) shard snapshots, \(report?.segmentsRemoved ?? 0) WAL segment(s) deleted, in \(ContinuousClock.now - checkpointStart)"
        )
        let updateStart = ContinuousClock.now
        try await propose(updates: updates, shards: shards, through: first.node.replication)
        print("\(updates) profile updates replicated in \(ContinuousClock.now - updateStart)")
        await first.group.triggerGracefulShutdown()
        _ = try? await first.task.value

        let snapshotBytes = directoryBytes(root + "/snapshots")
        let walFiles = (try? FileManager.default.contentsOfDirectory(atPath: root + "/wal"))?.count ?? 0
        let (second, ready) = try await startUntilReady(settings)
        print(
            "restart: \(second.node.recovery.snapshotsLoaded) snapshots (\(snapshotBytes / 1_048_576) MiB zstd) + \(second.node.recovery.recordsReplayed) WAL records (\(walFiles) segment file(s)) recovered in \(second.recovered) → ready (every shard led and serving) after \(ready)"
        )
        await second.group.triggerGracefulShutdown()
        _ = try? await second.task.value
    }

    /// Writes the user creations as a standalone node's replication records.
    private func writeCreations(root: String, me: NodeID, shards: Int) async throws {
        let storage = try Storage.open(directory: root, restore: { _ in }, apply: { _ in })
        var replicas = (0..<shards).map { _ in Replication.Replica(me: me, genesis: [me]) }
        var pending: [WALRecord] = []
        func persist(_ shard: Int) {
            func take() {
                for change in replicas[shard].takeDurableChanges() {
                    let (type, payload) = Wire.DurableRecord.encode(change)
                    pending.append(WALRecord(shard: UInt32(shard), epoch: 1, lsn: 0, type: type, payload: payload))
                }
            }
            take()
            // The sole replica commits what it holds once it is written; the commit position
            // follows the entries in the log (all of it is on disk before any node reads it).
            _ = replicas[shard].onPersisted(upTo: replicas[shard].lastLSN)
            take()
        }
        for shard in 0..<shards {
            _ = replicas[shard].startCandidacy(replicas: [me])
            persist(shard)
        }
        var perShard = [Int](repeating: 0, count: shards)
        for index in 0..<entities {
            let id = "u\(index)"
            let key = UserKind.key(id)
            let shard = Placement.shard(forKey: key, shardCount: shards)
            let event = User.Event.created(
                id: id,
                username: "player\(index)",
                email: "player\(index)@example.com",
                passwordHash: "scrypt$1024$8$1$c2FsdA==$aGFzaA==",
                at: 1_795_000_000
            )
            _ = try replicas[shard].propose(EntityRecord.encode(UserKind.self, key: key, events: [event]))
            perShard[shard] += 1
            if perShard[shard] % 256 == 0 { persist(shard) }
            if pending.count >= 4096 {
                try await storage.log.append(pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        for shard in 0..<shards { persist(shard) }
        try await storage.log.append(pending)
    }

    /// Profile updates through the node's replication, 256 at a time.
    private func propose(updates: Int, shards: Int, through host: ReplicationHost<EntityStore>) async throws {
        let entities = self.entities
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<256 {
                group.addTask {
                    var index = worker
                    while index < updates {
                        let key = UserKind.key("u\(index % entities)")
                        let shard = UInt32(Placement.shard(forKey: key, shardCount: shards))
                        let event = User.Event.profileUpdated(
                            User.Profile(displayName: "Player \(index)", bio: "update \(index)")
                        )
                        _ = try await host.propose(
                            shard: shard,
                            EntityRecord.encode(UserKind.self, key: key, events: [event])
                        )
                        index += 256
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private func nodeSettings(_ configuration: ClusterConfiguration, root: String) async throws -> NodeSettings {
        var settings = NodeSettings(
            configuration: configuration,
            nodeID: configuration.nodes[0].id,
            clusterAddress: NodeAddress(host: "127.0.0.1", port: LoopbackPorts.reserve(1)[0]),
            httpAddress: NodeAddress(host: "127.0.0.1", port: 1),
            seeds: []
        )
        settings.dataDirectory = root
        return settings
    }

    private struct Running {
        let node: ClusterNode<EntityStore>
        /// Opening storage and rebuilding every shard's state (before the node starts serving).
        let recovered: Duration
        let group: ServiceGroup
        let task: Task<Void, any Error>
    }

    /// Starts a node and returns once it serves every shard, with the time that took.
    private func startUntilReady(_ settings: NodeSettings) async throws -> (Running, Duration) {
        var logger = Logger(label: "plume.bench")
        logger.logLevel = .error
        let start = ContinuousClock.now
        let node = try ClusterNode(settings: settings, logger: logger) { _ in
            EntityStore(registry: PlatformKinds.registry)
        }
        let recovered = ContinuousClock.now - start
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [node], logger: logger))
        let task = Task { try await group.run() }
        while await node.replication.servedShards < settings.configuration.shards {
            try await Task.sleep(for: .milliseconds(5))
        }
        return (Running(node: node, recovered: recovered, group: group, task: task), ContinuousClock.now - start)
    }

    private func directoryBytes(_ path: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: path + "/" + name)[.size] as? Int) ?? 0)
        }
    }
}
