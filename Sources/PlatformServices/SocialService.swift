import EntityRuntime
import Foundation
import GameDomain
import Synchronization

/// Friends, direct messages and notifications: relationships stored on both users' lists and
/// kept alike by a saga, conversations between friends, and each user's inbox.
public final class SocialService: Sendable {
    public typealias Failure = ServiceFailure

    /// One entry of a user's friend list (F), with the other user's public profile.
    public struct Friend: Sendable {
        public var user: User.State
        /// `friend`, `request_sent`, `request_received` or `blocked`.
        public var state: String
        /// For friends only.
        public var presence: Presence.View?
    }

    private let entities: Entities
    let accounts: AccountService
    /// Where presence is kept; without it everyone shows offline.
    private let presenceService: PresenceService?
    /// Told of every notification added to a user's inbox (the real-time edge pushes it).
    private let notified = Mutex<NotificationHandler?>(nil)

    /// The handler in a struct (a bare closure in a lock's storage gains two thunks per read).
    private struct NotificationHandler: Sendable {
        let take: @Sendable (String, Inbox.Notification) -> Void
    }

    /// Profiles fetched at once for a friend list.
    static let profileReadsInFlight = 16

    /// - Parameter presence: where presence is kept; everyone is offline without it.
    public init(entities: Entities, accounts: AccountService, presence: PresenceService? = nil) {
        self.entities = entities
        self.accounts = accounts
        self.presenceService = presence
    }

    /// Sets who is told of each notification added to a user's inbox (the user's id and the
    /// notification), once the inbox holds it.
    public func onNotification(_ handler: @escaping @Sendable (String, Inbox.Notification) -> Void) {
        notified.withLock { $0 = NotificationHandler(take: handler) }
    }

    /// Adds a notification to `user`'s inbox (best effort: the change that caused it stands
    /// without it) and tells ``onNotification(_:)``.
    public func notify(_ user: String, _ kind: Inbox.Kind, data: [String: String]) async {
        guard let page = try? await ask(entities.ref(InboxKind.self, user), .add(kind, data: data)) else { return }
        guard let handler = notified.withLock({ $0 }) else { return }
        for notification in page.notifications { handler.take(user, notification) }
    }

    /// A user's presence as the user sees it (offline without a presence service).
    private func presence(_ user: String) async throws(Failure) -> Presence.View {
        guard let presenceService else { return Presence.View(userID: user, status: .offline, updatedAt: nil) }
        return try await presenceService.current(user).view
    }

    /// Whether a user has a socket open anywhere (false when that cannot be told: the
    /// notification is then added).
    private func isOnline(_ user: String) async -> Bool {
        guard let view = try? await presence(user) else { return false }
        return view.status != .offline && view.status != .reconnecting
    }

    // MARK: - Friends

    /// Asks `other` to be friends, or accepts their pending request: `request_sent` or `friend`.
    /// `other` is told by a notification (`friend_request` or `friend_accepted`) when it changed
    /// something.
    public func request(_ caller: String, _ other: String) async throws(Failure) -> FriendList.Link {
        try refuseSelf(caller, other)
        _ = try await accounts.user(id: other)
        let (list, changed) = try await change(
            caller,
            other,
            .request(from: caller, to: other),
            mirror: .requested,
            undo: .remove(other)
        )
        let link = list.relationship(with: other)?.link ?? .requestSent
        if changed {
            await notify(other, link == .friend ? .friendAccepted : .friendRequest, data: ["user_id": caller])
        }
        return link
    }

    /// Removes a friend, cancels a sent request or declines a received one.
    public func remove(_ caller: String, _ other: String) async throws(Failure) {
        try checkID(other)
        _ = try await change(caller, other, .remove(other), mirror: .removed)
    }

    public func block(_ caller: String, _ other: String) async throws(Failure) {
        try refuseSelf(caller, other)
        _ = try await accounts.user(id: other)
        _ = try await change(caller, other, .block(other), mirror: .blocked)
    }

    public func unblock(_ caller: String, _ other: String) async throws(Failure) {
        try checkID(other)
        _ = try await change(caller, other, .unblock(other), mirror: .unblocked)
    }

