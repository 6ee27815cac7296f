/// A player account: identity, profile, and login sessions with rotating refresh tokens.
///
/// Secrets never enter the aggregate in clear: the password arrives already hashed (scrypt,
/// by the edge) and refresh tokens as their SHA-256 hashes.
public enum User {
    /// The most open sessions (devices logged in) one account keeps; a login past it signs out
    /// the session that would expire first.
    public static let sessionsMax = 32

    /// How many rotated-away refresh tokens a session remembers (to tell a replayed token from
    /// garbage).
    public static let previousRefreshTokensKept = 16

    public struct Session: Sendable, Equatable {
        public var id: String
        public var refreshTokenHash: String
        public var expiresAt: Double
        public var isRevoked: Bool
        /// The refresh tokens this session rotated away from, oldest first (at most
        /// ``User/previousRefreshTokensKept``): presenting one again revokes the session.
        public var previousRefreshTokenHashes: [String]

        public init(
            id: String,
            refreshTokenHash: String,
            expiresAt: Double,
            isRevoked: Bool,
            previousRefreshTokenHashes: [String] = []
        ) {
            self.id = id
            self.refreshTokenHash = refreshTokenHash
            self.expiresAt = expiresAt
            self.isRevoked = isRevoked
            self.previousRefreshTokenHashes = previousRefreshTokenHashes
        }
    }

    public struct Profile: Sendable, Equatable {
        public var displayName: String
        public var bio: String
        public var avatarURL: String?
        public var country: String?

        public init(displayName: String, bio: String = "", avatarURL: String? = nil, country: String? = nil) {
            self.displayName = displayName
            self.bio = bio
            self.avatarURL = avatarURL
            self.country = country
        }
    }

    /// A partial profile update: `nil` leaves a field as it is; `.some(nil)` clears an optional one.
    public struct ProfileChange: Sendable, Equatable {
        public var displayName: String?
        public var bio: String?
        public var avatarURL: String??
        public var country: String??

        public init(displayName: String? = nil, bio: String? = nil, avatarURL: String?? = nil, country: String?? = nil)
        {
            self.displayName = displayName
            self.bio = bio
            self.avatarURL = avatarURL
            self.country = country
        }

        /// Checks every field it sets against the input rules.
        public func validate() throws(Failure) {
            if let displayName { try Validation.displayName(displayName) }
            if let bio { try Validation.bio(bio) }
            if case .some(.some(let avatarURL)) = avatarURL { try Validation.avatarURL(avatarURL) }
            if case .some(.some(let country)) = country { try Validation.country(country) }
        }
    }

    public struct State: Aggregate {
        public var id: String?
        public var username = ""
        public var email = ""
        public var passwordHash = ""
        public var profile = Profile(displayName: "")
        public var createdAt: Double = 0
        public var sessions: [String: Session] = [:]

        public static let initial = State()

        public var exists: Bool { id != nil }

        /// The state without its password hash and sessions: what a command's reply carries
        /// (the secrets stay inside the entity; only `getUser` returns them, for login).
        public var withoutSecrets: State {
            var copy = self
            copy.passwordHash = ""
            copy.sessions = [:]
            return copy
        }

        public init() {}

