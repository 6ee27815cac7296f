import ClusterCore
import ClusterRuntime
import Hummingbird
import Logging
import PlatformServices
import Prometheus

/// The HTTP edge of a node: builds the Hummingbird application with every controller.
public enum GatewayApplication {
    /// The router, separate from the server so tests can drive it without a socket.
    public static func router(
        view: @escaping @Sendable () -> ClusterView,
        registry: PrometheusCollectorRegistry,
        accounts: AccountService? = nil,
        authLimits: AuthLimits = AuthLimits(),
        corsOrigins: [String] = []
    ) -> Router<PlumeRequestContext> {
        let router = Router(context: PlumeRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        if !corsOrigins.isEmpty { router.add(middleware: CORSAllowList(origins: corsOrigins)) }
        router.add(middleware: ErrorMiddleware())
        ClusterController(view: view).addRoutes(to: router)
        MetricsController(registry: registry).addRoutes(to: router)
        OpenAPIController().addRoutes(to: router)
        if let accounts { AccountsController(accounts: accounts, throttle: AuthThrottle(limits: authLimits)).addRoutes(to: router) }
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
        authLimits: AuthLimits = AuthLimits(),
        corsOrigins: [String] = [],
        connectionLimits: ConnectionLimits = ConnectionLimits(),
        logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let idle = connectionLimits.idleTimeout.components
        return Application(
            router: router(
                view: view,
                registry: registry,
                accounts: accounts,
                authLimits: authLimits,
                corsOrigins: corsOrigins
            ),
            server: .http1(
                configuration: .init(
                    idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000)
                )
            ),
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
