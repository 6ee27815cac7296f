import HTTPTypes
import Hummingbird
import Logging

extension HTTPField.Name {
    /// The request's id, on every response.
    static let requestID = Self("X-Request-Id")!
}

/// The outermost middleware: every response — errors included — carries `X-Request-Id` (the
/// request's id, which is also `hb.request.id` in every log line written for the request), and
/// each request leaves one access-log line at `debug` (`plume node --log-level debug`): method,
/// path without its query, status and milliseconds. Never headers, bodies or query strings, so
/// no token or password reaches the log.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.requestID] = context.id
        if context.logger.logLevel <= .debug {
            let elapsed = ContinuousClock.now - started
            context.logger.debug(
                "request",
                metadata: [
                    "http/method": "\(request.method)", "http/path": "\(request.uri.path)",
                    "http/status": "\(response.status.code)",
                    "http/ms":
                        "\(Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000)",
                ]
            )
        }
        return response
    }
}
