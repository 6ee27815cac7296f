import EntityRuntime
import GameDomain

/// Player accounts as entities: `user/<id>`, replicated.
public enum UserKind: EntityKind {
    public typealias State = User.State
    public typealias Failure = User.Failure
    /// Every command and read answers with the user's state.
    public typealias Reply = User.State

    public enum Read: Sendable, Equatable {
        /// The whole account, secrets included (the edge checks passwords with it at login).
        case account
        /// The account without its secrets (no password hash, no sessions): what a profile read
        /// needs, and all that crosses the cluster for one.
        case publicProfile
        /// The account without its secrets, if the session `sessionID` of it is open.
        case inSession(sessionID: String)
    }

    public static let tag: UInt32 = 1
    public static let keyPrefix = "user/"
    public static let durability = Durability.replicated

    /// A command answers with the state without its secrets; a refresh token presented twice
    /// revokes its session (the event is written) and is refused.
    public static func reply(to command: User.Command, events: [User.Event], state: User.State) throws(User.Failure)
        -> User.State
    {
        if events.contains(where: { if case .sessionRevoked(_, .refreshTokenReused) = $0 { true } else { false } }) {
            throw .sessionRevoked
        }
        return state.withoutSecrets
    }

    public static func read(_ read: Read, state: User.State) throws(User.Failure) -> User.State {
        guard state.exists else { throw .notFound }
        switch read {
        case .account:
            return state
        case .publicProfile:
            return state.withoutSecrets
        case .inSession(let sessionID):
            guard let session = state.sessions[sessionID], !session.isRevoked else { throw .sessionInvalid }
            return state.withoutSecrets
        }
    }
}
