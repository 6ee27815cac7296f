import ClusterCore
import ClusterRuntime
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import PlatformServices
import Prometheus

/// The HTTP edge of a node: builds the Hummingbird application with every controller.
public enum GatewayApplication {
    /// The router, separate from the server so tests can drive it without a socket.
    ///
    /// Every response passes ``RequestLogMiddleware`` (request id, access log), then the CORS
    /// allow list, then ``ErrorMiddleware`` (every error in one JSON shape); the API lives in
    /// the `/v1` group, each controller adding its own groups with their middleware.
    /// - Parameter operatorRoutes: serve `/metrics` and `/v1/cluster` here too; false when the
    ///   node has an admin listener (``adminRouter(view:registry:)``).
    public static func router(
        view: @escaping @Sendable () -> ClusterView,
        registry: PrometheusCollectorRegistry,
        accounts: AccountService? = nil,
        social: SocialService? = nil,
        lobbies: LobbyService? = nil,
        matchmaking: MatchmakingService? = nil,
        relay: RealtimeRelay? = nil,
        authLimits: AuthLimits = AuthLimits(),
        realtime: RealtimeSettings = RealtimeSettings(),
        corsOrigins: [String] = [],
        operatorRoutes: Bool = true,
        nodeID: String = "",
        logger: Logger = Logger(label: "plume.gateway")
    ) -> Router<PlumeRequestContext> {
        routers(
            view: view,
            registry: registry,
            accounts: accounts,
            social: social,
            lobbies: lobbies,
            matchmaking: matchmaking,
            relay: relay,
            authLimits: authLimits,
            realtime: realtime,
            corsOrigins: corsOrigins,
            operatorRoutes: operatorRoutes,
            nodeID: nodeID,
            logger: logger
        ).http
    }

    /// The HTTP router and, with the social services, the router the WebSocket upgrade of
    /// `/v1/ws` is tried against (sharing the node's sockets and chat brake with the REST routes).
    static func routers(
        view: @escaping @Sendable () -> ClusterView,
        registry: PrometheusCollectorRegistry,
        accounts: AccountService?,
        social: SocialService?,
        lobbies: LobbyService?,
        matchmaking: MatchmakingService?,
        relay: RealtimeRelay?,
        authLimits: AuthLimits,
        realtime: RealtimeSettings,
        corsOrigins: [String],
        operatorRoutes: Bool,
        nodeID: String,
        logger: Logger
    ) -> (http: Router<PlumeRequestContext>, webSocket: Router<WebSocketRequestContextWithChannel>?) {
        let router = Router(context: PlumeRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        if !corsOrigins.isEmpty { router.add(middleware: CORSAllowList(origins: corsOrigins)) }
        router.add(middleware: ErrorMiddleware())
        let cluster = ClusterController<PlumeRequestContext>(view: view)
        cluster.addProbeRoutes(to: router)
        if operatorRoutes {
            cluster.addClusterRoutes(to: router)
            MetricsController(registry: registry).addRoutes(to: router)
        }
        let v1 = router.group("v1")
        OpenAPIController().addRoutes(to: v1)
        var webSocket: Router<WebSocketRequestContextWithChannel>?
        if let accounts {
            let throttle = AuthThrottle(limits: authLimits)
            if let social {
                let chat = ChatThrottle(realtime)
                // Without a cluster's relay, the sockets of this node alone, and no presence.
                let relay =
                    relay
                    ?? RealtimeRelay(
                        social: social,
                        presence: nil,
                        lobbies: lobbies,
                        matchmaking: matchmaking,
                        peers: .alone(nodeID),
                        settings: realtime,
                        logger: logger
                    )
                // A session that ends (a logout, a replayed refresh token) closes its sockets anywhere.
                accounts.onSessionEnded { [weak relay] user, session in
                    Task { await relay?.revoke(userID: user, sessionID: session) }
                }
                SocialController(social: social, accounts: accounts, throttle: throttle, chat: chat, relay: relay)
                    .addRoutes(to: v1)
                let edge = RealtimeController(
                    accounts: accounts,
                    social: social,
                    chat: chat,
                    relay: relay,
                    settings: realtime,
                    nodeID: nodeID
                )
                edge.addRoutes(to: v1)
                webSocket = edge.webSocketRouter()
                if let lobbies {
                    LobbyController(lobbies: lobbies, accounts: accounts, throttle: throttle).addRoutes(to: v1)
                }
                if let matchmaking {
                    MatchmakingController(matchmaking: matchmaking, accounts: accounts, throttle: throttle)
                        .addRoutes(to: v1)
                }
            }
            AccountsController(accounts: accounts, throttle: throttle).addRoutes(to: v1)
        }
        return (router, webSocket)
    }

    /// The admin listener's router (`[[node]] admin`): `/health`, `/ready`, `/metrics` and
    /// `/v1/cluster`, for operators and scrapers on a private address.
    public static func adminRouter(
        view: @escaping @Sendable () -> ClusterView,
        registry: PrometheusCollectorRegistry
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ErrorMiddleware())
        let cluster = ClusterController<BasicRequestContext>(view: view)
        cluster.addProbeRoutes(to: router)
        cluster.addClusterRoutes(to: router)
        MetricsController(registry: registry).addRoutes(to: router)
        return router
    }

