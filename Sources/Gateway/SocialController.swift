import ClusterCore
import GameDomain
import Hummingbird
import PlatformServices
import Synchronization

/// `/v1/friends`, `/v1/presence`, `/v1/messages` and `/v1/notifications`: the social REST edge.
/// Every route needs a caller whose session is still open (``RequireOpenSession``), and spends
/// the caller's writes like the accounts routes; sending a message spends one of the caller's
/// messages too (`[realtime] chat_burst`, `chat_per_minute`).
public struct SocialController: Sendable {
    typealias Context = PlumeRequestContext
    let social: SocialService
    let accounts: AccountService
    let throttle: AuthThrottle
    let chat: ChatThrottle
    /// Pushes the changes to the sockets of the users they concern, wherever those are.
    let relay: RealtimeRelay

    init(
        social: SocialService,
        accounts: AccountService,
        throttle: AuthThrottle,
        chat: ChatThrottle,
        relay: RealtimeRelay
    ) {
        self.social = social
        self.accounts = accounts
        self.throttle = throttle
        self.chat = chat
        self.relay = relay
    }

    public func addRoutes(to v1: RouterGroup<PlumeRequestContext>) {
        v1.group().signedIn(accounts: accounts, throttle: throttle)
            .get("friends", use: friends)
            .post("friends/:id", use: request)
            .delete("friends/:id", use: remove)
            .post("friends/:id/block", use: block)
            .delete("friends/:id/block", use: unblock)
            .get("presence/:id", use: presence)
            .post("messages/:id", use: send)
            .get("messages/:id", use: history)
            .get("notifications", use: notifications)
            .post("notifications/read", use: markRead)
            .delete("notifications/:id", use: deleteNotification)
    }

    // MARK: - Friends

    @Sendable func friends(_ request: Request, context: Context) async throws -> FriendsBody {
        let caller = try context.requireIdentity()
        let list = try await APIError.mapped(context) { try await social.friends(caller.userID) }
        return FriendsBody(friends: list.map(FriendBody.init))
    }

    @Sendable func request(_ request: Request, context: Context) async throws -> StateBody {
        let caller = try context.requireIdentity()
        let other = try context.parameters.require("id")
        let link = try await APIError.mapped(context) { try await social.request(caller.userID, other) }
        await relay.relationship(
            caller.userID,
            other,
            userState: link.rawValue,
            otherState: link == .friend ? "friend" : "request_received"
        )
        return StateBody(state: link.rawValue)
    }

    @Sendable func remove(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let caller = try context.requireIdentity()
        let other = try context.parameters.require("id")
        try await APIError.mapped(context) { try await social.remove(caller.userID, other) }
        await relay.relationship(caller.userID, other, userState: "none", otherState: "none")
        return .noContent
    }

    @Sendable func block(_ request: Request, context: Context) async throws -> StateBody {
        let caller = try context.requireIdentity()
        let other = try context.parameters.require("id")
        try await APIError.mapped(context) { try await social.block(caller.userID, other) }
        // The blocked user is not told they are blocked: to them the relationship just ends.
        await relay.relationship(caller.userID, other, userState: "blocked", otherState: "none")
        return StateBody(state: "blocked")
    }

    @Sendable func unblock(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let caller = try context.requireIdentity()
        let other = try context.parameters.require("id")
        try await APIError.mapped(context) { try await social.unblock(caller.userID, other) }
        await relay.relationship(caller.userID, other, userState: "none", otherState: "none")
        return .noContent
    }

    @Sendable func presence(_ request: Request, context: Context) async throws -> PresenceBody {
        let caller = try context.requireIdentity()
        let user = try context.parameters.require("id")
        guard
            let view = try await APIError.mapped(
                context,
                { try await social.presence(of: user, seenBy: caller.userID) }
            )
        else {
            throw APIError(.notFound, code: "not_found", message: "no presence of \(user) that you may see")
        }
        return PresenceBody(view)
    }

    // MARK: - Messages

