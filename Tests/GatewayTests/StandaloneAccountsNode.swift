import ClusterCore
import ClusterRuntime
import ClusterTestKit
import EntityRuntime
import Foundation
import Logging
import PlatformServices
import ServiceLifecycle
import Testing
import WireProtocol

/// A standalone node (replication 1, storage in a temporary directory) serving account
/// entities, for the tests of the accounts API.
struct StandaloneAccountsNode {
    let node: ClusterNode<EntityStore>
    /// The node's entities, with deadlines generous enough for a loaded CI machine.
    let transport: NodeEntityTransport
    private let group: ServiceGroup
    private let running: Task<Void, any Error>
    private let directory: String

    /// Runs `body` with a started node whose shards are served, then stops it and removes its data.
    /// `clock` is the entities' clock (seconds since 1970).
    static func with(
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        _ body: (StandaloneAccountsNode) async throws -> Void
    ) async throws {
        let running = try await start(clock: clock)
        do {
            try await body(running)
        } catch {
            try? await running.stop()
            throw error
        }
        try await running.stop()
    }

    private static func start(clock: @escaping @Sendable () -> Double) async throws -> StandaloneAccountsNode {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "plume-accounts-\(UUID().uuidString)"
        ).path
        var settings = try NodeSettings.resolve(
            configPath: nil,
            node: nil,
            clusterAddress: "127.0.0.1:\(try MembershipPorts.free())",
            httpAddress: nil,
            seeds: nil,
            environment: [:]
        )
        settings.dataDirectory = directory
        var logger = Logger(label: "test.accounts")
        logger.logLevel = .warning
        let node = try PlatformNode(settings: settings, logger: logger, clock: clock).node
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [node], logger: logger))
        let running = Task { try await group.run() }
        let transport = NodeEntityTransport(node: node, timeout: .seconds(20))
        let started = StandaloneAccountsNode(
            node: node,
            transport: transport,
            group: group,
            running: running,
            directory: directory
        )
        // Until the node serves its shards (bounded): a read answers.
        let warmUp = Entities(transport).ref(NameReservationKind.self, key: NameReservationKind.username("warm-up"))
        guard
            await eventually(
                timeout: .seconds(30),
                every: .milliseconds(100),
                { (try? await warmUp.read(.owner)) != nil }
            )
        else {
            try? await started.stop()
            throw ReplicationError.timeout
        }
        return started
    }

    private func stop() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
