/// One user's side of their relationships: friends, requests both ways, and blocks.
///
/// A relationship is stored on both users, each in their own list, and changed by a two-step
/// workflow: the acting user's list first (`request`, `remove`, `block`, `unblock`), then the
/// other user's mirror of it (`requested`, `removed`, `blocked`, `unblocked`). Every command is
/// idempotent, and a change on the acting side records the mirror it owes (``State/owed``) in
/// the same event batch, until `settle` says the mirror ran: a workflow interrupted by a node's
/// death is finished from what the list owes, by whoever touches the list next. A refused
/// mirror step is undone on the first side with the opposite command.
public enum FriendList {
    /// At most this many friends.
    public static let friendsMax = 2000
    /// At most this many requests pending (sent and received together).
    public static let pendingMax = 200

    /// A link between two users, as one of them sees it.
    public enum Link: String, Sendable, Equatable {
        case friend
        case requestSent = "request_sent"
        case requestReceived = "request_received"
    }

    /// The mirror a change on one side owes the other side's list.
    public enum Mirror: String, Sendable, Equatable, CaseIterable {
        case requested, removed, blocked, unblocked

        /// The command that runs it on the other user's list, for the change `me` made.
        public func command(me: String, other: String) -> Command {
            switch self {
            case .requested: .requested(from: me, to: other)
            case .removed: .removed(by: me)
            case .blocked: .blocked(by: me)
            case .unblocked: .unblocked(by: me)
            }
        }
    }

    /// What one user holds about another.
    public struct Relationship: Sendable, Equatable {
        public var link: Link?
        /// This user blocks the other: no link, no presence either way, no messages.
        public var blocking = false
        /// The other user blocks this one (never shown to this user).
        public var blockedBy = false
        /// When the link or block last changed (seconds since 1970).
        public var since: Double

        public init(link: Link? = nil, blocking: Bool = false, blockedBy: Bool = false, since: Double) {
            self.link = link
            self.blocking = blocking
            self.blockedBy = blockedBy
            self.since = since
        }

        /// The state shown in this user's list (F.state), or nil when nothing shows.
        public var shown: String? { blocking ? "blocked" : link?.rawValue }

        var isEmpty: Bool { link == nil && !blocking && !blockedBy }
    }

    public struct State: Aggregate {
        /// By the other user's id.
        public private(set) var relationships: [String: Relationship] = [:]
        /// Mirrors this list's changes owe the other users' lists, by the other user's id: set
        /// with the change, cleared by `settle` once the mirror ran.
        public private(set) var owed: [String: Mirror] = [:]

        public static let initial = State()

        public init() {}

        /// A list holding exactly these (what a reply carries: the relationships it concerns).
        public init(relationships: [String: Relationship], owed: [String: Mirror] = [:]) {
            self.relationships = relationships
            self.owed = owed
        }

        /// Only the relationship with `other`, and the mirror owed to them (a command's reply).
        public func only(_ other: String) -> State {
            State(
                relationships: relationships[other].map { [other: $0] } ?? [:],
                owed: owed[other].map { [other: $0] } ?? [:]
            )
        }

        public var friendCount: Int { relationships.values.count { $0.link == .friend } }
        public var pendingCount: Int {
            relationships.values.count { $0.link == .requestSent || $0.link == .requestReceived }
        }

        public func relationship(with other: String) -> Relationship? { relationships[other] }

        public func isFriend(_ other: String) -> Bool { relationships[other]?.link == .friend }

