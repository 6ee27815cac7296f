import ClusterCore
import ClusterRuntime
import ClusterTestKit
import EntityRuntime
import Foundation
import Logging
import ServiceLifecycle
import Testing
import WireProtocol

/// A node of an in-process test cluster serving the test kinds (``TallyKinds``) and nothing else.
struct TallyNode {
    let node: ClusterNode<EntityStore>
    let service: EntityService
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// The cluster's entities as this node reaches them (generous deadlines for a loaded machine).
    var entities: Entities { Entities(NodeEntityTransport(node: node, local: service, timeout: .seconds(20))) }

    static func start(
        _ entry: ClusterConfiguration.NodeEntry,
        of configuration: ClusterConfiguration,
        wireVersionMinor: UInt8 = Wire.versionMinor,
        checkpointAtShutdown: Bool = true
    ) throws -> TallyNode {
        var settings = NodeSettings(listed: entry, of: configuration)
        settings.transport.backoffMax = .milliseconds(300)
        settings.wireVersionMinor = wireVersionMinor
        settings.checkpointAtShutdown = checkpointAtShutdown
        var logger = Logger(label: "test.\(entry.id)")
        logger.logLevel = .critical
        let node = try ClusterNode(settings: settings, logger: logger) { _ in EntityStore(registry: TallyKinds.registry)
        }
        let service = EntityService(
            host: node.replication,
            registry: TallyKinds.registry,
            clock: { Date().timeIntervalSince1970 }
        )
        node.setEntityHandler(service)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [node], logger: logger))
        return TallyNode(node: node, service: service, group: group, task: Task { try await group.run() })
    }

    /// Waits (bounded) until the nodes together serve every shard.
    static func waitUntilServing(_ nodes: [TallyNode], shards: Int) async throws {
        let served = await eventually(timeout: .seconds(60)) {
            var total = 0
            for running in nodes { total += await running.node.replication.servedShards }
            return total == shards
        }
        try #require(served, "the nodes never served all \(shards) shards")
    }

    /// Waits (bounded) until the nodes agree: each is joined and sees exactly these nodes alive,
    /// all derive the same primaries, and every shard is served by its designated primary — so
    /// no leadership moves under the writes that follow (a write whose primary changes before it
    /// commits has an unknown outcome, and a tally's additions cannot simply be sent again).
    static func waitUntilStable(_ nodes: [TallyNode], shards: Int) async throws {
        let ids = Set(nodes.map { $0.node.settings.nodeID })
        let stable = await eventually(timeout: .seconds(60)) {
            let views = nodes.map { $0.node.view }
            guard
                views.allSatisfy({ view in
                    view.isJoined && Set(view.members.filter { $0.status == .alive }.map(\.id)) == ids
                })
            else { return false }
            let primaries = views[0].shards.entries.map(\.primary)
            guard primaries.count == shards, views.allSatisfy({ $0.shards.entries.map(\.primary) == primaries }) else {
                return false
            }
            return primaries.enumerated().allSatisfy { shard, primary in
                nodes.first { $0.node.settings.nodeID == primary }?.node.replication.serves(shard: UInt32(shard)) ?? false
            }
        }
        try #require(stable, "the nodes never agreed on a stable placement")
    }

    /// Reads a tally, again after a cluster failure (a read may be sent any number of times).
    /// Bounded: 10 attempts.
    static func read(_ id: String, via entities: Entities) async throws -> Tally.State {
        for attempt in 1...10 {
            do {
                return try await entities.ref(TallyKind.self, id).read(.total)
            } catch {
                guard case .cluster = error, attempt < 10 else { throw error }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        throw ClusterFailure(kind: .unavailable, message: "unreachable")
    }

    /// Adds to a tally exactly once, on a loaded machine too: after a cluster failure (the
    /// primary may have changed before the write committed: its outcome is unknown) it reads the
    /// tally and sends the addition again only if it did not land. Bounded: 5 attempts.
    static func addOnce(_ amount: Int64, to id: String, by: String, via entities: Entities) async throws -> Tally.State {
        let before = try await read(id, via: entities).additions
        for attempt in 1...5 {
            do {
                return try await entities.ref(TallyKind.self, id).ask(.add(amount, by: by))
            } catch {
                guard case .cluster = error, attempt < 5 else { throw error }
                try await Task.sleep(for: .milliseconds(200))
                let now = try await read(id, via: entities)
                if now.additions > before { return now }
            }
        }
        throw ClusterFailure(kind: .unavailable, message: "unreachable")
    }

    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// A temporary directory for a test's nodes, removed after `body`.
    static func withDirectory(_ name: String, _ body: (String) async throws -> Void) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try await body(root)
    }

    /// A standalone configuration (replication 1) with its data under `root`.
    static func standalone(root: String, shards: Int = 16) -> ClusterConfiguration {
        var configuration = ClusterConfiguration.standalone
        configuration.name = "tally-test"
        configuration.shards = shards
        configuration.dataDirectory = root
        configuration.nodes = LoopbackPorts.nodes(1, ids: ["standalone"])
        return configuration
    }
}

/// Runs `body`, returning the failure it throws (nil if it succeeds).
func failure<K: EntityKind>(_ kind: K.Type, _ body: () async throws(EntityFailure<K.Failure>) -> Void) async
    -> EntityFailure<K.Failure>?
{
    do {
        try await body()
        return nil
    } catch {
        return error
    }
}
