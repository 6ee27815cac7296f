import Crypto
import EntityRuntime
import Foundation
import GameDomain
import JWTKit
import Synchronization

/// Accounts: signup with unique usernames and emails, login, rotating refresh tokens, logout and
/// profiles. Every write goes through the user's (or the name's) entity on its shard's primary.
public final class AccountService: Sendable {
    /// What the HTTP edge maps to a status and a code (the one failure of every service).
    public typealias Failure = ServiceFailure

    /// Who a valid access token speaks for: the user and the session the token was minted for.
    /// The HTTP edge's authenticator puts it into the request context.
    public struct Caller: Sendable, Equatable {
        public var userID: String
        public var sessionID: String

        public init(userID: String, sessionID: String) {
            self.userID = userID
            self.sessionID = sessionID
        }
    }

    /// What signup, login and refresh answer.
    public struct Tokens: Sendable {
        public var user: User.State
        public var accessToken: String
        public var refreshToken: String
        public var expiresIn: Int
    }

    /// An access token's claims: who (`sub`, `sid`), by whom for whom (`iss`, `aud`), and when
    /// (`iat`, `nbf`, `exp`). Its header names the key (`kid`), so keys can be rotated.
    struct AccessClaims: JWTPayload {
        var iss: IssuerClaim
        var aud: AudienceClaim
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim
        var iat: IssuedAtClaim
        var sid: String

        struct Refused: Error {
            let claim: String
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            // A minute of leeway for clocks that differ between nodes.
            try nbf.verifyNotBefore(currentDate: Date().addingTimeInterval(60))
            guard iss.value == AccountService.tokenIssuer else { throw Refused(claim: "iss") }
            try aud.verifyIntendedAudience(includes: AccountService.tokenAudience)
            guard iat.value <= Date().addingTimeInterval(60) else { throw Refused(claim: "iat") }
        }
    }

    /// The `iss` of Plume's access tokens, and the `aud` they are for.
    static let tokenIssuer = "plume"
    static let tokenAudience = "plume-api"

    public static let accessTokenLifetime: TimeInterval = 15 * 60
    /// How long a session lives from its login (`[accounts] session_max_days`): refreshes rotate
    /// its tokens but never extend it.
    public let sessionLifetime: TimeInterval

    private let entities: Entities
    private let keys: JWTKeyCollection
    /// The signing key's id, in every token's header: derived from the key, so every node of a
    /// cluster names it alike, and a token of another key (or none) finds no key to verify with.
    private let keyID: JWKIdentifier
    /// Access tokens whose signature was already checked, with their claims: a client presents
    /// one token for up to 15 minutes, and checking it (JSON parsing, HMAC) dominated the cost of
    /// a request. Expiry is checked on every use; revocation is the session's business anyway.
    private let verified = Mutex<[String: (userID: String, sessionID: String, expiresAt: Date)]>([:])
    static let verifiedTokensMax = 100_000
    /// The length of the ids a client may send back (user ids are UUIDs, session ids 16
    /// characters): anything outside it names nothing, and is refused before it becomes a key.
    static let idBytes = 1...64
    private let hasher: PasswordHasher
    /// A hash of a random password, checked against when a login names no account.
    private let dummyHash: String
    /// Password hashes and checks running now, and how many may (past it: `overloaded`).
    private let hashing = Mutex(0)
    public let hashesMax: Int
    /// Two per core: scrypt runs on NIO's thread pool, and more at once would only queue there
    /// while their requests hold memory and connections.
    public static var defaultHashesMax: Int { max(2, 2 * ProcessInfo.processInfo.activeProcessorCount) }
    private let now: @Sendable () -> Double

    /// Told of every session that ended (a logout, or a refresh token presented again, which
    /// revokes its session): the user's id and the session's. The real-time edge closes the
    /// session's sockets, wherever they are.
    private let sessionEnded = Mutex<SessionEndedHandler?>(nil)

    /// The handler in a struct (a bare closure in a lock's storage gains two thunks per read).
    private struct SessionEndedHandler: Sendable {
        let take: @Sendable (String, String) -> Void
    }

    /// Sets who is told of each session that ends (``logout(_:)``, a replayed refresh token).
    public func onSessionEnded(_ handler: @escaping @Sendable (_ userID: String, _ sessionID: String) -> Void) {
        sessionEnded.withLock { $0 = SessionEndedHandler(take: handler) }
    }

    private func ended(_ userID: String, _ sessionID: String) {
        sessionEnded.withLock { $0 }?.take(userID, sessionID)
    }

