import ClusterCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import WireProtocol

/// A Plume node as a service: the cluster transport, membership, and the shard table it
/// derives. Run it in a `ServiceGroup`; on graceful shutdown it announces `left` to the
/// cluster before it closes its connections.
public final class ClusterNode: Service, Sendable {
    public let settings: NodeSettings
    public let metrics: ClusterMetrics
    private let logger: Logger
    private let transport: ClusterTransport
    private let shell: MembershipShell
    private let viewBox: NIOLockedValueBox<ClusterView>
    private let started = NIOLockedValueBox(false)

    public init(
        settings: NodeSettings,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        metrics: ClusterMetrics = ClusterMetrics()
    ) {
        var logger = logger
        logger[metadataKey: "cluster/node"] = "\(settings.nodeID)"
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        let configuration = settings.configuration
        let viewBox = NIOLockedValueBox(
            ClusterView(
                node: settings.nodeID,
                clusterAddress: settings.clusterAddress,
                httpAddress: settings.httpAddress,
                members: [],
                shards: ShardTable(shardCount: configuration.shards, replication: configuration.replication, nodes: []),
                isJoined: false,
                localHealth: 0
            )
        )
        self.viewBox = viewBox
        let credentials = Wire.Handshake.Credentials(
            clusterName: configuration.name,
            nodeID: settings.nodeID,
            clusterAddress: settings.clusterAddress,
            secret: configuration.secret
        )
        let inbox = NIOLockedValueBox<AsyncStream<MembershipShell.Input>.Continuation?>(nil)
        let transport = ClusterTransport(
            credentials: credentials,
            settings: settings.transport,
            group: group,
            logger: logger,
            metrics: metrics,
            onMessage: { inbound in
                if case .swim(let message) = inbound.message {
                    _ = inbox.withLockedValue { $0?.yield(.message(message, from: inbound.from)) }
                }
            }
        )
        self.transport = transport
        // Wall-clock milliseconds: higher than anything a previous run of this node gossiped.
        let incarnation = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let myself = SWIM.Member(
            id: settings.nodeID,
            clusterAddress: settings.clusterAddress,
            httpAddress: settings.httpAddress,
            incarnation: incarnation
        )
        let swim = SWIM.Instance(myself: myself, seeds: settings.seeds, settings: configuration.membership)
        self.shell = MembershipShell(swim: swim, transport: transport, view: viewBox, metrics: metrics, logger: logger)
        inbox.withLockedValue { $0 = shell.inbox }
    }

    /// This node's current view of the cluster.
    public var view: ClusterView { viewBox.withLockedValue { $0 } }

    /// The transport, for tools such as `plume bench wire`.
    public var clusterTransport: ClusterTransport { transport }

    public func run() async throws {
        precondition(!started.withLockedValue { let was = $0; $0 = true; return was }, "a ClusterNode runs once")
        let bound = try await transport.start(host: settings.clusterAddress.host, port: settings.clusterAddress.port)
        logger.info(
            "cluster transport listening",
            metadata: ["cluster/address": "\(bound)", "seeds": "\(settings.seeds.map(\.description).joined(separator: ","))"]
        )
        let shell = self.shell
        let membership = Task { await shell.run() }
        do {
            try await gracefulShutdown()
        } catch {
            // Cancelled rather than shut down gracefully: leave anyway, quickly.
        }
        let told = await shell.leave()
        logger.info("leaving the cluster", metadata: ["notified": "\(told)"])
        // Give the notices a moment to be written and answered before closing connections.
        try? await Task.sleep(for: .milliseconds(told > 0 ? 300 : 0))
        await shell.stop()
        await membership.value
        await transport.shutdown()
    }
}
