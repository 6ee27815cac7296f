import ArgumentParser
import ClusterCore
import ClusterRuntime
import EntityRuntime
import Foundation
import Gateway
import Logging
import Metrics
import PlatformServices
import Prometheus
import ServiceLifecycle

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a Plume node (standalone on 127.0.0.1:8080 when given no flags)."
    )

    @Option(help: "The cluster configuration file (TOML).")
    var config: String?

    @Option(help: "This node's id in the configuration file.")
    var node: String?

    @Option(name: .customLong("cluster-addr"), help: "host:port for the cluster protocol (overrides the file).")
    var clusterAddr: String?

    @Option(name: .customLong("http-addr"), help: "host:port for HTTP (overrides the file).")
    var httpAddr: String?

    @Option(
        name: .customLong("admin-addr"),
        help: "host:port for /metrics and /v1/cluster alone (overrides the file's admin; default: on --http-addr)."
    )
    var adminAddr: String?

    @Option(parsing: .upToNextOption, help: "Seed nodes' cluster addresses (host:port, comma- or space-separated).")
    var seeds: [String] = []

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError(
                "--log-level: \"\(logLevel)\" is not one of trace, debug, info, notice, warning, error, critical"
            )
        }
        let settings: NodeSettings
        do {
            settings = try NodeSettings.resolve(
                configPath: config,
                node: node,
                clusterAddress: clusterAddr,
                httpAddress: httpAddr,
                adminAddress: adminAddr,
                seeds: seeds.isEmpty ? nil : seeds
            )
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }

        if case .refused(let message) = settings.secretCheck {
            FileHandle.standardError.write(Data("error: \(message)\n".utf8))
            throw ExitCode(2)
        }

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "plume")
        logger.logLevel = level

        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[ClusterMetrics.probeRoundTripLabel] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1),
        ]
        factory.durationHistogramBuckets[ClusterMetrics.walWriteLabel] = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(500),
        ]
        MetricsSystem.bootstrap(factory)

        do {
            try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
        } catch {
            FileHandle.standardError.write(
                Data("error: cannot create data directory \(settings.dataDirectory): \(error)\n".utf8)
            )
            throw ExitCode(2)
        }

        let platform: PlatformNode
        do {
            platform = try PlatformNode(settings: settings, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("error: cannot open the node's storage: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let (clusterNode, entities) = (platform.node, platform.entities)
        // Every node signs access tokens with a key derived from the cluster secret.
        let reach = Entities(
            NodeEntityTransport(node: clusterNode, local: entities, timeout: settings.configuration.requestTimeout)
        )
        let accounts = await AccountService(
            tokenSecret: settings.configuration.secret,
            sessionLifetime: settings.configuration.sessionLifetime,
            entities: reach
        )
        // Presence is soft state on each user's owner; the relay carries the real-time edge's
        // pushes between nodes and follows the cluster's changes for it.
        let presence = PresenceService(
            entities: reach,
            node: settings.nodeID.rawValue,
            graceSeconds: settings.configuration.realtime.reconnectGrace.seconds,
            owned: { entities.softStates(of: PresenceKind.self) }
        )
        let social = SocialService(entities: reach, accounts: accounts, presence: presence)
        let transport = NodeEntityTransport(
            node: clusterNode,
            local: entities,
            timeout: settings.configuration.requestTimeout
        )
        let lobbies = LobbyService(
            entities: reach,
            social: social,
            settings: settings.configuration.lobbies,
            tokenSecret: settings.configuration.secret,
            local: entities,
            search: { query throws(ClusterFailure) in try await transport.search(LobbyKind.self, query) },
            logger: logger
        )
        let matchmaking = MatchmakingService(
            entities: reach,
            lobbies: lobbies,
            settings: settings.configuration.matchmaking,
            local: entities,
            logger: logger
        )
        let relay = RealtimeRelay(
            social: social,
            presence: presence,
            lobbies: lobbies,
            matchmaking: matchmaking,
            peers: RealtimePeers(
                me: settings.nodeID.rawValue,
                topology: {
                    let view = clusterNode.view
                    guard view.isJoined else { return RealtimePeers.Topology(members: [:], primaries: []) }
                    return RealtimePeers.Topology(
                        members: Dictionary(
                            view.members.filter(\.status.isServing).map { ($0.id.rawValue, $0.incarnation) },
                            uniquingKeysWith: max
                        ),
                        primaries: view.shards.entries.map { $0.primary?.rawValue }
                    )
                },
                send: { bytes, node in NodeID(node).map { clusterNode.sendRealtime(bytes, to: $0) } ?? false }
            ),
            settings: settings.configuration.realtime,
            logger: logger
        )
        clusterNode.setRealtimeHandler { bytes, from in relay.receive(bytes, from: from.rawValue) }
        let http = GatewayApplication.make(
            address: settings.httpAddress,
            view: { clusterNode.view },
            registry: registry,
            accounts: accounts,
            social: social,
            lobbies: lobbies,
            matchmaking: matchmaking,
            relay: relay,
            authLimits: settings.configuration.authLimits,
            realtime: settings.configuration.realtime,
            corsOrigins: settings.configuration.corsOrigins,
            operatorRoutes: settings.adminAddress == nil,
            nodeID: "\(settings.nodeID)",
            logger: logger
        )
        var services: [any Service] = [clusterNode, relay, lobbies, matchmaking, http]
        if let address = settings.adminAddress {
            services.append(
                GatewayApplication.makeAdmin(
                    address: address,
                    view: { clusterNode.view },
                    registry: registry,
                    logger: logger
                )
            )
        }
        if case .weakOnLoopback(let message) = settings.secretCheck { logger.warning("\(message)") }
        logger.info(
            "starting node",
            metadata: [
                "cluster/node": "\(settings.nodeID)",
                "cluster/name": "\(settings.configuration.name)",
                "http": "\(settings.httpAddress)",
                "admin": "\(settings.adminAddress.map(\.description) ?? "(on http)")",
                "replication": "\(settings.configuration.replication)",
                "shards": "\(settings.configuration.shards)",
                "data": "\(settings.dataDirectory)",
                "identity": "\(clusterNode.identity.identity)\(clusterNode.identityIsNew ? " (new)" : "")",
            ]
        )
        // Shutdown runs in reverse order: the HTTP edge stops first, then the node leaves the cluster.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            logger.critical("node stopped", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        logger.info("node stopped")
    }
}