        public func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            switch command {
            case .create(let id, let username, let email, let passwordHash):
                guard !exists else { throw .alreadyExists }
                try Validation.username(username)
                try Validation.email(email)
                guard !passwordHash.isEmpty else { throw .invalid(field: "password", message: "missing password hash") }
                return [
                    .created(
                        id: id,
                        username: username,
                        email: Validation.normalizedEmail(email),
                        passwordHash: passwordHash,
                        at: now
                    )
                ]

            case .updateProfileInSession(let sessionID, let change):
                guard exists else { throw .notFound }
                guard let session = sessions[sessionID], !session.isRevoked else { throw .sessionInvalid }
                return try handle(.updateProfile(change), now: now)

            case .updateProfile(let change):
                guard exists else { throw .notFound }
                try change.validate()
                var profile = self.profile
                if let name = change.displayName { profile.displayName = name }
                if let bio = change.bio { profile.bio = bio }
                if let avatar = change.avatarURL { profile.avatarURL = avatar }
                if let country = change.country { profile.country = country?.uppercased() }
                return profile == self.profile ? [] : [.profileUpdated(profile)]

            case .openSession(let sessionID, let refreshTokenHash, let expiresAt):
                guard exists else { throw .notFound }
                guard sessions[sessionID] == nil else { throw .invalid(field: "session", message: "session id in use") }
                // Sessions are bounded: revoked and expired ones are forgotten (nothing can use
                // them), and past `sessionsMax` open ones the one that expires first makes room.
                let ended = sessions.values.filter { $0.isRevoked || $0.expiresAt <= now }.map(\.id)
                let open = sessions.values.filter { !$0.isRevoked && $0.expiresAt > now }
                    .sorted { ($0.expiresAt, $0.id) < ($1.expiresAt, $1.id) }
                let evicted = open.prefix(max(0, open.count - User.sessionsMax + 1)).map(\.id)
                let forgotten = (ended + evicted).sorted()
                return (forgotten.isEmpty ? [] : [.sessionsForgotten(ids: forgotten)])
                    + [.sessionOpened(id: sessionID, refreshTokenHash: refreshTokenHash, expiresAt: expiresAt)]

            case .refresh(let sessionID, let presentedHash, let newHash, let expiresAt):
                guard exists else { throw .notFound }
                guard let session = sessions[sessionID], !session.isRevoked else { throw .sessionInvalid }
                guard session.refreshTokenHash == presentedHash else {
                    // A refresh token this session rotated away from, presented again, was stolen
                    // or replayed: end the session. Anything else is simply not a token of it
                    // (a stranger who read the ids off an access token must not end sessions).
                    guard session.previousRefreshTokenHashes.contains(presentedHash) else { throw .sessionInvalid }
                    return [.sessionRevoked(id: sessionID, reason: .refreshTokenReused)]
                }
                guard session.expiresAt > now else { throw .sessionInvalid }
                // A session's lifetime is absolute: set when it opened, never stretched by a
                // refresh (a stolen refresh token, kept fresh, must not live for ever).
                return [
                    .refreshRotated(
                        id: sessionID,
                        refreshTokenHash: newHash,
                        expiresAt: min(expiresAt, session.expiresAt)
                    )
                ]

            case .closeSession(let sessionID):
                guard exists else { throw .notFound }
                guard let session = sessions[sessionID], !session.isRevoked else { return [] }
                return [.sessionRevoked(id: sessionID, reason: .logout)]
            }
        }

        public mutating func apply(_ event: Event) {
            switch event {
            case .created(let id, let username, let email, let passwordHash, let at):
                self.id = id
                self.username = username
                self.email = email
                self.passwordHash = passwordHash
                self.profile = Profile(displayName: username)
                self.createdAt = at
            case .profileUpdated(let profile):
                self.profile = profile
            case .sessionOpened(let id, let hash, let expiresAt):
                sessions[id] = Session(id: id, refreshTokenHash: hash, expiresAt: expiresAt, isRevoked: false)
            case .refreshRotated(let id, let hash, let expiresAt):
                guard var session = sessions[id] else { break }
                session.previousRefreshTokenHashes = Array(
                    (session.previousRefreshTokenHashes + [session.refreshTokenHash])
                        .suffix(User.previousRefreshTokensKept)
                )
                session.refreshTokenHash = hash
                session.expiresAt = expiresAt
                sessions[id] = session
            case .sessionRevoked(let id, _):
                sessions[id]?.isRevoked = true
            case .sessionsForgotten(let ids):
                for id in ids { sessions[id] = nil }
            }
        }
    }

    public enum Command: Sendable, Equatable {
        case create(id: String, username: String, email: String, passwordHash: String)
        case updateProfile(ProfileChange)
        /// Updates the profile on behalf of a session, which must still be open.
        case updateProfileInSession(sessionID: String, ProfileChange)
        case openSession(id: String, refreshTokenHash: String, expiresAt: Double)
        /// Rotates the refresh token; presenting one it rotated away from revokes the session.
        case refresh(sessionID: String, presentedHash: String, newHash: String, expiresAt: Double)
        case closeSession(id: String)
    }

    public enum RevocationReason: UInt8, Sendable, Equatable {
        case logout = 1
        case refreshTokenReused = 2
    }

    public enum Event: Sendable, Equatable {
        case created(id: String, username: String, email: String, passwordHash: String, at: Double)
        case profileUpdated(Profile)
        case sessionOpened(id: String, refreshTokenHash: String, expiresAt: Double)
        case refreshRotated(id: String, refreshTokenHash: String, expiresAt: Double)
        case sessionRevoked(id: String, reason: RevocationReason)
        /// Sessions dropped from the state: revoked or expired, or the first to expire of more
        /// than ``User/sessionsMax`` open ones (signed out).
        case sessionsForgotten(ids: [String])
    }

    public enum Failure: Error, Equatable, Sendable {
        case alreadyExists
        case notFound
        case invalid(field: String, message: String)
        /// The session is unknown, expired or revoked.
        case sessionInvalid
        /// A refresh token was presented a second time (stolen or replayed): its session is now revoked.
        case sessionRevoked
    }
}
