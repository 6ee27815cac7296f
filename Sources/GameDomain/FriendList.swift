/// One user's side of their relationships: friends, requests both ways, and blocks.
///
/// A relationship is stored on both users, each in their own list, and changed by a two-step
/// workflow: the acting user's list first (`request`, `remove`, `block`, `unblock`), then the
/// other user's mirror of it (`requested`, `removed`, `blocked`, `unblocked`). Every command is
/// idempotent, so a workflow interrupted by a node's death is finished by running it again, and
/// a refused mirror step is undone on the first side with the opposite command.
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

    /// What one user holds about another.
    public struct Relationship: Sendable, Equatable {
        public var link: Link?
        /// This user blocks the other: no link, no presence either way, no messages.
        public var blocking = false
        /// The other user blocks this one (never shown to this user).
        public var blockedBy = false
        /// When the link or block last changed (seconds since 1970).
        public var since: Double

        /// The state shown in this user's list (F.state), or nil when nothing shows.
        public var shown: String? { blocking ? "blocked" : link?.rawValue }

        var isEmpty: Bool { link == nil && !blocking && !blockedBy }
    }

    public struct State: Aggregate {
        /// By the other user's id.
        public private(set) var relationships: [String: Relationship] = [:]

        public static let initial = State()

        public init() {}

        public var friendCount: Int { relationships.values.count { $0.link == .friend } }
        public var pendingCount: Int {
            relationships.values.count { $0.link == .requestSent || $0.link == .requestReceived }
        }

        public func relationship(with other: String) -> Relationship? { relationships[other] }

        public func isFriend(_ other: String) -> Bool { relationships[other]?.link == .friend }

        public func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            switch command {
            case .request(let from, let to):
                return try linkRequest(me: from, other: to, accepting: .requestReceived, otherwise: .requestSent, now)
            case .requested(let from, let to):
                return try linkRequest(me: to, other: from, accepting: .requestSent, otherwise: .requestReceived, now)
            case .remove(let other), .removed(by: let other):
                guard relationships[other]?.link != nil else { return [] }
                return [.unlinked(other: other, at: now)]
            case .block(let other):
                return relationships[other]?.blocking == true ? [] : [.blocking(other: other, true, at: now)]
            case .blocked(by: let other):
                return relationships[other]?.blockedBy == true ? [] : [.blockedBy(other: other, true, at: now)]
            case .unblock(let other):
                return relationships[other]?.blocking == true ? [.blocking(other: other, false, at: now)] : []
            case .unblocked(by: let other):
                return relationships[other]?.blockedBy == true ? [.blockedBy(other: other, false, at: now)] : []
            }
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
    }

    public enum Event: Sendable, Equatable {
        case linked(other: String, Link, at: Double)
        case unlinked(other: String, at: Double)
        case blocking(other: String, Bool, at: Double)
        case blockedBy(other: String, Bool, at: Double)
    }

    public enum Failure: Error, Equatable, Sendable {
        case cannotFriendSelf
        /// One of the two blocks the other.
        case blocked
        /// At 2,000 friends or 200 pending requests.
        case friendLimit
    }
}
