import EntityRuntime
import GameDomain

/// Unique names (usernames, emails) as entities: `name/<namespace>/<name>`, replicated.
public enum NameReservationKind: EntityKind {
    public typealias State = NameReservation.State
    public typealias Failure = NameReservation.Failure
    /// Every command and read answers with the reservation's state.
    public typealias Reply = NameReservation.State

    public enum Read: Sendable, Equatable {
        /// Who holds the name, and whether their claim is confirmed.
        case owner
    }

    public static let tag: UInt32 = 2
    public static let keyPrefix = "name/"
    public static let durability = Durability.replicated

    public static func reply(
        to command: NameReservation.Command,
        events: [NameReservation.Event],
        state: NameReservation.State
    ) throws(NameReservation.Failure) -> NameReservation.State { state }

    public static func read(_ read: Read, state: NameReservation.State) throws(NameReservation.Failure)
        -> NameReservation.State
    {
        state
    }

    /// The reservation of a username (case-folded).
    public static func username(_ name: String) -> String { "\(keyPrefix)username/\(Validation.usernameKey(name))" }
    /// The reservation of an email address (normalized).
    public static func email(_ address: String) -> String { "\(keyPrefix)email/\(Validation.emailKey(address))" }
}

/// The kinds Plume's services register on every node. A kind is added here, once.
public enum PlatformKinds {
    public static let registry = EntityRegistry([
        UserKind.self, NameReservationKind.self, FriendListKind.self, ConversationKind.self, InboxKind.self,
        PresenceKind.self, LobbyKind.self, MatchQueueKind.self,
    ])
}