        public func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            switch command {
            case .request(let from, let to):
                let events = try linkRequest(
                    me: from,
                    other: to,
                    accepting: .requestReceived,
                    otherwise: .requestSent,
                    now
                )
                return owing(.requested, to: to, events)
            case .requested(let from, let to):
                return try linkRequest(me: to, other: from, accepting: .requestSent, otherwise: .requestReceived, now)
            case .remove(let other):
                guard relationships[other]?.link != nil else { return [] }
                return owing(.removed, to: other, [.unlinked(other: other, at: now)])
            case .removed(by: let other):
                guard relationships[other]?.link != nil else { return [] }
                return [.unlinked(other: other, at: now)]
            case .block(let other):
                guard relationships[other]?.blocking != true else { return [] }
                return owing(.blocked, to: other, [.blocking(other: other, true, at: now)])
            case .blocked(by: let other):
                return relationships[other]?.blockedBy == true ? [] : [.blockedBy(other: other, true, at: now)]
            case .unblock(let other):
                guard relationships[other]?.blocking == true else { return [] }
                return owing(.unblocked, to: other, [.blocking(other: other, false, at: now)])
            case .unblocked(by: let other):
                return relationships[other]?.blockedBy == true ? [.blockedBy(other: other, false, at: now)] : []
            case .settle(let other, let mirror):
                return owed[other] == mirror ? [.settled(other: other)] : []
            }
        }

        /// A change on this side, with the mirror it owes (none if it changed nothing).
        private func owing(_ mirror: Mirror, to other: String, _ events: [Event]) -> [Event] {
            events.isEmpty ? [] : events + [.owes(other: other, mirror)]
        }

        /// A request on either side: it links the two as friends when the other had asked
        /// first (the `accepting` link is there), else records the request.
        private func linkRequest(me: String, other: String, accepting: Link, otherwise: Link, _ now: Double)
            throws(Failure) -> [Event]
        {
            guard me != other else { throw .cannotFriendSelf }
            let current = relationships[other]
            if current?.blocking == true || current?.blockedBy == true { throw .blocked }
            switch current?.link {
            case .friend?: return []
            case accepting?:
                guard friendCount < FriendList.friendsMax else { throw .friendLimit }
                return [.linked(other: other, .friend, at: now)]
            case otherwise?: return []
            default:
                guard friendCount < FriendList.friendsMax, pendingCount < FriendList.pendingMax else {
                    throw .friendLimit
                }
                return [.linked(other: other, otherwise, at: now)]
            }
        }

        public mutating func apply(_ event: Event) {
            switch event {
            case .linked(let other, let link, let at):
                relationships[other, default: Relationship(since: at)].link = link
                relationships[other]?.since = at
            case .unlinked(let other, let at):
                relationships[other]?.link = nil
                relationships[other]?.since = at
            case .blocking(let other, let on, let at):
                relationships[other, default: Relationship(since: at)].blocking = on
                if on { relationships[other]?.link = nil }
                relationships[other]?.since = at
            case .blockedBy(let other, let on, let at):
                relationships[other, default: Relationship(since: at)].blockedBy = on
                if on { relationships[other]?.link = nil }
                relationships[other]?.since = at
            case .owes(let other, let mirror):
                owed[other] = mirror
            case .settled(let other):
                owed[other] = nil
            }
            for (other, relationship) in relationships where relationship.isEmpty { relationships[other] = nil }
        }
    }

    public enum Command: Sendable, Equatable {
        /// On the requester's list: ask `to` (or accept their request).
        case request(from: String, to: String)
        /// On the requested user's list: the mirror of `request`.
        case requested(from: String, to: String)
        /// Unfriend, cancel a sent request or decline a received one.
        case remove(String)
        /// The mirror of `remove`, on the other user's list (naming the user who removed).
        case removed(by: String)
        case block(String)
        /// The mirror of `block`, on the blocked user's list.
        case blocked(by: String)
        case unblock(String)
        case unblocked(by: String)
        /// The mirror owed to `other` ran (a later change's mirror, owed since, stays owed).
        case settle(other: String, Mirror)
    }

    public enum Event: Sendable, Equatable {
        case linked(other: String, Link, at: Double)
        case unlinked(other: String, at: Double)
        case blocking(other: String, Bool, at: Double)
        case blockedBy(other: String, Bool, at: Double)
        case owes(other: String, Mirror)
        case settled(other: String)
    }

    public enum Failure: Error, Equatable, Sendable {
        case cannotFriendSelf
        /// One of the two blocks the other.
        case blocked
        /// At 2,000 friends or 200 pending requests.
        case friendLimit
    }
}