    struct SendRequest: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey { case text }
        let text: String

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            text = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .text)
        }
    }

    @Sendable func send(_ request: Request, context: Context) async throws -> EditedResponse<MessageEnvelope> {
        let caller = try context.requireIdentity()
        let other = try context.parameters.require("id")
        let body = try await request.decode(as: SendRequest.self, context: context)
        try chat.admit(caller.userID)
        let message = try await APIError.mapped(context) {
            try await social.send(caller.userID, to: other, text: body.text)
        }
        let sent = MessageEnvelope(message: MessageBody(message))
        await relay.chatMessage(sent, between: [message.from, message.to])
        return EditedResponse(status: .created, response: sent)
    }

    @Sendable func history(_ request: Request, context: Context) async throws -> MessagesBody {
        let caller = try context.requireIdentity()
        let other = try context.parameters.require("id")
        let (before, limit) = try Self.page(request, cursor: "before")
        let page = try await APIError.mapped(context) {
            try await social.history(caller.userID, with: other, before: before, limit: limit)
        }
        return MessagesBody(messages: page.messages.map(MessageBody.init), nextCursor: page.next.map(String.init))
    }

    // MARK: - Notifications

    @Sendable func notifications(_ request: Request, context: Context) async throws -> NotificationsBody {
        let caller = try context.requireIdentity()
        let (before, limit) = try Self.page(request, cursor: "cursor")
        let page = try await APIError.mapped(context) {
            try await social.notifications(caller.userID, before: before, limit: limit)
        }
        return NotificationsBody(
            notifications: page.notifications.map(NotificationBody.init),
            nextCursor: page.next.map(String.init)
        )
    }

    /// `{"ids": [...]}`: notification ids as strings (as they are shown) or numbers.
    struct ReadRequest: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey { case ids }
        let ids: [UInt64]

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            var list = try decoder.container(keyedBy: CodingKeys.self).nestedUnkeyedContainer(forKey: .ids)
            var ids: [UInt64] = []
            while !list.isAtEnd {
                if let number = try? list.decode(UInt64.self) {
                    ids.append(number)
                } else if let text = try? list.decode(String.self), let number = UInt64(text) {
                    ids.append(number)
                } else {
                    throw APIError(.unprocessableContent, code: "invalid_ids", message: "ids must be notification ids")
                }
            }
            guard ids.count <= Inbox.keptMax else {
                throw APIError(.unprocessableContent, code: "invalid_ids", message: "at most \(Inbox.keptMax) ids")
            }
            self.ids = ids
        }
    }

    @Sendable func markRead(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let caller = try context.requireIdentity()
        let body = try await request.decode(as: ReadRequest.self, context: context)
        try await APIError.mapped(context) { try await social.markRead(caller.userID, ids: body.ids) }
        return .noContent
    }

    @Sendable func deleteNotification(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let caller = try context.requireIdentity()
        let text = try context.parameters.require("id")
        guard let id = UInt64(text) else {
            throw APIError(.notFound, code: "not_found", message: "no such notification")
        }
        try await APIError.mapped(context) { try await social.deleteNotification(caller.userID, id: id) }
        return .noContent
    }

    // MARK: - Helpers

    /// The page a request asks for: the cursor (query `cursor`), 1…100 items (query `limit`, 50).
    static func page(_ request: Request, cursor name: String) throws -> (before: UInt64?, limit: Int) {
        let query = request.uri.queryParameters
        var before: UInt64?
        if let text = query[Substring(name)], !text.isEmpty {
            guard let value = UInt64(text) else {
                throw APIError(
                    .unprocessableContent,
                    code: "invalid_\(name)",
                    message: "\(name) must be a cursor this API gave"
                )
            }
            before = value
        }
        var limit = 50
        if let text = query["limit"], !text.isEmpty {
            guard let value = Int(text), (1...100).contains(value) else {
                throw APIError(.unprocessableContent, code: "invalid_limit", message: "limit must be 1 to 100")
            }
            limit = value
        }
        return (before, limit)
    }
}

extension RouterGroup<PlumeRequestContext> {
    /// The group's routes need a bearer token of a session that is still open, and spend the
    /// caller's writes (social, lobby and matchmaking routes).
    func signedIn(accounts: AccountService, throttle: AuthThrottle) -> RouterGroup<PlumeRequestContext> {
        add(middleware: BearerAuthenticator(accounts: accounts))
            .add(middleware: RequireCaller())
            .add(middleware: UserWriteThrottle(throttle: throttle))
            .add(middleware: RequireOpenSession(accounts: accounts))
    }
}

