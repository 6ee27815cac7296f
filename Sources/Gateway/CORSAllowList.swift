import HTTPTypes
import Hummingbird

/// CORS for the configured origins only (`[gateway] cors_origins`): a request whose `Origin` is
/// one of them goes through Hummingbird's `CORSMiddleware` (preflights answered, the origin echoed
/// in `Access-Control-Allow-Origin`, errors included); any other request gets no CORS headers,
/// so browsers on other origins cannot read the answers. Responses to an allowed origin also name
/// `X-Request-Id` and `Retry-After` in `Access-Control-Expose-Headers` (Hummingbird's middleware
/// sends it only on preflights), so the page can read them.
struct CORSAllowList<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>
    let cors = CORSMiddleware<Context>(
        allowOrigin: .originBased,
        allowHeaders: [.accept, .authorization, .contentType, .origin],
        allowMethods: [.get, .post, .put, .patch, .delete, .head, .options],
        exposedHeaders: [Self.exposed],
        maxAge: .seconds(600)
    )
    static var exposed: String { "X-Request-Id, Retry-After" }

    init(origins: [String]) { self.origins = Set(origins) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let origin = request.headers[.origin], origins.contains(origin) else {
            return try await next(request, context)
        }
        var response: Response
        do {
            response = try await cors.handle(request, context: context, next: next)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        if request.method != .options { response.headers[.accessControlExposeHeaders] = Self.exposed }
        return response
    }
}
