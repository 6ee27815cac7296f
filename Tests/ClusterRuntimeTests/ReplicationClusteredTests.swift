import ClusterCore
import ClusterRuntime
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// Serves `key=value` writes by replicating them through the shard's log.
struct KeyValueHandler: EntityHandler {
    let host: ReplicationHost

    func handle(shard: UInt32, key: String, command: [UInt8]) async throws -> [UInt8] {
        _ = try await host.propose(shard: shard, Array("\(key)=".utf8) + command)
        return command
    }
}

/// Three nodes in one process over loopback, replication 3: writes through any node are
/// acknowledged once a majority holds them, and survive the loss of a primary.
@Suite struct ReplicationClusteredTests {
    /// Writes `key=value`; these writes are idempotent, so a write whose outcome became unknown
    /// (its primary changed) is simply sent again, as a client would. Bounded: 5 attempts.
    static func write(_ key: String, _ value: String, via node: ClusterNode) async throws -> [UInt8] {
        for attempt in 1...5 {
            do {
                return try await node.ask(key: key, command: Array(value.utf8), timeout: .seconds(20))
            } catch let error as EntityError where error.code == "outcome_unknown" && attempt < 5 {
                continue
            } catch ReplicationError.outcomeUnknown where attempt < 5 {
                continue
            }
        }
        throw ReplicationError.timeout
    }

    @Test(.timeLimit(.minutes(2)))
    func acknowledgedWritesSurviveThePrimary() async throws {
        let ports = try MembershipClusteredTests.freePorts(6)
        var configuration = ClusterConfiguration()
        configuration.name = "replication-test"
        configuration.shards = 8
        configuration.replication = 3
        configuration.nodes = (0..<3).map { index in
            .init(
                id: NodeID("n\(index + 1)")!,
                clusterAddress: NodeAddress(host: "127.0.0.1", port: ports[index]),
                httpAddress: NodeAddress(host: "127.0.0.1", port: ports[index + 3])
            )
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("plume-replication-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var nodes: [MembershipClusteredTests.RunningNode] = []
        for entry in configuration.nodes {
            var settings = NodeSettings(
                configuration: configuration,
                nodeID: entry.id,
                clusterAddress: entry.clusterAddress,
                httpAddress: entry.httpAddress,
                seeds: [configuration.nodes[0].clusterAddress]
            )
            settings.transport.backoffMax = .milliseconds(300)
            settings.dataDirectory = root + "/" + entry.id.rawValue
            var logger = Logger(label: "test.\(entry.id)")
            logger.logLevel = .warning
            let node = try ClusterNode(settings: settings, logger: logger) { _ in KeyValueMachine() }
            node.setEntityHandler(KeyValueHandler(host: node.replication))
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [node], logger: logger))
            nodes.append(.init(node: node, group: group, task: Task { try await group.run() }))
        }

        // Writes go through any node; `ask` waits (bounded) while shards elect their first primaries.
        var acknowledged: [String: String] = [:]
        for index in 0..<40 {
            let key = "user/\(index)"
            let value = "v\(index)"
            let via = nodes[index % 3].node
            let reply = try await Self.write(key, value, via: via)
            #expect(reply == Array(value.utf8))
            acknowledged[key] = value
        }

        // Stop n1 (its service is cancelled): the survivors start new epochs for the shards it led.
        nodes[0].task.cancel()
        _ = try? await nodes[0].task.value
        for index in 40..<60 {
            let key = "user/\(index)"
            let value = "v\(index)"
            let reply = try await Self.write(key, value, via: nodes[1 + index % 2].node)
            #expect(reply == Array(value.utf8))
            acknowledged[key] = value
        }

        // Every acknowledged write is in the state of the shard's current primary.
        for (key, value) in acknowledged {
            let shard = UInt32(Placement.shard(forKey: key, shardCount: configuration.shards))
            var found: String?
            for running in nodes[1...] where await running.node.replication.serves(shard: shard) {
                found = try await running.node.replication.read(shard: shard) { ($0 as! KeyValueMachine).values[key] }
            }
            #expect(found == value, "\(key) lost: \(String(describing: found))")
        }

        for running in nodes[1...] {
            await running.group.triggerGracefulShutdown()
            try await running.task.value
        }
    }
}