    /// - Parameters:
    ///   - entities: reaches the user and name entities wherever they live (``NodeEntityTransport``).
    ///   - tokenSecret: the secret access tokens are signed with (through a derived 256-bit key);
    ///     every node of a cluster uses the same one.
    public init(
        tokenSecret: String,
        hasher: PasswordHasher = PasswordHasher(),
        hashesMax: Int = AccountService.defaultHashesMax,
        sessionLifetime: Duration = .seconds(30 * 24 * 3600),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        entities: Entities
    ) async {
        self.sessionLifetime = Double(sessionLifetime.components.seconds)
        self.entities = entities
        self.hasher = hasher
        self.hashesMax = hashesMax
        self.now = now
        dummyHash = (try? await hasher.hash(Self.randomToken(bytes: 24), on: .singleton)) ?? ""
        keys = JWTKeyCollection()
        // A 256-bit key derived from the secret, whatever its length (HS256 wants at least 32 bytes).
        let key = SymmetricKey(data: SHA256.hash(data: Array("plume-access-tokens:\(tokenSecret)".utf8)))
        keyID = JWKIdentifier(string: Self.keyID(of: key))
        await keys.add(hmac: HMACKey(key: key), digestAlgorithm: .sha256, kid: keyID)
        // No default key: a token must name its key.
        _ = await keys.removeAll(except: [keyID], clearingDefault: true)
    }

    // MARK: - Signup and login

    public func signup(username: String, email: String, password: String) async throws(Failure) -> Tokens {
        try validate { () throws(User.Failure) in
            try Validation.username(username)
            try Validation.email(email)
            try Validation.password(password)
        }
        // Hashed first: a taken name then costs what a free one does (no timing hint), and a
        // signup refused for load has reserved nothing.
        let passwordHash = try await withHashSlot { () async throws(Failure) -> String in
            do {
                return try await hasher.hash(password, on: .singleton)
            } catch {
                throw Failure(kind: .unavailable, message: "password hashing failed")
            }
        }
        let userID = UUID().uuidString.lowercased()
        let usernameName = entities.ref(NameReservationKind.self, key: NameReservationKind.username(username))
        let emailName = entities.ref(NameReservationKind.self, key: NameReservationKind.email(email))
        let user = entities.ref(UserKind.self, userID)
        // Reserve both names for this user id (idempotent; the first reservation wins), create
        // the user, then confirm the names; a refused step gives back what the earlier ones took.
        var saga = Saga<Failure>()
        let taken = { (name: String) in Failure(kind: .usernameTaken, message: "the username \"\(name)\" is taken") }
        try await saga.step(
            { () async throws(Failure) in try await ask(usernameName, .reserve(userID: userID)) },
            refused: { _ in taken(username) },
            compensation: { _ = try? await self.ask(usernameName, .release(userID: userID)) }
        )
        try await saga.step(
            { () async throws(Failure) in try await ask(emailName, .reserve(userID: userID)) },
            refused: { _ in Failure(kind: .emailTaken, message: "the email \"\(email)\" is taken") },
            compensation: { _ = try? await self.ask(emailName, .release(userID: userID)) }
        )
        try await saga.step(
            { () async throws(Failure) in
                try await ask(user, .create(id: userID, username: username, email: email, passwordHash: passwordHash))
            },
            refused: Failure.init
        )
        // A reservation can be lost only if this signup stalled past its TTL and another took
        // the name over; the names are then given back and the user (never handed out) stays
        // unreachable. If a confirmation does not get an answer, the next login with the
        // password finishes the signup (see ``login(username:email:password:)``).
        try await saga.step(
            { () async throws(Failure) in try await ask(emailName, .confirm(userID: userID)) },
            refused: { _ in
                Failure(
                    kind: .emailTaken,
                    message: "the email \"\(email)\" was taken while this signup was in progress"
                )
            }
        )
        try await saga.step(
            { () async throws(Failure) in try await ask(usernameName, .confirm(userID: userID)) },
            refused: { _ in
                Failure(
                    kind: .usernameTaken,
                    message: "the username \"\(username)\" was taken while this signup was in progress"
                )
            }
        )
        return try await openSession(userID: userID)
    }

