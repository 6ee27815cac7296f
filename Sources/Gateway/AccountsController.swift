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
            return try JSONResponse.make(TokensBody(tokens), status: .created, carriesTokens: true)
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
            return try JSONResponse.make(TokensBody(tokens), carriesTokens: true)
        }
        router.post("/v1/auth/refresh") { request, context -> Response in
            try admitClient(request, context)
            let body = try await JSONBody(request, context: context)
            let tokens = try await mapped { try await accounts.refresh(try body.string("refresh_token")) }
            return try JSONResponse.make(TokensBody(tokens), carriesTokens: true)
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

    /// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, spaces
    /// and tabs around the token ignored), read byte by byte: no Foundation string work per request.
    func bearer(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization], let token = Self.bearerToken(header) else {
            throw APIError(.unauthorized, code: "unauthorized", message: "missing bearer access token")
        }
        return token
    }

    static func bearerToken(_ header: String) -> String? {
        let bytes = header.utf8
        let scheme = "bearer ".utf8
        guard bytes.count > scheme.count,
            zip(bytes, scheme).allSatisfy({ byte, expected in expected == 0x20 ? byte == 0x20 : byte | 0x20 == expected })
        else { return nil }
        func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        var token = bytes.dropFirst(scheme.count)
        while let first = token.first, isBlank(first) { token = token.dropFirst() }
        while let last = token.last, isBlank(last) { token = token.dropLast() }
        return token.isEmpty ? nil : String(decoding: token, as: UTF8.self)
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
/// Decoded by one `JSONDecoder` made once (no `JSONSerialization`, `NSDictionary` or dynamic
/// casts per request); each member is kept only as far as the accessors need it.
struct JSONBody {
    /// A member's value: a string, `null`, or anything else (which no accessor takes).
    enum Value: Decodable {
        case string(String)
        case null
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let text = try? container.decode(String.self) {
                self = .string(text)
            } else if (try? container.decode(Bool.self)) != nil || (try? container.decode(Double.self)) != nil
                || (try? container.decode([Value].self)) != nil || (try? container.decode([String: Value].self)) != nil
            {
                self = .other
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
            }
        }
    }

    static let decoder = JSONDecoder()

    let object: [String: Value]

    init(_ request: Request, context: some RequestContext) async throws {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: AccountsController<PlumeRequestContext>.bodyBytesMax)
        } catch {
            throw APIError(.contentTooLarge, code: "payload_too_large", message: "the body exceeds \(AccountsController<PlumeRequestContext>.bodyBytesMax) bytes")
        }
        guard let object = try? Self.decoder.decode([String: Value].self, from: buffer) else {
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
        switch object[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case .other?: throw APIError(.unprocessableContent, code: "invalid_\(key)", message: "\(key) must be a string")
        }
    }

    /// Absent: leave as is; `null`: clear; a string: set.
    func nullableString(_ key: String) throws -> String?? {
        switch object[key] {
        case nil: return .none
        case .null?: return .some(.none)
        case .string(let text)?: return .some(text)
        case .other?:
            throw APIError(.unprocessableContent, code: "invalid_\(key)", message: "\(key) must be a string or null")
        }
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
        createdAt = Timestamp.rfc3339(user.createdAt)
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
