/// A user's notifications: a durable inbox, newest first, bounded.
///
/// Kinds: `friend_request`, `friend_accepted`, `message` (only while the recipient is offline:
/// the caller decides), `lobby_invite`, and `system` for later features. Each notification carries free-form
/// string data for the client.
public enum Inbox {
    /// Notifications kept (the oldest go first when a new one arrives at the bound).
    public static let keptMax = 500
    public static let pageMax = 100

    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case friendRequest = "friend_request"
        case friendAccepted = "friend_accepted"
        case message
        case lobbyInvite = "lobby_invite"
        case system
    }

    /// A notification (N).
    public struct Notification: Sendable, Equatable {
        /// Grows by one per notification of this user, never reused.
        public var id: UInt64
        public var kind: Kind
        public var data: [String: String]
        public var createdAt: Double
        public var isRead: Bool

        public init(id: UInt64, kind: Kind, data: [String: String], createdAt: Double, isRead: Bool = false) {
            self.id = id
            self.kind = kind
            self.data = data
            self.createdAt = createdAt
            self.isRead = isRead
        }
    }

    public struct State: Aggregate {
        /// Oldest first, at most ``keptMax``.
        public private(set) var notifications: [Notification] = []
        public private(set) var nextID: UInt64 = 1

        public static let initial = State()

        public init() {}

        /// An inbox holding `notifications` (oldest first; what a snapshot restores).
        public init(notifications: [Notification], nextID: UInt64) {
            self.notifications = notifications
            self.nextID = nextID
        }

        public var unreadCount: Int { notifications.count { !$0.isRead } }

        public func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            switch command {
            case .add(let kind, let data):
                return [.added(Notification(id: nextID, kind: kind, data: data, createdAt: now))]
            case .markRead(let ids):
                let unread = notifications.filter { ids.contains($0.id) && !$0.isRead }.map(\.id)
                return unread.isEmpty ? [] : [.read(ids: unread)]
            case .delete(let id):
                guard notifications.contains(where: { $0.id == id }) else { throw .notFound }
                return [.deleted(id: id)]
            }
        }

        public mutating func apply(_ event: Event) {
            switch event {
            case .added(let notification):
                notifications.append(notification)
                nextID = notification.id + 1
                if notifications.count > Inbox.keptMax {
                    notifications.removeFirst(notifications.count - Inbox.keptMax)
                }
            case .read(let ids):
                for index in notifications.indices where ids.contains(notifications[index].id) {
                    notifications[index].isRead = true
                }
            case .deleted(let id):
                notifications.removeAll { $0.id == id }
            }
        }

        /// A page, newest first: notifications older than `cursor` (an id; nil for the newest), at
        /// most `limit`, and the next page's cursor (nil when nothing is older).
        public func page(before cursor: UInt64?, limit: Int) -> (notifications: [Notification], next: UInt64?) {
            let page = Paging.newestFirst(
                notifications,
                position: \.id,
                before: cursor,
                limit: limit,
                pageMax: Inbox.pageMax
            )
            return (page.items, page.next)
        }
    }

    public enum Command: Sendable, Equatable {
        case add(Kind, data: [String: String])
        case markRead(ids: [UInt64])
        case delete(id: UInt64)
    }

    public enum Event: Sendable, Equatable {
        case added(Notification)
        case read(ids: [UInt64])
        case deleted(id: UInt64)
    }

    public enum Failure: Error, Equatable, Sendable {
        case notFound
    }
}
