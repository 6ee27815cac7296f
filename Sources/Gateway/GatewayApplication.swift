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
        authLimits: AuthLimits = AuthLimits()
    ) -> Router<PlumeRequestContext> {
        let router = Router(context: PlumeRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        ClusterController(view: view).addRoutes(to: router)
        MetricsController(registry: registry).addRoutes(to: router)
        if let accounts { AccountsController(accounts: accounts, throttle: AuthThrottle(limits: authLimits)).addRoutes(to: router) }
        return router
    }

    /// The application listening on `address`; `onBound` receives the bound port.
    public static func make(
        address: NodeAddress,
        view: @escaping @Sendable () -> ClusterView,
        registry: PrometheusCollectorRegistry,
        accounts: AccountService?,
        authLimits: AuthLimits = AuthLimits(),
        logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(view: view, registry: registry, accounts: accounts, authLimits: authLimits),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "plume"),
            onServerRunning: { channel in onBound(channel.localAddress?.port ?? address.port) },
            logger: logger
        )
    }
}
