import Foundation
import GameDomain
import Hummingbird
import PlatformServices

/// `/v1/auth/…` and `/v1/users/…`: accounts, sessions and profiles.
///
/// Sign-up, login and refresh pass the node's ``AuthThrottle`` first (429 past its limits).
public struct AccountsController<Context: RemoteAddressRequestContext>: Sendable {
    let accounts: AccountService
    let throttle: AuthThrottle
    /// The largest JSON body accepted.
    public static var bodyBytesMax: Int { 64 * 1024 }

    public init(accounts: AccountService, throttle: AuthThrottle) {
        self.accounts = accounts
        self.throttle = throttle
    }

    public func addRoutes(to router: Router<Context>) {
        router.post("/v1/auth/signup") { request, context -> Response in
            try admitClient(request, context)
            let body = try await JSONBody(request, context: context)
            let tokens = try await mapped {
                try await accounts.signup(
                    username: try body.string("username"),
                    email: try body.string("email"),
                    password: try body.string("password")
                )
            }
            return try JSONResponse.make(TokensBody(tokens), status: .created)
        }
        router.post("/v1/auth/login") { request, context -> Response in
            try admitClient(request, context)
            let body = try await JSONBody(request, context: context)
            let username = try body.optionalString("username")
            let email = try body.optionalString("email")
            let password = try body.string("password")
            // The name the account is looked up by, as the accounts service picks it.
            let name = (username?.isEmpty == false ? username : email) ?? ""
            try throttle.admitLogin(name: name)
            let tokens: AccountService.Tokens
            do {
                tokens = try await accounts.login(username: username, email: email, password: password)
            } catch let failure as AccountService.Failure {
                if case .badCredentials = failure.kind { throttle.loginFailed(name: name) }
                throw Self.apiError(failure)
            }
            throttle.loginSucceeded(name: name)
            return try JSONResponse.make(TokensBody(tokens))
        }
        router.post("/v1/auth/refresh") { request, context -> Response in
            try admitClient(request, context)
            let body = try await JSONBody(request, context: context)
            let tokens = try await mapped { try await accounts.refresh(try body.string("refresh_token")) }
            return try JSONResponse.make(TokensBody(tokens))
        }
        router.post("/v1/auth/logout") { request, _ -> Response in
            let token = try bearer(request)
            try await mapped { try await accounts.logout(accessToken: token) }
            return Response(status: .noContent)
        }
        router.get("/v1/users/me") { request, _ -> Response in
            let token = try bearer(request)
            let user = try await mapped { try await accounts.me(accessToken: token) }
            return try JSONResponse.make(UserBody(user, includeEmail: true))
        }
        router.patch("/v1/users/me") { request, context -> Response in
            let token = try bearer(request)
            let body = try await JSONBody(request, context: context)
            try body.allowOnly(["display_name", "bio", "avatar_url", "country"])
            let change = User.ProfileChange(
                displayName: try body.optionalString("display_name"),
                bio: try body.optionalString("bio"),
                avatarURL: try body.nullableString("avatar_url"),
                country: try body.nullableString("country")
            )
            let user = try await mapped { try await accounts.updateProfile(accessToken: token, change: change) }
            return try JSONResponse.make(UserBody(user, includeEmail: true))
        }
        router.get("/v1/users/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            let user = try await mapped { try await accounts.user(id: id) }
            return try JSONResponse.make(UserBody(user, includeEmail: false))
        }
    }

    /// Spends one of the client's authentication requests (429 when it has none left).
    func admitClient(_ request: Request, _ context: Context) throws {
        try throttle.admit(client: throttle.clientAddress(headers: request.headers, peer: context.remoteAddress))
    }

