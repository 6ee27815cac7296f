import ArgumentParser
import ClusterCore
import ClusterRuntime
import Foundation
import GameDomain
import Logging
import NIOPosix
import Persistence
import PlatformServices
import ServiceLifecycle
import WireProtocol

/// `plume bench recovery`: restart-to-ready time of a standalone node whose storage holds many
/// entities. The storage is written in the node's own format (replicated-log entries through
/// `Replication.Replica`, persisted as its durable changes), then a node is started on it and
/// timed until it serves every shard.
struct RecoveryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery",
        abstract: "Restart-to-ready time with many entities in storage."
    )

    @Option(help: "Users created.")
    var entities = 1_000_000

    @Option(help: "Profile updates after the creations.")
    var updates = 100_000

    func validate() throws {
        guard (1...10_000_000).contains(entities), (0...10_000_000).contains(updates) else {
            throw ValidationError("--entities 1...10,000,000, --updates 0...10,000,000")
        }
    }

    func run() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("plume-recovery-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var configuration = ClusterConfiguration.standalone
        configuration.name = "recovery-bench"
        let me = configuration.nodes[0].id
        let shards = configuration.shards

        let writeStart = ContinuousClock.now
        let storage = try Storage.open(directory: root, restore: { _ in }, apply: { _ in })
        var replicas = (0..<shards).map { _ in Replication.Replica(me: me, genesis: [me]) }
        var pending: [WALRecord] = []
        func persist(_ shard: Int) {
            for change in replicas[shard].takeDurableChanges() {
                let (type, payload) = Wire.DurableRecord.encode(change)
                pending.append(WALRecord(shard: UInt32(shard), epoch: 1, lsn: 0, type: type, payload: payload))
            }
        }
        for shard in 0..<shards {
            _ = replicas[shard].startCandidacy(replicas: [me])
            persist(shard)
        }
        var perShard = [Int](repeating: 0, count: shards)
        func propose(_ key: String, _ events: EntityCodec.Events) async throws {
            let shard = Placement.shard(forKey: key, shardCount: shards)
            _ = try replicas[shard].propose(EntityCodec.encodeRecord(key: key, events: events))
            perShard[shard] += 1
            if perShard[shard] % 256 == 0 { persist(shard) }
            if pending.count >= 4096 {
                try await storage.log.append(pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        for index in 0..<entities {
            let id = "u\(index)"
            try await propose(
                EntityKey.user(id),
                .user([.created(id: id, username: "player\(index)", email: "player\(index)@example.com", passwordHash: "scrypt$1024$8$1$c2FsdA==$aGFzaA==", at: 1_795_000_000)])
            )
        }
        for index in 0..<updates {
            let id = "u\(index % entities)"
            try await propose(EntityKey.user(id), .user([.profileUpdated(User.Profile(displayName: "Player \(index)", bio: "update \(index)"))]))
        }
        for shard in 0..<shards { persist(shard) }
        try await storage.log.append(pending)
        let written = ContinuousClock.now - writeStart
        let walBytes = (try? FileManager.default.contentsOfDirectory(atPath: root + "/wal"))?.count ?? 0

        var logger = Logger(label: "plume.bench")
        logger.logLevel = .error
        var settings = NodeSettings(
            configuration: configuration,
            nodeID: me,
            clusterAddress: NodeAddress(host: "127.0.0.1", port: try await freePort()),
            httpAddress: NodeAddress(host: "127.0.0.1", port: 1),
            seeds: []
        )
        settings.dataDirectory = root
        let start = ContinuousClock.now
        let node = try ClusterNode(settings: settings, logger: logger) { _ in EntityStore() }
        let recovered = ContinuousClock.now - start
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [node], logger: logger))
        let task = Task { try await group.run() }
        while await node.replication.servedShards < shards {
            try await Task.sleep(for: .milliseconds(5))
        }
        let ready = ContinuousClock.now - start
        print("plume bench recovery: \(entities) users created + \(updates) profile updates in \(shards) shards (written in \(written), \(walBytes) WAL segment(s))")
        print("storage recovered (WAL replayed, state rebuilt) in \(recovered); ready (every shard led and serving) after \(ready)")
        print("records replayed: \(node.recovery.recordsReplayed); no snapshots are taken yet, so this is a full replay")
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    private func freePort() async throws -> Int {
        let channel = try await NIOPosix.ServerBootstrap(group: NIOPosix.MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }
}
