import Foundation
import Hummingbird

/// An error as clients see it: `{"error": {"code": "snake_case_code", "message": "…"}}` with a fitting status.
///
/// Every error that leaves the HTTP edge goes through this one shape; ``ErrorMiddleware``
/// converts the framework's own errors (unknown route, oversized body …) into it.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Sent as `Retry-After`: when a retry has a chance.
    public var retryAfterSeconds: Int?

    public init(_ status: HTTPResponse.Status, code: String, message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
        }
        let error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try BodyCoding.encoder.encode(Body(error: .init(code: code, message: message)))
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Maps every error thrown by a route or by the router into ``APIError``'s JSON shape, so a
/// client never sees an empty body or a bare 500 for bad input.
public struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as any HTTPResponseError {
            let code = Self.code(for: error.status)
            throw APIError(error.status, code: code, message: Self.message(for: error.status, path: request.uri.path))
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            throw APIError(
                .internalServerError,
                code: "internal_error",
                message: "the server failed to handle the request"
            )
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 422: "unprocessable_entity"
        case 429: "rate_limited"
        default: status.code >= 500 ? "internal_error" : "http_\(status.code)"
        }
    }

    static func message(for status: HTTPResponse.Status, path: String) -> String {
        switch status.code {
        case 404: "no route for \(path)"
        case 405: "method not allowed on \(path)"
        case 413: "request body too large"
        default: status.reasonPhrase
        }
    }
}