    /// Logs in with a username or an email.
    public func login(username: String?, email: String?, password: String) async throws(Failure) -> Tokens {
        let bad = Failure(kind: .badCredentials, message: "wrong username, email or password")
        let nameKey: String
        // A name longer than any account can have names none: refused without a lookup.
        if let username, !username.isEmpty {
            guard username.utf8.count <= Validation.usernameLength.upperBound else { throw bad }
            nameKey = NameReservationKind.username(username)
        } else if let email, !email.isEmpty {
            guard email.utf8.count <= Validation.emailBytesMax else { throw bad }
            nameKey = NameReservationKind.email(email)
        } else {
            throw Failure(kind: .invalid(field: "username"), message: "give a username or an email")
        }
        var found: (name: NameReservation.State, owner: String, user: User.State)?
        if case .success(let name) = try await read(entities.ref(NameReservationKind.self, key: nameKey), .owner),
            let owner = name.owner,
            case .success(let user) = try await read(entities.ref(UserKind.self, owner), .account)
        {
            found = (name, owner, user)
        }
        // An unknown name costs the same scrypt check as a wrong password (against a hash of
        // nothing anybody knows), so the time taken does not tell which names exist.
        let stored = found?.user.passwordHash ?? dummyHash
        let matches = try await withHashSlot { () async throws(Failure) -> Bool in
            await hasher.verify(password, against: stored, on: .singleton)
        }
        guard let (name, owner, user) = found, matches else { throw bad }
        if !name.isConfirmed {
            // Its signup created the user but did not get to confirm the names (its client saw
            // an error or no answer): the password proves the claim, so finish the signup.
            for key in [NameReservationKind.email(user.email), NameReservationKind.username(user.username)] {
                if case .failure = try await ask(
                    entities.ref(NameReservationKind.self, key: key),
                    .confirm(userID: owner)
                ) {
                    throw bad
                }
            }
        }
        return try await openSession(userID: owner)
    }

    private func openSession(userID: String) async throws(Failure) -> Tokens {
        let sessionID = Self.randomToken(bytes: 12)
        let secret = Self.randomToken(bytes: 32)
        let refreshToken = "\(userID).\(sessionID).\(secret)"
        let reply = try await ask(
            entities.ref(UserKind.self, userID),
            .openSession(
                id: sessionID,
                refreshTokenHash: Self.digest(refreshToken),
                expiresAt: now() + sessionLifetime
            )
        )
        return try await tokens(
            user: try reply.mapError(Failure.init).get(),
            sessionID: sessionID,
            refreshToken: refreshToken
        )
    }

    /// Rotates a refresh token. Presenting an outdated one revokes its session.
    public func refresh(_ refreshToken: String) async throws(Failure) -> Tokens {
        let parts = refreshToken.split(separator: ".").map(String.init)
        let invalid = Failure(kind: .unauthorized, message: "the refresh token is invalid, expired or revoked")
        guard parts.count == 3, Self.idBytes.contains(parts[0].utf8.count), Self.idBytes.contains(parts[1].utf8.count)
        else { throw invalid }
        let (userID, sessionID) = (parts[0], parts[1])
        let next = "\(userID).\(sessionID).\(Self.randomToken(bytes: 32))"
        let reply = try await ask(
            entities.ref(UserKind.self, userID),
            .refresh(
                sessionID: sessionID,
                presentedHash: Self.digest(refreshToken),
                newHash: Self.digest(next),
                expiresAt: now() + sessionLifetime
            )
        )
        guard case .success(let user) = reply else {
            if case .failure(.sessionRevoked) = reply { ended(userID, sessionID) }
            throw invalid
        }
        return try await tokens(user: user, sessionID: sessionID, refreshToken: next)
    }

    /// Ends the caller's session.
    public func logout(_ caller: Caller) async throws(Failure) {
        if case .failure(let failure) = try await ask(
            entities.ref(UserKind.self, caller.userID),
            .closeSession(id: caller.sessionID)
        ) {
            throw Failure(failure)
        }
        ended(caller.userID, caller.sessionID)
    }

    // MARK: - Profiles

    /// The caller's account, while its session is still open.
    public func me(_ caller: Caller) async throws(Failure) -> User.State {
        // The primary checks the session: no password hash or session leaves it.
        let reply = try await read(entities.ref(UserKind.self, caller.userID), .inSession(sessionID: caller.sessionID))
        guard case .success(let user) = reply else {
            throw Failure(kind: .unauthorized, message: "the session has ended")
        }
        return user
    }

    /// Updates the profile in one command to the user's entity, which also checks that the
    /// caller's session is still open.
    public func updateProfile(_ caller: Caller, change: User.ProfileChange) async throws(Failure) -> User.State {
        // Checked here too, before the command is encoded: what the rules refuse never travels.
        try validate { () throws(User.Failure) in try change.validate() }
        let reply = try await ask(
            entities.ref(UserKind.self, caller.userID),
            .updateProfileInSession(sessionID: caller.sessionID, change)
        )
        return try reply.mapError(Failure.init).get()
    }