    /// The caller's list: friends (with their presence), requests both ways, and the users the
    /// caller blocks. Mirrors an interrupted change still owes are finished first.
    public func friends(_ caller: String) async throws(Failure) -> [Friend] {
        var list = try await read(entities.ref(FriendListKind.self, caller), .all)
        if !list.owed.isEmpty {
            for (other, mirror) in list.owed.sorted(by: { $0.key < $1.key }) {
                try await settle(caller, other, mirror)
            }
            list = try await read(entities.ref(FriendListKind.self, caller), .all)
        }
        let shown = list.relationships.compactMap { other, relationship in
            relationship.shown.map { (other, $0) }
        }.sorted { $0.0 < $1.0 }
        var friends: [Friend] = []
        var failure: Failure?
        // A bounded number of profile reads at once. A user gone since is left out; a read the
        // cluster could not answer fails the list (a shorter list would look like lost friends).
        await withTaskGroup(of: Result<Friend?, Failure>.self) { group in
            var next = shown.makeIterator()
            func add() -> Bool {
                guard let (other, state) = next.next() else { return false }
                group.addTask {
                    do throws(Failure) {
                        return .success(try await self.entry(other, state: state, seenBy: caller))
                    } catch {
                        return .failure(error)
                    }
                }
                return true
            }
            for _ in 0..<Self.profileReadsInFlight where add() {}
            for await result in group {
                switch result {
                case .success(let friend?): friends.append(friend)
                case .success(nil): break
                case .failure(let error): failure = failure ?? error
                }
                if failure == nil { _ = add() }
            }
        }
        if let failure { throw failure }
        return friends.sorted {
            ($0.user.username.lowercased(), $0.user.id ?? "") < ($1.user.username.lowercased(), $1.user.id ?? "")
        }
    }

    /// One entry of `caller`'s list: `other`'s public profile and, for a friend, their presence as
    /// the caller sees it; nil for a user gone since.
    private func entry(_ other: String, state: String, seenBy caller: String) async throws(Failure) -> Friend? {
        let user: User.State
        do {
            user = try await accounts.user(id: other)
        } catch {
            if case .notFound = error.kind { return nil }
            throw error
        }
        let view = state == FriendList.Link.friend.rawValue ? try await presence(other) : nil
        return Friend(user: user, state: state, presence: view?.seen(byUser: caller, isFriend: true))
    }

    /// The user's friends' ids (whose presence the user's sockets get).
    public func friendIDs(_ user: String) async throws(Failure) -> Set<String> {
        let list = try await read(entities.ref(FriendListKind.self, user), .all)
        return Set(list.relationships.filter { $0.value.link == .friend }.keys)
    }

    /// A user's presence as the caller sees it: the caller's own, or a friend's; nil for anyone else.
    public func presence(of user: String, seenBy caller: String) async throws(Failure) -> Presence.View? {
        try checkID(user)
        let view = try await presence(user)
        if user == caller { return view }
        let mine = try await read(entities.ref(FriendListKind.self, caller), .with(user))
        return view.seen(byUser: caller, isFriend: mine.isFriend(user))
    }

    /// Runs a change on the caller's list, then its mirror on the other's list, then settles
    /// what the change owed. A refused mirror (the other blocks the caller, or their list is
    /// full) undoes the change on the caller's side.
    private func change(
        _ caller: String,
        _ other: String,
        _ command: FriendList.Command,
        mirror: FriendList.Mirror,
        undo: FriendList.Command? = nil
    ) async throws(Failure) -> (list: FriendList.State, changed: Bool) {
        let mine = entities.ref(FriendListKind.self, caller)
        var saga = Saga<Failure>()
        var compensation: (@Sendable () async -> Void)?
        if let undo {
            compensation = { [self] in
                guard let undone = try? await ask(mine, undo), let owed = undone.owed[other] else { return }
                try? await settle(caller, other, owed)
            }
        }
        let refused = { (refusal: FriendList.Failure) in Self.failure(refusal) }
        let list: FriendList.State = try await saga.step(
            { () async throws(Failure) -> Result<FriendList.State, FriendList.Failure> in
                try await outcome(mine, command)
            },
            refused: refused,
            compensation: compensation
        )
        let theirs = entities.ref(FriendListKind.self, other)
        let _: FriendList.State = try await saga.step(
            { () async throws(Failure) -> Result<FriendList.State, FriendList.Failure> in
                try await outcome(theirs, mirror.command(me: caller, other: other))
            },
            refused: refused
        )
        let changed = list.owed[other] == mirror
        if changed {
            _ = try await ask(mine, .settle(other: other, mirror))
        }
        return (list, changed)
    }

    /// Runs the mirror `caller`'s list owes `other`, then marks it settled. A refused mirror (a
    /// request the other side blocks by now) undoes the change on the caller's side.
    private func settle(_ caller: String, _ other: String, _ mirror: FriendList.Mirror) async throws(Failure) {
        let mine = entities.ref(FriendListKind.self, caller)
        let ran = try await outcome(entities.ref(FriendListKind.self, other), mirror.command(me: caller, other: other))
        _ = try await ask(mine, .settle(other: other, mirror))
        if case .failure = ran, mirror == .requested, let undone = try? await ask(mine, .remove(other)),
            undone.owed[other] == .removed
        {
            try await settle(caller, other, .removed)
        }
    }

