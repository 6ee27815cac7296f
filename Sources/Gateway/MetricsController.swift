import Hummingbird
import Prometheus

/// `GET /metrics`: the Prometheus text exposition of everything recorded through swift-metrics.
public struct MetricsController<Context: RequestContext>: Sendable {
    let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
    }
}