    func bearer(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
            case let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces), !token.isEmpty
        else { throw APIError(.unauthorized, code: "unauthorized", message: "missing bearer access token") }
        return token
    }

    /// Runs an account operation, mapping its failures to the HTTP error shape.
    func mapped<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as AccountService.Failure {
            throw Self.apiError(failure)
        }
    }

    static func apiError(_ failure: AccountService.Failure) -> APIError {
        switch failure.kind {
        case .invalid(let field): APIError(.unprocessableContent, code: "invalid_\(field)", message: failure.message)
        case .usernameTaken: APIError(.conflict, code: "username_taken", message: failure.message)
        case .emailTaken: APIError(.conflict, code: "email_taken", message: failure.message)
        case .badCredentials: APIError(.unauthorized, code: "invalid_credentials", message: failure.message)
        case .unauthorized: APIError(.unauthorized, code: "unauthorized", message: failure.message)
        case .notFound: APIError(.notFound, code: "not_found", message: failure.message)
        case .overloaded: APIError(.serviceUnavailable, code: "overloaded", message: failure.message, retryAfterSeconds: 1)
        case .timeout:
            APIError(.gatewayTimeout, code: "timeout", message: "no answer in time; a write may or may not have been applied (\(failure.message))")
        case .unavailable: APIError(.serviceUnavailable, code: "unavailable", message: failure.message)
        }
    }
}

/// A JSON object body, read with a size bound and typed accessors that fail with 400/422.
struct JSONBody {
    let object: [String: Any]

    init(_ request: Request, context: some RequestContext) async throws {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: AccountsController<PlumeRequestContext>.bodyBytesMax)
        } catch {
            throw APIError(.contentTooLarge, code: "payload_too_large", message: "the body exceeds \(AccountsController<PlumeRequestContext>.bodyBytesMax) bytes")
        }
        guard let parsed = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)), let object = parsed as? [String: Any] else {
            throw APIError(.badRequest, code: "malformed_json", message: "the body is not a JSON object")
        }
        self.object = object
    }

    func string(_ key: String) throws -> String {
        guard let value = try optionalString(key) else {
            throw APIError(.unprocessableContent, code: "invalid_\(key)", message: "\(key) is required")
        }
        return value
    }

    func optionalString(_ key: String) throws -> String? {
        guard let value = object[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else {
            throw APIError(.unprocessableContent, code: "invalid_\(key)", message: "\(key) must be a string")
        }
        return text
    }

    /// Absent: leave as is; `null`: clear; a string: set.
    func nullableString(_ key: String) throws -> String?? {
        guard let value = object[key] else { return .none }
        if value is NSNull { return .some(.none) }
        guard let text = value as? String else {
            throw APIError(.unprocessableContent, code: "invalid_\(key)", message: "\(key) must be a string or null")
        }
        return .some(text)
    }

    func allowOnly(_ keys: Set<String>) throws {
        if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
            throw APIError(.unprocessableContent, code: "unknown_field", message: "unknown field \(unknown)")
        }
    }
}

struct UserBody: Encodable {
    let id: String
    let username: String
    let email: String?
    let displayName: String
    let bio: String
    let avatarURL: String?
    let country: String?
    let createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, username, email, bio, country
        case displayName = "display_name"
        case avatarURL = "avatar_url"
        case createdAt = "created_at"
    }

    init(_ user: User.State, includeEmail: Bool) {
        id = user.id ?? ""
        username = user.username
        email = includeEmail ? user.email : nil
        displayName = user.profile.displayName
        bio = user.profile.bio
        avatarURL = user.profile.avatarURL
        country = user.profile.country
        createdAt = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: user.createdAt))
    }
}

struct TokensBody: Encodable {
    let user: UserBody
    let accessToken: String
    let refreshToken: String
    let expiresIn: Int
    let tokenType = "Bearer"

    enum CodingKeys: String, CodingKey {
        case user
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case expiresIn = "expires_in"
        case tokenType = "token_type"
    }

    init(_ tokens: AccountService.Tokens) {
        user = UserBody(tokens.user, includeEmail: true)
        accessToken = tokens.accessToken
        refreshToken = tokens.refreshToken
        expiresIn = tokens.expiresIn
    }
}
