import Foundation
import Hummingbird
import PlatformServices

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

extension APIError {
    /// A service's failure as the client sees it.
    init(_ failure: ServiceFailure) {
        switch failure.kind {
        case .invalid(let field): self.init(.unprocessableContent, code: "invalid_\(field)", message: failure.message)
        case .usernameTaken: self.init(.conflict, code: "username_taken", message: failure.message)
        case .emailTaken: self.init(.conflict, code: "email_taken", message: failure.message)
        case .badCredentials: self.init(.unauthorized, code: "invalid_credentials", message: failure.message)
        case .unauthorized: self.init(.unauthorized, code: "unauthorized", message: failure.message)
        case .notFound: self.init(.notFound, code: "not_found", message: failure.message)
        case .forbidden(let code): self.init(.forbidden, code: code, message: failure.message)
        case .conflict(let code): self.init(.conflict, code: code, message: failure.message)
        case .unprocessable(let code): self.init(.unprocessableContent, code: code, message: failure.message)
        case .tooMany(let code): self.init(.tooManyRequests, code: code, message: failure.message, retryAfterSeconds: 1)
        case .overloaded:
            self.init(.serviceUnavailable, code: "overloaded", message: failure.message, retryAfterSeconds: 1)
        case .timeout:
            self.init(
                .gatewayTimeout,
                code: "timeout",
                message: "\(failure.message) in time; a write may or may not have been applied"
            )
        case .unavailable: self.init(.serviceUnavailable, code: "unavailable", message: failure.message)
        }
    }

    /// Runs a service operation, mapping its failures to the HTTP error shape; what the cluster
    /// said about a failure goes to the request's log (at notice), not to the client.
    static func mapped<T: Sendable>(_ context: some RequestContext, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as ServiceFailure {
            if let detail = failure.detail {
                context.logger.notice("cluster failure", metadata: ["kind": "\(failure.kind)", "detail": "\(detail)"])
            }
            throw APIError(failure)
        }
    }
}
