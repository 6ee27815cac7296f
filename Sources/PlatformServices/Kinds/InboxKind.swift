import EntityRuntime
import GameDomain

/// A user's notifications as an entity: `inbox/<user id>`, replicated.
public enum InboxKind: EntityKind {
    public typealias State = Inbox.State
    public typealias Failure = Inbox.Failure
    public typealias Reply = Page

    /// Notifications, newest first, and the cursor of the next page (nil when nothing is
    /// older). `add` answers with the notification it added; the other commands with none.
    public struct Page: Sendable, Equatable {
        public var notifications: [Inbox.Notification]
        public var next: UInt64?

        public init(notifications: [Inbox.Notification], next: UInt64? = nil) {
            self.notifications = notifications
            self.next = next
        }
    }

    public enum Read: Sendable, Equatable {
        /// The notifications before `before` (the newest for nil), at most `limit`.
        case page(before: UInt64?, limit: Int)
    }

    public static let tag: UInt32 = 5
    public static let keyPrefix = "inbox/"
    public static let durability = Durability.replicated

    public static func reply(to command: Inbox.Command, events: [Inbox.Event], state: Inbox.State)
        throws(Inbox.Failure) -> Page
    {
        Page(
            notifications: events.compactMap { event in
                if case .added(let notification) = event { notification } else { nil }
            }
        )
    }

    public static func read(_ read: Read, state: Inbox.State) throws(Inbox.Failure) -> Page {
        switch read {
        case .page(let before, let limit):
            let page = state.page(before: before, limit: limit)
            return Page(notifications: page.notifications, next: page.next)
        }
    }
}

/// ``InboxKind``'s schema: `Schema/inbox.proto`.
extension InboxKind {
    public static func encode(command: Inbox.Command) -> [UInt8] {
        var message = Plume_Inbox_Command()
        switch command {
        case .add(let kind, let data):
            message.add = .with {
                $0.kind = kind.rawValue
                $0.data = data
            }
        case .markRead(let ids): message.markRead = .with { $0.ids = ids }
        case .delete(let id): message.delete = .with { $0.id = id }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(command bytes: [UInt8]) throws(SchemaError) -> Inbox.Command {
        switch try Protobuf.message(bytes, as: Plume_Inbox_Command.self).command {
        case .add(let m)?: .add(try kind(m.kind), data: m.data)
        case .markRead(let m)?: .markRead(ids: m.ids)
        case .delete(let m)?: .delete(id: m.id)
        case nil: throw SchemaError.unknownCase("inbox command")
        }
    }

    public static func encode(event: Inbox.Event) -> [UInt8] {
        var message = Plume_Inbox_Event()
        switch event {
        case .added(let notification): message.added = wire(notification)
        case .read(let ids): message.read = .with { $0.ids = ids }
        case .deleted(let id): message.deleted = .with { $0.id = id }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(event bytes: [UInt8]) throws(SchemaError) -> Inbox.Event {
        switch try Protobuf.message(bytes, as: Plume_Inbox_Event.self).event {
        case .added(let m)?: .added(try notification(m))
        case .read(let m)?: .read(ids: m.ids)
        case .deleted(let m)?: .deleted(id: m.id)
        case nil: throw SchemaError.unknownCase("inbox event")
        }
    }

    public static func encode(state: Inbox.State) -> [UInt8] {
        var message = Plume_Inbox_State()
        message.notifications = state.notifications.map(wire)
        message.nextID = state.nextID
        return Protobuf.bytes(message)
    }

    public static func decode(state bytes: [UInt8]) throws(SchemaError) -> Inbox.State {
        let m = try Protobuf.message(bytes, as: Plume_Inbox_State.self)
        var notifications: [Inbox.Notification] = []
        for n in m.notifications { notifications.append(try notification(n)) }
        return Inbox.State(notifications: notifications, nextID: m.nextID)
    }

    public static func encode(read: Read) -> [UInt8] {
        var message = Plume_Inbox_Read()
        switch read {
        case .page(let before, let limit):
            message.page = .with {
                if let before { $0.before = before }
                $0.limit = UInt32(clamping: limit)
            }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(read bytes: [UInt8]) throws(SchemaError) -> Read {
        switch try Protobuf.message(bytes, as: Plume_Inbox_Read.self).read {
        case .page(let m)?: .page(before: m.hasBefore ? m.before : nil, limit: Int(m.limit))
        case nil: throw SchemaError.unknownCase("inbox read")
        }
    }

    public static func encode(reply: Page) -> [UInt8] {
        var message = Plume_Inbox_Page()
        message.notifications = reply.notifications.map(wire)
        if let next = reply.next { message.next = next }
        return Protobuf.bytes(message)
    }

    public static func decode(reply bytes: [UInt8]) throws(SchemaError) -> Page {
        let m = try Protobuf.message(bytes, as: Plume_Inbox_Page.self)
        var notifications: [Inbox.Notification] = []
        for n in m.notifications { notifications.append(try notification(n)) }
        return Page(notifications: notifications, next: m.hasNext ? m.next : nil)
    }

    public static func encode(failure: Inbox.Failure) -> [UInt8] {
        var message = Plume_Inbox_Failure()
        switch failure {
        case .notFound: message.notFound = .init()
        }
        return Protobuf.bytes(message)
    }

    public static func decode(failure bytes: [UInt8]) throws(SchemaError) -> Inbox.Failure {
        switch try Protobuf.message(bytes, as: Plume_Inbox_Failure.self).failure {
        case .notFound?: .notFound
        case nil: throw SchemaError.unknownCase("inbox failure")
        }
    }

    static func wire(_ notification: Inbox.Notification) -> Plume_Inbox_Notification {
        .with {
            $0.id = notification.id
            $0.kind = notification.kind.rawValue
            $0.data = notification.data
            $0.createdAt = notification.createdAt
            $0.read = notification.isRead
        }
    }

    static func notification(_ m: Plume_Inbox_Notification) throws(SchemaError) -> Inbox.Notification {
        Inbox.Notification(id: m.id, kind: try kind(m.kind), data: m.data, createdAt: m.createdAt, isRead: m.read)
    }

    static func kind(_ name: String) throws(SchemaError) -> Inbox.Kind {
        guard let kind = Inbox.Kind(rawValue: name) else { throw SchemaError.unknownCase("notification kind \(name)") }
        return kind
    }
}
