import ClusterCore
import ClusterRuntime
import Crypto
import Foundation
import GameDomain
import JWTKit
import Synchronization
import WireProtocol

/// Accounts: signup with unique usernames and emails, login, rotating refresh tokens, logout and
/// profiles. Every write goes through the user's (or the name's) entity on its shard's primary.
public final class AccountService: Sendable {
    /// A failure the HTTP edge maps to a status and a code.
    public struct Failure: Error, Equatable, Sendable {
        public enum Kind: Sendable, Equatable {
            case invalid(field: String)
            case usernameTaken
            case emailTaken
            case badCredentials
            case unauthorized
            case notFound
            /// The entity's queue or the node's in-flight writes are full: retry shortly.
            case overloaded
            /// The deadline passed before the answer: a write may or may not have been applied.
            case timeout
            case unavailable
        }

        public var kind: Kind
        public var message: String

        /// What a failed cluster call means for the client: overloaded (including a command
        /// that could not start before its deadline: nothing was applied), timed out (outcome
        /// unknown), or unavailable (no primary yet, storage failed, shutting down, a reply
        /// that does not decode …).
        public static func cluster(_ error: any Error) -> Failure {
            let code: String? =
                switch error {
                case let error as EntityError: error.code
                case let error as ReplicationError: ClusterNode.code(of: error)
                case TransportError.overloaded: "overloaded"
                case TransportError.timeout: "timeout"
                default: nil
                }
            switch code {
            case "overloaded", "not_started": return Failure(kind: .overloaded, message: "\(error)")
            case "timeout": return Failure(kind: .timeout, message: "\(error)")
            default: return Failure(kind: .unavailable, message: "\(error)")
            }
        }
    }

    /// What signup, login and refresh answer.
    public struct Tokens: Sendable {
        public var user: User.State
        public var accessToken: String
        public var refreshToken: String
        public var expiresIn: Int
    }

