import ClusterCore
import ClusterRuntime
import ClusterTestKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

/// Several nodes in one process, talking over real loopback sockets.
@Suite struct MembershipClusteredTests {
    static func freePorts(_ count: Int) throws -> [Int] {
        LoopbackPorts.reserve(count)
    }

    struct RunningNode {
        let node: ClusterNode<KeyValueMachine>
        let group: ServiceGroup
        let task: Task<Void, any Error>
    }

    static func start(_ settings: NodeSettings) -> RunningNode {
        var logger = Logger(label: "test.\(settings.nodeID)")
        logger.logLevel = .warning
        let node = try! ClusterNode(settings: settings, logger: logger) { _ in KeyValueMachine() }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [node], logger: logger))
        let task = Task { try await group.run() }
        return RunningNode(node: node, group: group, task: task)
    }

    @Test(.timeLimit(.minutes(1)))
    func threeNodesConvergeAndSeeAGracefulLeave() async throws {
        let ports = try Self.freePorts(3)
        var configuration = ClusterConfiguration()
        configuration.name = "clustered-test"
        configuration.shards = 32
        configuration.membership.probeInterval = .milliseconds(200)
        configuration.membership.probeTimeout = .milliseconds(80)
        configuration.dataDirectory = ReplicationClusteredTests.temporaryRoot("plume-clustered")
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        let addresses = ports.map { NodeAddress(host: "127.0.0.1", port: $0) }
        let nodes = (0..<3).map { index in
            var settings = NodeSettings(
                configuration: configuration,
                nodeID: NodeID("n\(index + 1)")!,
                clusterAddress: addresses[index],
                httpAddress: NodeAddress(host: "127.0.0.1", port: 1),
                seeds: [addresses[0]]
            )
            settings.transport.backoffMax = .milliseconds(500)
            return Self.start(settings)
        }
        let converged = await eventually(timeout: .seconds(30)) {
            nodes.allSatisfy { running in
                running.node.view.members.count == 3 && running.node.view.members.allSatisfy { $0.status == .alive }
            }
        }
        #expect(converged, "views: \(nodes.map { $0.node.view.members.map(\.description) })")
        #expect(nodes.allSatisfy { $0.node.view.isJoined })
        // Every node computes the same shard table from the same membership.
        let tables = nodes.map { $0.node.view.shards }
        #expect(tables.allSatisfy { $0 == tables[0] })
        #expect(tables[0].entries.allSatisfy { Set($0.replicas).count == 3 })

        await nodes[2].group.triggerGracefulShutdown()
        try await nodes[2].task.value
        let left = await eventually(timeout: .seconds(15)) {
            nodes[0..<2].allSatisfy { $0.node.view.members.first { $0.id == NodeID("n3") }?.status == .left }
        }
        #expect(left, "n3 not seen as left")
        #expect(nodes[0].node.view.shards.entries.allSatisfy { !$0.replicas.contains(NodeID("n3")!) })

        for running in nodes[0..<2] {
            await running.group.triggerGracefulShutdown()
            try await running.task.value
        }
    }
}

/// A shard state for runtime tests: `key=value` commands.
struct KeyValueMachine: ShardStateMachine {
    var values: [String: String] = [:]
    var applied: [UInt64] = []

    mutating func apply(_ command: [UInt8], lsn: UInt64) {
        let parts = String(decoding: command, as: UTF8.self).split(separator: "=", maxSplits: 1).map(String.init)
        if parts.count == 2 { values[parts[0]] = parts[1] }
        applied.append(lsn)
    }

    func snapshot() -> [UInt8] {
        Array(values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined().utf8)
    }

    mutating func restore(_ state: [UInt8]) throws {
        values = [:]
        for line in String(decoding: state, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
    }
}
