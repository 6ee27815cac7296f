import EntityRuntime
import GameDomain

/// Player accounts as entities: `user/<id>`, replicated.
public enum UserKind: EntityKind {
    public typealias State = User.State
    public typealias Failure = User.Failure
    /// Every command and read answers with the user's state.
    public typealias Reply = User.State

    public enum Read: Sendable, Equatable {
        /// The whole account, secrets included (the edge checks passwords and sessions with it).
        case account
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
        switch read {
        case .account:
            guard state.exists else { throw .notFound }
            return state
        }
    }
}
