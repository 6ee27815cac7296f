import EntityRuntime
import GameDomain

/// ``UserKind``'s schema: `Schema/user.proto`.
extension UserKind {
    public static func encode(command: User.Command) -> [UInt8] {
        var message = Plume_User_Command()
        switch command {
        case .create(let id, let username, let email, let passwordHash):
            message.create = .with {
                $0.id = id
                $0.username = username
                $0.email = email
                $0.passwordHash = passwordHash
            }
        case .updateProfile(let change):
            message.updateProfile = .with { $0.change = Plume_User_ProfileChange(change) }
        case .updateProfileInSession(let sessionID, let change):
            message.updateProfileInSession = .with {
                $0.sessionID = sessionID
                $0.change = Plume_User_ProfileChange(change)
            }
        case .openSession(let id, let hash, let expiresAt):
            message.openSession = .with {
                $0.id = id
                $0.refreshTokenHash = hash
                $0.expiresAt = expiresAt
            }
        case .refresh(let sessionID, let presented, let newHash, let expiresAt):
            message.refresh = .with {
                $0.sessionID = sessionID
                $0.presentedHash = presented
                $0.newHash = newHash
                $0.expiresAt = expiresAt
            }
        case .closeSession(let id):
            message.closeSession = .with { $0.id = id }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(command bytes: [UInt8]) throws(SchemaError) -> User.Command {
        switch try Protobuf.message(bytes, as: Plume_User_Command.self).command {
        case .create(let m)?: .create(id: m.id, username: m.username, email: m.email, passwordHash: m.passwordHash)
        case .updateProfile(let m)?: .updateProfile(m.change.domain)
        case .updateProfileInSession(let m)?: .updateProfileInSession(sessionID: m.sessionID, m.change.domain)
        case .openSession(let m)?: .openSession(id: m.id, refreshTokenHash: m.refreshTokenHash, expiresAt: m.expiresAt)
        case .refresh(let m)?:
            .refresh(sessionID: m.sessionID, presentedHash: m.presentedHash, newHash: m.newHash, expiresAt: m.expiresAt)
        case .closeSession(let m)?: .closeSession(id: m.id)
        case nil: throw SchemaError.unknownCase("user command")
        }
    }

    public static func encode(event: User.Event) -> [UInt8] {
        var message = Plume_User_Event()
        switch event {
        case .created(let id, let username, let email, let passwordHash, let at):
            message.created = .with {
                $0.id = id
                $0.username = username
                $0.email = email
                $0.passwordHash = passwordHash
                $0.at = at
            }
        case .profileUpdated(let profile):
            message.profileUpdated = .with { $0.profile = Plume_User_Profile(profile) }
        case .sessionOpened(let id, let hash, let expiresAt):
            message.sessionOpened = .with {
                $0.id = id
                $0.refreshTokenHash = hash
                $0.expiresAt = expiresAt
            }
        case .refreshRotated(let id, let hash, let expiresAt):
            message.refreshRotated = .with {
                $0.id = id
                $0.refreshTokenHash = hash
                $0.expiresAt = expiresAt
            }
        case .sessionRevoked(let id, let reason):
            message.sessionRevoked = .with {
                $0.id = id
                $0.reason = reason == .logout ? .logout : .refreshTokenReused
            }
        case .sessionsForgotten(let ids):
            message.sessionsForgotten = .with { $0.ids = ids }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(event bytes: [UInt8]) throws(SchemaError) -> User.Event {
        switch try Protobuf.message(bytes, as: Plume_User_Event.self).event {
        case .created(let m)?:
            return .created(id: m.id, username: m.username, email: m.email, passwordHash: m.passwordHash, at: m.at)
        case .profileUpdated(let m)?:
            return .profileUpdated(m.profile.domain)
        case .sessionOpened(let m)?:
            return .sessionOpened(id: m.id, refreshTokenHash: m.refreshTokenHash, expiresAt: m.expiresAt)
        case .refreshRotated(let m)?:
            return .refreshRotated(id: m.id, refreshTokenHash: m.refreshTokenHash, expiresAt: m.expiresAt)
        case .sessionRevoked(let m)?:
            switch m.reason {
            case .logout: return .sessionRevoked(id: m.id, reason: .logout)
            case .refreshTokenReused: return .sessionRevoked(id: m.id, reason: .refreshTokenReused)
            case .unspecified, .UNRECOGNIZED: throw SchemaError.unknownCase("user event session_revoked.reason")
            }
        case .sessionsForgotten(let m)?:
            return .sessionsForgotten(ids: m.ids)
        case nil:
            throw SchemaError.unknownCase("user event")
        }
    }

    public static func encode(state: User.State) -> [UInt8] { Protobuf.bytes(Plume_User_State(state)) }

    public static func decode(state bytes: [UInt8]) throws(SchemaError) -> User.State {
        try Protobuf.message(bytes, as: Plume_User_State.self).domain
    }

    public static func encode(read: Read) -> [UInt8] {
        var message = Plume_User_Read()
        switch read {
        case .account: message.account = .init()
        case .publicProfile: message.publicProfile = .init()
        case .inSession(let sessionID): message.inSession = .with { $0.sessionID = sessionID }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(read bytes: [UInt8]) throws(SchemaError) -> Read {
        switch try Protobuf.message(bytes, as: Plume_User_Read.self).read {
        case .account?: .account
        case .publicProfile?: .publicProfile
        case .inSession(let m)?: .inSession(sessionID: m.sessionID)
        case nil: throw SchemaError.unknownCase("user read")
        }
    }

    public static func encode(reply: User.State) -> [UInt8] { encode(state: reply) }
    public static func decode(reply bytes: [UInt8]) throws(SchemaError) -> User.State { try decode(state: bytes) }

    public static func encode(failure: User.Failure) -> [UInt8] {
        var message = Plume_User_Failure()
        switch failure {
        case .alreadyExists: message.alreadyExists = .init()
        case .notFound: message.notFound = .init()
        case .invalid(let field, let text):
            message.invalid = .with {
                $0.field = field
                $0.message = text
            }
        case .sessionInvalid: message.sessionInvalid = .init()
        case .sessionRevoked: message.sessionRevoked = .init()
        }
        return Protobuf.bytes(message)
    }

    public static func decode(failure bytes: [UInt8]) throws(SchemaError) -> User.Failure {
        switch try Protobuf.message(bytes, as: Plume_User_Failure.self).failure {
        case .alreadyExists?: .alreadyExists
        case .notFound?: .notFound
        case .invalid(let m)?: .invalid(field: m.field, message: m.message)
        case .sessionInvalid?: .sessionInvalid
        case .sessionRevoked?: .sessionRevoked
        case nil: throw SchemaError.unknownCase("user failure")
        }
    }
}

extension Plume_User_Profile {
    init(_ profile: User.Profile) {
        self.init()
        displayName = profile.displayName
        bio = profile.bio
        if let avatarURL = profile.avatarURL { self.avatarURL = avatarURL }
        if let country = profile.country { self.country = country }
    }

    var domain: User.Profile {
        User.Profile(
            displayName: displayName,
            bio: bio,
            avatarURL: hasAvatarURL ? avatarURL : nil,
            country: hasCountry ? country : nil
        )
    }
}

extension Plume_User_Clearable {
    /// `nil`: absent (leave as it is); `.some(nil)`: clear; `.some(text)`: set.
    init?(_ value: String??) {
        guard case .some(let inner) = value else { return nil }
        self.init()
        if let inner { self.value = inner }
    }

    var domain: String? { hasValue ? value : nil }
}

extension Plume_User_ProfileChange {
    init(_ change: User.ProfileChange) {
        self.init()
        if let displayName = change.displayName { self.displayName = displayName }
        if let bio = change.bio { self.bio = bio }
        if let avatarURL = Plume_User_Clearable(change.avatarURL) { self.avatarURL = avatarURL }
        if let country = Plume_User_Clearable(change.country) { self.country = country }
    }

    var domain: User.ProfileChange {
        User.ProfileChange(
            displayName: hasDisplayName ? displayName : nil,
            bio: hasBio ? bio : nil,
            avatarURL: hasAvatarURL ? .some(avatarURL.domain) : nil,
            country: hasCountry ? .some(country.domain) : nil
        )
    }
}

extension Plume_User_State {
    init(_ state: User.State) {
        self.init()
        if let id = state.id { self.id = id }
        username = state.username
        email = state.email
        passwordHash = state.passwordHash
        profile = Plume_User_Profile(state.profile)
        createdAt = state.createdAt
        sessions = state.sessions.values.sorted { $0.id < $1.id }.map { session in
            .with {
                $0.id = session.id
                $0.refreshTokenHash = session.refreshTokenHash
                $0.expiresAt = session.expiresAt
                $0.revoked = session.isRevoked
                $0.previousRefreshTokenHashes = session.previousRefreshTokenHashes
            }
        }
    }

    var domain: User.State {
        var state = User.State()
        state.id = hasID ? id : nil
        state.username = username
        state.email = email
        state.passwordHash = passwordHash
        state.profile = profile.domain
        state.createdAt = createdAt
        for session in sessions {
            state.sessions[session.id] = User.Session(
                id: session.id,
                refreshTokenHash: session.refreshTokenHash,
                expiresAt: session.expiresAt,
                isRevoked: session.revoked,
                previousRefreshTokenHashes: session.previousRefreshTokenHashes
            )
        }
        return state
    }
}