    /// Bounds on the HTTP listener's connections.
    public struct ConnectionLimits: Sendable {
        /// A connection with no request in flight for this long is closed (Hummingbird's default
        /// keeps idle connections for ever).
        public var idleTimeout: Duration = .seconds(60)
        /// Connections open at once; past it the listener accepts no more until one closes.
        public var connectionsMax = 10_000

        public init() {}
    }

    /// The application listening on `address`; `onBound` receives the bound port.
    public static func make(
        address: NodeAddress,
        view: @escaping @Sendable () -> ClusterView,
        registry: PrometheusCollectorRegistry,
        accounts: AccountService?,
        social: SocialService? = nil,
        lobbies: LobbyService? = nil,
        matchmaking: MatchmakingService? = nil,
        relay: RealtimeRelay? = nil,
        authLimits: AuthLimits = AuthLimits(),
        realtime: RealtimeSettings = RealtimeSettings(),
        corsOrigins: [String] = [],
        operatorRoutes: Bool = true,
        connectionLimits: ConnectionLimits = ConnectionLimits(),
        nodeID: String = "",
        logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let (http, webSocket) = routers(
            view: view,
            registry: registry,
            accounts: accounts,
            social: social,
            lobbies: lobbies,
            matchmaking: matchmaking,
            relay: relay,
            authLimits: authLimits,
            realtime: realtime,
            corsOrigins: corsOrigins,
            operatorRoutes: operatorRoutes,
            nodeID: nodeID,
            logger: logger
        )
        return application(
            router: http,
            webSocket: webSocket.map { ($0, realtime) },
            address: address,
            connectionLimits: connectionLimits,
            logger: logger,
            onBound: onBound
        )
    }

    /// The admin listener on `address` (see ``adminRouter(view:registry:)``): a few operators
    /// and scrapers, so it holds at most 64 connections.
    public static func makeAdmin(
        address: NodeAddress,
        view: @escaping @Sendable () -> ClusterView,
        registry: PrometheusCollectorRegistry,
        logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var limits = ConnectionLimits()
        limits.connectionsMax = 64
        return application(
            router: adminRouter(view: view, registry: registry),
            address: address,
            connectionLimits: limits,
            logger: logger,
            onBound: onBound
        )
    }

    static func application<Context: RequestContext>(
        router: Router<Context>,
        webSocket: (router: Router<WebSocketRequestContextWithChannel>, settings: RealtimeSettings)? = nil,
        address: NodeAddress,
        connectionLimits: ConnectionLimits,
        logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void
    ) -> some ApplicationProtocol where Context.Source == ApplicationRequestContextSource {
        let idle = connectionLimits.idleTimeout.components
        let http1 = HTTP1Channel.Configuration(
            idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000)
        )
        var server = HTTPServerBuilder.http1(configuration: http1)
        if let (webSocketRouter, settings) = webSocket {
            // The server pings every heartbeat and closes a socket whose pong does not come
            // back within one; a frame over max_frame_bytes closes it with 1009.
            server = .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(
                    http1: http1,
                    ws: .init(
                        maxFrameSize: settings.maxFrameBytes,
                        autoPing: .enabled(timePeriod: settings.heartbeat)
                    )
                )
            )
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(
                address: .hostname(address.host, port: address.port),
                serverName: "plume",
                availableConnectionsDelegate: .maximum(connectionLimits.connectionsMax, logger: logger)
            ),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? address.port) },
            logger: logger
        )
    }
}
