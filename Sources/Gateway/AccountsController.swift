import GameDomain
import Hummingbird
import PlatformServices

/// `/v1/auth/…` and `/v1/users/…`: accounts, sessions and profiles.
///
/// Three groups: sign-up, login and refresh pass the node's per-address brake first
/// (``ClientAddressThrottle``); logout and the caller's own profile need a caller
/// (``BearerAuthenticator``, ``RequireCaller``) and spend the caller's writes
/// (``UserWriteThrottle``); other users' public profiles are open.
public struct AccountsController: Sendable {
    typealias Context = PlumeRequestContext
    let accounts: AccountService
    let throttle: AuthThrottle

    public init(accounts: AccountService, throttle: AuthThrottle) {
        self.accounts = accounts
        self.throttle = throttle
    }

    /// Adds the routes under `v1` (the `/v1` group).
    public func addRoutes(to v1: RouterGroup<PlumeRequestContext>) {
        v1.group("auth")
            .add(middleware: ClientAddressThrottle(throttle: throttle))
            .post("signup", use: signup)
            .post("login", use: login)
            .post("refresh", use: refresh)
        v1.group()
            .add(middleware: BearerAuthenticator(accounts: accounts))
            .add(middleware: RequireCaller())
            .add(middleware: UserWriteThrottle(throttle: throttle))
            .post("auth/logout", use: logout)
            .get("users/me", use: me)
            .patch("users/me", use: updateProfile)
        v1.get("users/:id", use: user)
    }

    struct SignupRequest: Decodable {
        let username: String
        let email: String
        let password: String
    }

    struct LoginRequest: Decodable {
        let username: String?
        let email: String?
        let password: String
    }

    struct RefreshRequest: Decodable {
        let refreshToken: String
    }

    /// `PATCH /v1/users/me`: an absent member leaves its field as it is; `null` clears the
    /// nullable ones (`avatar_url`, `country`); an unknown member is refused.
    struct ProfilePatch: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey {
            case displayName, bio, avatarUrl, country
        }
        let change: User.ProfileChange

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            let members = try decoder.container(keyedBy: CodingKeys.self)
            func nullable(_ key: CodingKeys) throws -> String?? {
                guard members.contains(key) else { return .none }
                return try members.decodeNil(forKey: key) ? .some(nil) : .some(members.decode(String.self, forKey: key))
            }
            change = User.ProfileChange(
                displayName: try members.decodeIfPresent(String.self, forKey: .displayName),
                bio: try members.decodeIfPresent(String.self, forKey: .bio),
                avatarURL: try nullable(.avatarUrl),
                country: try nullable(.country)
            )
        }
    }

    @Sendable func signup(_ request: Request, context: Context) async throws -> EditedResponse<TokensBody> {
        let body = try await request.decode(as: SignupRequest.self, context: context)
        let tokens = try await APIError.mapped(context) {
            try await accounts.signup(username: body.username, email: body.email, password: body.password)
        }
        return EditedResponse(status: .created, headers: Self.noStore, response: TokensBody(tokens))
    }

    @Sendable func login(_ request: Request, context: Context) async throws -> EditedResponse<TokensBody> {
        let body = try await request.decode(as: LoginRequest.self, context: context)
        // The name the account is looked up by, as the accounts service picks it.
        let name = (body.username?.isEmpty == false ? body.username : body.email) ?? ""
        let client = throttle.clientAddress(headers: request.headers, peer: context.remoteAddress)
        try throttle.admitLogin(name: name, client: client)
        let tokens: AccountService.Tokens
        do {
            tokens = try await accounts.login(username: body.username, email: body.email, password: body.password)
        } catch {
            if let detail = error.detail {
                context.logger.notice("cluster failure", metadata: ["kind": "\(error.kind)", "detail": "\(detail)"])
            }
            if case .badCredentials = error.kind {
                throttle.loginFailed()
            } else {
                throttle.loginUndecided(name: name, client: client)
            }
            throw APIError(error)
        }
        throttle.loginSucceeded(name: name, client: client)
        return EditedResponse(headers: Self.noStore, response: TokensBody(tokens))
    }

    @Sendable func refresh(_ request: Request, context: Context) async throws -> EditedResponse<TokensBody> {
        let body = try await request.decode(as: RefreshRequest.self, context: context)
        let tokens = try await APIError.mapped(context) { try await accounts.refresh(body.refreshToken) }
        return EditedResponse(headers: Self.noStore, response: TokensBody(tokens))
    }

    @Sendable func logout(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let caller = try context.requireIdentity()
        try await APIError.mapped(context) { try await accounts.logout(caller) }
        return .noContent
    }

    @Sendable func me(_ request: Request, context: Context) async throws -> UserBody {
        let caller = try context.requireIdentity()
        return UserBody(try await APIError.mapped(context) { try await accounts.me(caller) }, includeEmail: true)
    }

    @Sendable func updateProfile(_ request: Request, context: Context) async throws -> UserBody {
        let caller = try context.requireIdentity()
        let patch = try await request.decode(as: ProfilePatch.self, context: context)
        return UserBody(
            try await APIError.mapped(context) { try await accounts.updateProfile(caller, change: patch.change) },
            includeEmail: true
        )
    }

    @Sendable func user(_ request: Request, context: Context) async throws -> UserBody {
        let id = try context.parameters.require("id")
        return UserBody(try await APIError.mapped(context) { try await accounts.user(id: id) }, includeEmail: false)
    }

    /// Responses that carry tokens: no cache or proxy keeps them.
    static let noStore: HTTPFields = [.cacheControl: "no-store"]
}

/// A user as the edge shows it; `email` only to the user.
struct UserBody: ResponseEncodable {
    let id: String
    let username: String
    let email: String?
    let displayName: String
    let bio: String
    let avatarUrl: String?
    let country: String?
    let createdAt: String

    init(_ user: User.State, includeEmail: Bool) {
        id = user.id ?? ""
        username = user.username
        email = includeEmail ? user.email : nil
        displayName = user.profile.displayName
        bio = user.profile.bio
        avatarUrl = user.profile.avatarURL
        country = user.profile.country
        createdAt = Timestamp.rfc3339(user.createdAt)
    }
}

/// What sign-up, login and refresh answer.
struct TokensBody: ResponseEncodable {
    let user: UserBody
    let accessToken: String
    let refreshToken: String
    let expiresIn: Int
    let tokenType = "Bearer"

    init(_ tokens: AccountService.Tokens) {
        user = UserBody(tokens.user, includeEmail: true)
        accessToken = tokens.accessToken
        refreshToken = tokens.refreshToken
        expiresIn = tokens.expiresIn
    }
}
