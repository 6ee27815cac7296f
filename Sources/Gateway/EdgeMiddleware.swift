import Hummingbird
import HummingbirdAuth
import PlatformServices

/// Puts the caller an `Authorization: Bearer <access token>` names into the request context
/// (``PlumeRequestContext/identity``). A request without the header goes on unnamed; a token
/// that is not valid (bad signature, expired, malformed) is refused with 401 `unauthorized`.
/// Routes never read the header themselves.
struct BearerAuthenticator: AuthenticatorMiddleware {
    typealias Context = PlumeRequestContext
    let accounts: AccountService

    func authenticate(request: Request, context: Context) async throws -> AccountService.Caller? {
        guard let header = request.headers[.authorization] else { return nil }
        guard let token = Self.bearerToken(header) else {
            throw APIError(
                .unauthorized,
                code: "unauthorized",
                message: "the Authorization header is not \"Bearer <token>\""
            )
        }
        do {
            return try await accounts.authenticate(accessToken: token)
        } catch {
            throw APIError(error)
        }
    }

    /// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, spaces
    /// and tabs around the token ignored), read byte by byte: no Foundation string work per request.
    static func bearerToken(_ header: String) -> String? {
        let bytes = header.utf8
        let scheme = "bearer ".utf8
        guard bytes.count > scheme.count,
            zip(bytes, scheme).allSatisfy({ byte, expected in expected == 0x20 ? byte == 0x20 : byte | 0x20 == expected
            })
        else { return nil }
        func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        var token = bytes.dropFirst(scheme.count)
        while let first = token.first, isBlank(first) { token = token.dropFirst() }
        while let last = token.last, isBlank(last) { token = token.dropLast() }
        return token.isEmpty ? nil : String(decoding: token, as: UTF8.self)
    }
}

/// The routes of a group that needs a caller: 401 `unauthorized` without one. Behind
/// ``BearerAuthenticator``, so `context.requireIdentity()` never fails in their handlers.
struct RequireCaller<Context: AuthRequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard context.identity != nil else {
            throw APIError(.unauthorized, code: "unauthorized", message: "missing bearer access token")
        }
        return try await next(request, context)
    }
}

/// Every request that writes (all but GET, HEAD and OPTIONS) spends one of its caller's writes
/// (``AuthThrottle/admit(writeBy:)``): 429 `rate_limited` with `Retry-After` past them.
struct UserWriteThrottle<Context: AuthRequestContext>: RouterMiddleware
where Context.Identity == AccountService.Caller {
    let throttle: AuthThrottle

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if let caller = context.identity, request.method != .get, request.method != .head, request.method != .options {
            try throttle.admit(writeBy: caller.userID)
        }
        return try await next(request, context)
    }
}

/// Sign-up, login and refresh spend one of the client address's requests first
/// (``AuthThrottle/admit(client:)``): 429 `rate_limited` with `Retry-After` past them.
struct ClientAddressThrottle<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let throttle: AuthThrottle

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        try throttle.admit(client: throttle.clientAddress(headers: request.headers, peer: context.remoteAddress))
        return try await next(request, context)
    }
}
