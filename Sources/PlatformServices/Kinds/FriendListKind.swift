import EntityRuntime
import GameDomain

/// One user's side of their relationships as an entity: `friends/<user id>`, replicated.
public enum FriendListKind: EntityKind {
    public typealias State = FriendList.State
    public typealias Failure = FriendList.Failure
    /// A command answers with the relationship it concerns (and the mirror still owed for it);
    /// a read with what it asked for.
    public typealias Reply = FriendList.State

    public enum Read: Sendable, Equatable {
        /// The whole list.
        case all
        /// The relationship with one user.
        case with(String)
    }

    public static let tag: UInt32 = 3
    public static let keyPrefix = "friends/"
    public static let durability = Durability.replicated

    public static func reply(
        to command: FriendList.Command,
        events: [FriendList.Event],
        state: FriendList.State
    ) throws(FriendList.Failure) -> FriendList.State {
        state.only(command.other)
    }

    public static func read(_ read: Read, state: FriendList.State) throws(FriendList.Failure) -> FriendList.State {
        switch read {
        case .all: state
        case .with(let other): state.only(other)
        }
    }
}

extension FriendList.Command {
    /// The other user the command is about.
    var other: String {
        switch self {
        case .request(_, let to): to
        case .requested(let from, _): from
        case .remove(let other), .removed(by: let other), .block(let other), .blocked(by: let other),
            .unblock(let other), .unblocked(by: let other), .settle(let other, _):
            other
        }
    }
}