/// The social routes touch no user entity, so the caller's session is checked here: a token
/// whose session ended (logout, a reused refresh token) is refused at once, not when it expires.
struct RequireOpenSession: RouterMiddleware {
    typealias Context = PlumeRequestContext
    let accounts: AccountService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let caller = try context.requireIdentity()
        _ = try await APIError.mapped(context) { try await accounts.me(caller) }
        return try await next(request, context)
    }
}

/// Direct messages one user may send (per node): `[realtime] chat_burst` at once, then
/// `chat_per_minute`; past it 429 `rate_limited` with `Retry-After`.
final class ChatThrottle: Sendable {
    private let limiter: Mutex<RateLimiter>

    init(_ settings: RealtimeSettings) {
        limiter = Mutex(
            RateLimiter(
                rule: .init(burst: Double(settings.chatBurst), refillPerSecond: Double(settings.chatPerMinute) / 60)
            )
        )
    }

    func admit(_ userID: String) throws(APIError) {
        guard case .limited(let seconds) = limiter.withLock({ $0.take(userID, now: AuthThrottle.monotonicSeconds()) })
        else { return }
        throw APIError(
            .tooManyRequests,
            code: "rate_limited",
            message: "too many messages by this user; retry in \(seconds) s",
            retryAfterSeconds: seconds
        )
    }
}

// MARK: - Bodies

struct StateBody: ResponseEncodable {
    let state: String
}

/// P: `{"user_id","status","rich","updated_at"}` (`updated_at` null for a user not seen).
struct PresenceBody: ResponseEncodable {
    let userId: String
    let status: String
    let rich: [String: String]
    let updatedAt: String?

    init(_ view: Presence.View) {
        userId = view.userID
        status = view.status.rawValue
        rich = view.rich
        updatedAt = view.updatedAt.map(Timestamp.rfc3339)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(userId, forKey: .userId)
        try container.encode(status, forKey: .status)
        try container.encode(rich, forKey: .rich)
        try container.encode(updatedAt, forKey: .updatedAt)  // null, not left out
    }

    enum CodingKeys: String, CodingKey { case userId, status, rich, updatedAt }
}

/// F: `{"user","state","presence"}`; `presence` is null but for friends.
struct FriendBody: Encodable {
    let user: UserBody
    let state: String
    let presence: PresenceBody?

    init(_ friend: SocialService.Friend) {
        user = UserBody(friend.user, includeEmail: false)
        state = friend.state
        presence = friend.presence.map(PresenceBody.init)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(user, forKey: .user)
        try container.encode(state, forKey: .state)
        try container.encode(presence, forKey: .presence)
    }

    enum CodingKeys: String, CodingKey { case user, state, presence }
}

struct FriendsBody: ResponseEncodable {
    let friends: [FriendBody]
}

/// M: `{"id","from","to","text","sent_at"}`; `id` is the message's position in its
/// conversation (what `before` pages by).
struct MessageBody: Encodable {
    let id: String
    let from: String
    let to: String
    let text: String
    let sentAt: String

    init(_ message: Conversation.Message) {
        id = String(message.seq)
        from = message.from
        to = message.to
        text = message.text
        sentAt = Timestamp.rfc3339(message.sentAt)
    }
}

struct MessageEnvelope: ResponseEncodable {
    let message: MessageBody
}

/// `next_cursor` is null on the last page.
struct MessagesBody: ResponseEncodable {
    let messages: [MessageBody]
    let nextCursor: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(messages, forKey: .messages)
        try container.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case messages, nextCursor }
}

/// N: `{"id","kind","data","created_at","read"}`.
struct NotificationBody: Encodable {
    let id: String
    let kind: String
    let data: [String: String]
    let createdAt: String
    let read: Bool

    init(_ notification: Inbox.Notification) {
        id = String(notification.id)
        kind = notification.kind.rawValue
        data = notification.data
        createdAt = Timestamp.rfc3339(notification.createdAt)
        read = notification.isRead
    }
}

struct NotificationsBody: ResponseEncodable {
    let notifications: [NotificationBody]
    let nextCursor: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(notifications, forKey: .notifications)
        try container.encode(nextCursor, forKey: .nextCursor)
    }

    enum CodingKeys: String, CodingKey { case notifications, nextCursor }
}