    struct AccessClaims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var sid: String

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
        }
    }

    public static let accessTokenLifetime: TimeInterval = 15 * 60
    public static let refreshTokenLifetime: TimeInterval = 30 * 24 * 3600

    private let ask: @Sendable (String, EntityCodec.Command) async throws -> EntityCodec.Reply
    private let keys: JWTKeyCollection
    /// Access tokens whose signature was already checked, with their claims: a client presents
    /// one token for up to 15 minutes, and checking it (JSON parsing, HMAC) dominated the cost of
    /// a request. Expiry is checked on every use; revocation is the session's business anyway.
    private let verified = Mutex<[String: (userID: String, sessionID: String, expiresAt: Date)]>([:])
    static let verifiedTokensMax = 100_000
    /// The length of the ids a client may send back (user ids are UUIDs, session ids 16
    /// characters): anything outside it names nothing, and is refused before it becomes a key.
    static let idBytes = 1...64
    private let hasher: PasswordHasher
    private let now: @Sendable () -> Double

    /// - Parameters:
    ///   - ask: sends a command to an entity wherever it lives (``asking(_:local:timeout:)``).
    ///   - tokenSecret: the secret access tokens are signed with (through a derived 256-bit key);
    ///     every node of a cluster uses the same one.
    public init(
        tokenSecret: String,
        hasher: PasswordHasher = PasswordHasher(),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        ask: @escaping @Sendable (String, EntityCodec.Command) async throws -> EntityCodec.Reply
    ) async {
        self.ask = ask
        self.hasher = hasher
        self.now = now
        keys = JWTKeyCollection()
        // A 256-bit key derived from the secret, whatever its length (HS256 wants at least 32 bytes).
        let key = SymmetricKey(data: SHA256.hash(data: Array("plume-access-tokens:\(tokenSecret)".utf8)))
        await keys.add(hmac: HMACKey(key: key), digestAlgorithm: .sha256)
    }

    /// Builds the `ask` of a cluster node: binary commands and replies over ``ClusterNode/ask(key:command:deadline:)``,
    /// each with `timeout` to get its answer (see ``ClusterNode/ask(key:command:timeout:)``).
    /// With `local` (the node's entity handler), a command for a shard this node is designated
    /// to lead goes straight to it, typed, without encoding the command and the reply.
    public static func asking(
        _ node: ClusterNode,
        local: EntityService? = nil,
        timeout: Duration = .seconds(5)
    ) -> @Sendable (String, EntityCodec.Command) async throws -> EntityCodec.Reply {
        { key, command in
            let deadline = ContinuousClock.now + timeout
            do {
                if let local, let shard = node.designatedShard(forKey: key) {
                    do {
                        return try await local.handle(shard: shard, key: key, command: command, deadline: deadline)
                    } catch ReplicationError.notPrimary {
                        // Still electing, or the ring moved: the general path waits and forwards.
                    }
                }
                return try EntityCodec.decodeReply(
                    try await node.ask(key: key, command: EntityCodec.encode(command), deadline: deadline)
                )
            } catch {
                throw Failure.cluster(error)
            }
        }
    }

    // MARK: - Signup and login

    public func signup(username: String, email: String, password: String) async throws(Failure) -> Tokens {
        try validate { () throws(User.Failure) in
            try Validation.username(username)
            try Validation.email(email)
            try Validation.password(password)
        }
        let userID = UUID().uuidString.lowercased()
        let usernameKey = EntityKey.username(username)
        let emailKey = EntityKey.email(email)
        // Step 1: reserve both names for this user id (idempotent; the first reservation wins).
        if case .failure = try await call(usernameKey, .name(.reserve(userID: userID))) {
            throw Failure(kind: .usernameTaken, message: "the username \"\(username)\" is taken")
        }
        if case .failure = try await call(emailKey, .name(.reserve(userID: userID))) {
            _ = try? await call(usernameKey, .name(.release(userID: userID)))
            throw Failure(kind: .emailTaken, message: "the email \"\(email)\" is taken")
        }
        // Step 2: create the user, then confirm the names.
        let passwordHash: String
        do {
            passwordHash = try await hasher.hash(password, on: .singleton)
        } catch {
            throw Failure(kind: .unavailable, message: "password hashing failed")
        }
        let created = try await call(EntityKey.user(userID), .user(.create(id: userID, username: username, email: email, passwordHash: passwordHash)))
        if case .failure(let code, let message) = created {
            _ = try? await call(usernameKey, .name(.release(userID: userID)))
            _ = try? await call(emailKey, .name(.release(userID: userID)))
            throw Self.failure(code: code, message: message)
        }
        // A reservation can be lost only if this signup stalled past its TTL and another took
        // the name over; the names are then given back and the user (never handed out) stays
        // unreachable. If a confirmation does not get an answer, the next login with the
        // password finishes the signup (see ``login(username:email:password:)``).
        if case .failure = try await call(emailKey, .name(.confirm(userID: userID))) {
            _ = try? await call(usernameKey, .name(.release(userID: userID)))
            throw Failure(kind: .emailTaken, message: "the email \"\(email)\" was taken while this signup was in progress")
        }
        if case .failure = try await call(usernameKey, .name(.confirm(userID: userID))) {
            _ = try? await call(emailKey, .name(.release(userID: userID)))
            throw Failure(kind: .usernameTaken, message: "the username \"\(username)\" was taken while this signup was in progress")
        }
        return try await openSession(userID: userID)
    }

    /// Logs in with a username or an email.
    public func login(username: String?, email: String?, password: String) async throws(Failure) -> Tokens {
        let bad = Failure(kind: .badCredentials, message: "wrong username, email or password")
        let nameKey: String
        // A name longer than any account can have names none: refused without a lookup.
        if let username, !username.isEmpty {
            guard username.utf8.count <= Validation.usernameLength.upperBound else { throw bad }
            nameKey = EntityKey.username(username)
        } else if let email, !email.isEmpty {
            guard email.utf8.count <= Validation.emailBytesMax else { throw bad }
            nameKey = EntityKey.email(email)
        } else {
            throw Failure(kind: .invalid(field: "username"), message: "give a username or an email")
        }
        guard case .owner(let owner?, let confirmed) = try await call(nameKey, .getName) else { throw bad }
        guard case .user(let user?) = try await call(EntityKey.user(owner), .getUser),
            await hasher.verify(password, against: user.passwordHash, on: .singleton)
        else { throw bad }
        if !confirmed {
            // Its signup created the user but did not get to confirm the names (its client saw
            // an error or no answer): the password proves the claim, so finish the signup.
            for key in [EntityKey.email(user.email), EntityKey.username(user.username)] {
                if case .failure = try await call(key, .name(.confirm(userID: owner))) { throw bad }
            }
        }
        return try await openSession(userID: owner)
    }

    private func openSession(userID: String) async throws(Failure) -> Tokens {
        let sessionID = Self.randomToken(bytes: 12)
        let secret = Self.randomToken(bytes: 32)
        let refreshToken = "\(userID).\(sessionID).\(secret)"
        let reply = try await call(
            EntityKey.user(userID),
            .user(.openSession(id: sessionID, refreshTokenHash: Self.digest(refreshToken), expiresAt: now() + Self.refreshTokenLifetime))
        )
        guard case .user(let user?) = reply else { throw Self.failure(reply) }
        return try await tokens(user: user, sessionID: sessionID, refreshToken: refreshToken)
    }

    /// Rotates a refresh token. Presenting an outdated one revokes its session.
    public func refresh(_ refreshToken: String) async throws(Failure) -> Tokens {
        let parts = refreshToken.split(separator: ".").map(String.init)
        let invalid = Failure(kind: .unauthorized, message: "the refresh token is invalid, expired or revoked")
        guard parts.count == 3, Self.idBytes.contains(parts[0].utf8.count), Self.idBytes.contains(parts[1].utf8.count)
        else { throw invalid }
        let (userID, sessionID) = (parts[0], parts[1])
        let next = "\(userID).\(sessionID).\(Self.randomToken(bytes: 32))"
        let reply = try await call(
            EntityKey.user(userID),
            .user(
                .refresh(
                    sessionID: sessionID,
                    presentedHash: Self.digest(refreshToken),
                    newHash: Self.digest(next),
                    expiresAt: now() + Self.refreshTokenLifetime
                )
            )
        )
        guard case .user(let user?) = reply else { throw invalid }
        return try await tokens(user: user, sessionID: sessionID, refreshToken: next)
    }

    /// Ends the session of an access token.
    public func logout(accessToken: String) async throws(Failure) {
        let (userID, sessionID) = try await authenticate(accessToken)
        let reply = try await call(EntityKey.user(userID), .user(.closeSession(id: sessionID)))
        if case .failure(let code, let message) = reply { throw Self.failure(code: code, message: message) }
    }

    // MARK: - Profiles

    /// The user behind a valid access token whose session is still open.
    public func me(accessToken: String) async throws(Failure) -> User.State {
        let (userID, sessionID) = try await authenticate(accessToken)
        guard case .user(let user?) = try await call(EntityKey.user(userID), .getUser),
            let session = user.sessions[sessionID], !session.isRevoked
        else { throw Failure(kind: .unauthorized, message: "the session has ended") }
        return user
    }

    /// Updates the profile in one command to the user's entity, which also checks that the
    /// token's session is still open.
    public func updateProfile(accessToken: String, change: User.ProfileChange) async throws(Failure) -> User.State {
        let (userID, sessionID) = try await authenticate(accessToken)
        // Checked here too, before the command is encoded: what the rules refuse never travels.
        try validate { () throws(User.Failure) in try change.validate() }
        let reply = try await call(EntityKey.user(userID), .user(.updateProfileInSession(sessionID: sessionID, change)))
        guard case .user(let user?) = reply else { throw Self.failure(reply) }
        return user
    }

    public func user(id: String) async throws(Failure) -> User.State {
        guard Self.idBytes.contains(id.utf8.count), case .user(let user?) = try await call(EntityKey.user(id), .getUser) else {
            throw Failure(kind: .notFound, message: "no user \(id)")
        }
        return user
    }

    // MARK: - Helpers

    private func tokens(user: User.State, sessionID: String, refreshToken: String) async throws(Failure) -> Tokens {
        let issued = now()
        let claims = AccessClaims(
            sub: SubjectClaim(value: user.id ?? ""),
            exp: ExpirationClaim(value: Date(timeIntervalSince1970: issued + Self.accessTokenLifetime)),
            iat: IssuedAtClaim(value: Date(timeIntervalSince1970: issued)),
            sid: sessionID
        )
        do {
            let token = try await keys.sign(claims)
            return Tokens(user: user, accessToken: token, refreshToken: refreshToken, expiresIn: Int(Self.accessTokenLifetime))
        } catch {
            throw Failure(kind: .unavailable, message: "cannot sign the access token")
        }
    }

    private func authenticate(_ token: String) async throws(Failure) -> (userID: String, sessionID: String) {
        if let known = verified.withLock({ $0[token] }), known.expiresAt > Date() {
            return (known.userID, known.sessionID)
        }
        do {
            let claims = try await keys.verify(token, as: AccessClaims.self)
            verified.withLock { cache in
                if cache.count >= Self.verifiedTokensMax { cache.removeAll(keepingCapacity: true) }
                cache[token] = (claims.sub.value, claims.sid, claims.exp.value)
            }
            return (claims.sub.value, claims.sid)
        } catch {
            throw Failure(kind: .unauthorized, message: "the access token is invalid or expired")
        }
    }

    private func call(_ key: String, _ command: EntityCodec.Command) async throws(Failure) -> EntityCodec.Reply {
        do {
            return try await ask(key, command)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(kind: .unavailable, message: "\(error)")
        }
    }

    private func validate(_ body: () throws(User.Failure) -> Void) throws(Failure) {
        do {
            try body()
        } catch {
            if case .invalid(let field, let message) = error {
                throw Failure(kind: .invalid(field: field), message: "\(field) \(message)")
            }
            throw Failure(kind: .invalid(field: "body"), message: "\(error)")
        }
    }

    static func failure(_ reply: EntityCodec.Reply) -> Failure {
        if case .failure(let code, let message) = reply { return failure(code: code, message: message) }
        return Failure(kind: .unavailable, message: "unexpected reply")
    }

    static func failure(code: String, message: String) -> Failure {
        if code.hasPrefix("invalid:") { return Failure(kind: .invalid(field: String(code.dropFirst(8))), message: message) }
        switch code {
        case "not_found": return Failure(kind: .notFound, message: message)
        case "session_invalid", "session_revoked": return Failure(kind: .unauthorized, message: message)
        default: return Failure(kind: .unavailable, message: "\(code): \(message)")
        }
    }

    static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func randomToken(bytes: Int) -> String {
        var random = SystemRandomNumberGenerator()
        let raw = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &random) }
        return Data(raw).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