    public func user(id: String) async throws(Failure) -> User.State {
        guard Self.idBytes.contains(id.utf8.count),
            case .success(let found) = try await read(entities.ref(UserKind.self, id), .publicProfile)
        else {
            throw Failure(kind: .notFound, message: "no user \(id)")
        }
        return found
    }

    // MARK: - Helpers

    private func tokens(user: User.State, sessionID: String, refreshToken: String) async throws(Failure) -> Tokens {
        let issued = now()
        let claims = AccessClaims(
            iss: IssuerClaim(value: Self.tokenIssuer),
            aud: AudienceClaim(value: [Self.tokenAudience]),
            sub: SubjectClaim(value: user.id ?? ""),
            exp: ExpirationClaim(value: Date(timeIntervalSince1970: issued + Self.accessTokenLifetime)),
            nbf: NotBeforeClaim(value: Date(timeIntervalSince1970: issued)),
            iat: IssuedAtClaim(value: Date(timeIntervalSince1970: issued)),
            sid: sessionID
        )
        do {
            let token = try await keys.sign(claims, kid: keyID)
            return Tokens(
                user: user,
                accessToken: token,
                refreshToken: refreshToken,
                expiresIn: Int(Self.accessTokenLifetime)
            )
        } catch {
            throw Failure(kind: .unavailable, message: "cannot sign the access token")
        }
    }

    /// Who an access token speaks for, if its signature holds and it has not expired (whether
    /// its session is still open is the user entity's to say, on every request that touches it).
    public func authenticate(accessToken token: String) async throws(Failure) -> Caller {
        if let known = verified.withLock({ $0[token] }), known.expiresAt > Date() {
            return Caller(userID: known.userID, sessionID: known.sessionID)
        }
        do {
            let claims = try await keys.verify(token, as: AccessClaims.self)
            verified.withLock { cache in
                if cache.count >= Self.verifiedTokensMax { cache.removeAll(keepingCapacity: true) }
                cache[token] = (claims.sub.value, claims.sid, claims.exp.value)
            }
            return Caller(userID: claims.sub.value, sessionID: claims.sid)
        } catch {
            throw Failure(kind: .unauthorized, message: "the access token is invalid or expired")
        }
    }

    /// Sends a command: the entity's refusal comes back as the result's failure, a cluster
    /// failure is thrown as the client should see it.
    private func ask<K: EntityKind>(_ entity: EntityRef<K>, _ command: K.State.Command) async throws(Failure)
        -> Result<K.Reply, K.Failure>
    {
        try await entity.outcome(command)
    }

    /// Reads an entity, as ``ask(_:_:)`` sends a command.
    private func read<K: EntityKind>(_ entity: EntityRef<K>, _ read: K.Read) async throws(Failure) -> Result<
        K.Reply, K.Failure
    > {
        try await entity.outcome(read: read)
    }

    /// Runs a password hash or check if fewer than ``hashesMax`` are running, else refuses with
    /// `overloaded` (503, retry shortly).
    private func withHashSlot<T>(_ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        let admitted = hashing.withLock { running -> Bool in
            guard running < hashesMax else { return false }
            running += 1
            return true
        }
        guard admitted else {
            throw Failure(kind: .overloaded, message: "too many password checks in progress; retry shortly")
        }
        defer { hashing.withLock { $0 -= 1 } }
        return try await body()
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

    /// A key's id: `hs256-` and the first 16 hex digits of the SHA-256 of the key.
    static func keyID(of key: SymmetricKey) -> String {
        let digest = key.withUnsafeBytes { SHA256.hash(data: Array($0)) }
        return "hs256-"
            + digest.prefix(8).map {
                String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16)
            }.joined()
    }

    /// The SHA-256 of a token, as lowercase hex (what the user entity stores for a refresh token).
    static func digest(_ token: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(token.utf8)) {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `bytes` random bytes as unpadded base64url (RFC 4648 §5).
    static func randomToken(bytes: Int) -> String {
        var random = SystemRandomNumberGenerator()
        let raw = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &random) }
        return base64URL(raw)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var text: [UInt8] = []
        text.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var bits = 0
            for byte in chunk { bits = bits << 8 | Int(byte) }
            bits <<= 8 * (3 - chunk.count)
            for position in 0...chunk.count { text.append(alphabet[(bits >> (18 - 6 * position)) & 0x3F]) }
            index += 3
        }
        return String(decoding: text, as: UTF8.self)
    }
}
