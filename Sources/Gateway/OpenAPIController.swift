import Hummingbird

/// `GET /v1/openapi.json`: the ``OpenAPIDocument``.
struct OpenAPIController<Context: RequestContext>: Sendable {
    func addRoutes(to v1: RouterGroup<Context>) {
        v1.get("openapi.json") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json))
            )
        }
    }
}
