import Hummingbird

/// `GET /v1/openapi.json`: the ``OpenAPIDocument``.
struct OpenAPIController<Context: RequestContext>: Sendable {
    func addRoutes(to router: Router<Context>) {
        router.get("/v1/openapi.json") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json))
            )
        }
    }
}