    static func failure(_ refusal: FriendList.Failure) -> Failure {
        switch refusal {
        case .cannotFriendSelf:
            Failure(kind: .unprocessable(code: "cannot_friend_self"), message: "you cannot befriend yourself")
        case .blocked: Failure(kind: .conflict(code: "blocked"), message: "one of you blocks the other")
        case .friendLimit:
            Failure(
                kind: .conflict(code: "friend_limit"),
                message:
                    "at most \(FriendList.friendsMax) friends and \(FriendList.pendingMax) pending requests, on either side"
            )
        }
    }

    // MARK: - Messages

    /// Sends a direct message to a friend: stored in their conversation, and a `message`
    /// notification for a recipient who is not connected.
    public func send(_ caller: String, to other: String, text: String) async throws(Failure) -> Conversation.Message {
        do {
            try Conversation.validate(text: text)
        } catch {
            throw Failure(
                kind: .unprocessable(code: "invalid_text"),
                message: "text must be 1 to 4096 bytes, not only spaces"
            )
        }
        try checkID(other)
        let notFriends = Failure(kind: .forbidden(code: "not_friends"), message: "you can message only your friends")
        guard caller != other else { throw notFriends }
        // Both sides: the recipient's list is what says whether they block the sender.
        let mine = try await read(entities.ref(FriendListKind.self, caller), .with(other))
        let theirs = try await read(entities.ref(FriendListKind.self, other), .with(caller))
        guard mine.isFriend(other), theirs.isFriend(caller) else { throw notFriends }
        let reply = try await ask(
            entities.ref(ConversationKind.self, ConversationKind.between(caller, other)),
            .send(from: caller, to: other, text: text)
        )
        guard let message = reply.messages.first else {
            throw Failure(kind: .unavailable, message: "the message was not stored")
        }
        if await !isOnline(other) {
            await notify(other, .message, data: ["from": caller, "message_id": String(message.seq)])
        }
        return message
    }

    /// The caller's conversation with `other`, newest first.
    public func history(_ caller: String, with other: String, before: UInt64?, limit: Int) async throws(Failure)
        -> ConversationKind.Page
    {
        try checkID(other)
        return try await read(
            entities.ref(ConversationKind.self, ConversationKind.between(caller, other)),
            .page(before: before, limit: limit)
        )
    }

    // MARK: - Notifications

    public func notifications(_ caller: String, before: UInt64?, limit: Int) async throws(Failure) -> InboxKind.Page {
        try await read(entities.ref(InboxKind.self, caller), .page(before: before, limit: limit))
    }

    public func markRead(_ caller: String, ids: [UInt64]) async throws(Failure) {
        _ = try await ask(entities.ref(InboxKind.self, caller), .markRead(ids: ids))
    }

    public func deleteNotification(_ caller: String, id: UInt64) async throws(Failure) {
        _ = try await ask(entities.ref(InboxKind.self, caller), .delete(id: id))
    }

    // MARK: - Helpers

    private func checkID(_ id: String) throws(Failure) {
        guard AccountService.idBytes.contains(id.utf8.count) else {
            throw Failure(kind: .notFound, message: "no user \(id)")
        }
    }

    private func refuseSelf(_ caller: String, _ other: String) throws(Failure) {
        try checkID(other)
        if caller == other { throw Self.failure(.cannotFriendSelf) }
    }

    /// Sends a command; the entity's refusal and cluster failures are thrown as the client sees them.
    private func ask<K: EntityKind>(_ entity: EntityRef<K>, _ command: K.State.Command) async throws(Failure) -> K.Reply
    {
        try await entity.outcome(command).mapError(Self.refused).get()
    }

    /// Sends a command: the entity's refusal comes back as the result's failure (a saga step),
    /// a cluster failure is thrown.
    private func outcome<K: EntityKind>(_ entity: EntityRef<K>, _ command: K.State.Command) async throws(Failure)
        -> Result<K.Reply, K.Failure>
    {
        try await entity.outcome(command)
    }

    private func read<K: EntityKind>(_ entity: EntityRef<K>, _ read: K.Read) async throws(Failure) -> K.Reply {
        try await entity.outcome(read: read).mapError(Self.refused).get()
    }

    /// An entity's refusal as the client sees it.
    private static func refused(_ refusal: some Error) -> Failure {
        switch refusal {
        case let refusal as FriendList.Failure: failure(refusal)
        case Inbox.Failure.notFound as Inbox.Failure: Failure(kind: .notFound, message: "no such notification")
        case Conversation.Failure.invalid(let field, let message) as Conversation.Failure:
            Failure(kind: .invalid(field: field), message: "\(field) \(message)")
        default: Failure(kind: .invalid(field: "body"), message: "\(refusal)")
        }
    }
}
