import GameDomain
import Logging
import Synchronization

/// The WebSocket connections one node holds, by user: where pushes for a user are queued, and
/// what a logout on this node closes. Each connection has a bounded send queue
/// (`[realtime] send_queue_max` frames): a client that lets it fill is disconnected, with a
/// logged reason, rather than let its frames grow the node's memory.
final class RealtimeHub: Sendable {
    /// One socket's outgoing frames, in order, and why it must close (if it must).
    final class Connection: Sendable {
        let id: String
        let userID: String
        let sessionID: String
        let frames: AsyncStream<String>
        private let continuation: AsyncStream<String>.Continuation
        private let closing = Mutex<Close?>(nil)
        /// Closes the socket under its writer (which a client that stopped reading blocks).
        private let abort: @Sendable () -> Void

        /// Why the server closes a socket: its WebSocket close code and reason.
        struct Close: Sendable, Equatable {
            var code: UInt16
            var reason: String

            /// The session the socket was opened with ended (logout, revocation).
            static let revoked = Close(code: 4001, reason: "session revoked")
            /// The client did not read its frames: its send queue was full.
            static let slowConsumer = Close(code: 1008, reason: "send queue full")
        }

        init(id: String, userID: String, sessionID: String, queueMax: Int, abort: @escaping @Sendable () -> Void) {
            self.abort = abort
            self.id = id
            self.userID = userID
            self.sessionID = sessionID
            (frames, continuation) = AsyncStream.makeStream(
                of: String.self,
                bufferingPolicy: .bufferingOldest(queueMax)
            )
        }

        /// Queues a frame; false if the queue is full (the connection is then closed as a slow
        /// consumer) or the connection is closing.
        @discardableResult
        func send(_ frame: String) -> Bool {
            switch continuation.yield(frame) {
            case .enqueued: return true
            case .dropped:
                close(.slowConsumer)
                abort()
                return false
            case .terminated: return false
            @unknown default: return false
            }
        }

        /// Ends the queue after the frames already in it; the writer then closes the socket with `close`.
        func close(_ close: Close) {
            let first = closing.withLock { current -> Bool in
                guard current == nil else { return false }
                current = close
                return true
            }
            if first { continuation.finish() }
        }

        /// Why the queue ended, if the server ended it.
        var closeReason: Close? { closing.withLock { $0 } }

        /// The socket is gone: nothing more is queued.
        func finish() { continuation.finish() }
    }

    private let connections = Mutex<[String: [String: Connection]]>([:])
    private let social = Mutex<Watching>(Watching())

    /// Who sees whose presence among the users with sockets here, and what presence was last
    /// delivered of each user.
    struct Watching {
        /// A local user's friends (loaded when their first socket here opens).
        var friends: [String: Set<String>] = [:]
        /// A user's friends with sockets here.
        var watchers: [String: Set<String>] = [:]
        /// The last presence delivered here of each user with sockets or watchers here (as the
        /// user sees it), and the nodes that held their sockets then.
        var seen: [String: (view: Presence.View, nodes: [String])] = [:]

        mutating func link(_ user: String, _ friend: String) {
            friends[user, default: []].insert(friend)
            watchers[friend, default: []].insert(user)
        }

        mutating func unlink(_ user: String, _ friend: String) {
            friends[user]?.remove(friend)
            watchers[friend]?.remove(user)
            if watchers[friend]?.isEmpty == true { watchers[friend] = nil }
        }
    }
    let sendQueueMax: Int
    let logger: Logger

    init(sendQueueMax: Int, logger: Logger) {
        self.sendQueueMax = sendQueueMax
        self.logger = logger
    }

    /// Registers a new socket of `userID`, opened with the session `sessionID`.
    /// `abort` closes the socket at once (its frames are dropped).
    func open(id: String, userID: String, sessionID: String, abort: @escaping @Sendable () -> Void) -> Connection {
        let connection = Connection(
            id: id,
            userID: userID,
            sessionID: sessionID,
            queueMax: sendQueueMax,
            abort: abort
        )
        connections.withLock { $0[userID, default: [:]][id] = connection }
        return connection
    }

    /// Forgets a closed socket; true if it was the user's last one here (their friends are
    /// then no longer watched from here).
    @discardableResult
    func remove(_ connection: Connection) -> Bool {
        connection.finish()
        let last = connections.withLock { all -> Bool in
            all[connection.userID]?[connection.id] = nil
            guard all[connection.userID]?.isEmpty == true else { return false }
            all[connection.userID] = nil
            return true
        }
        if last {
            social.withLock { watching in
                for friend in watching.friends[connection.userID] ?? [] { watching.unlink(connection.userID, friend) }
                watching.friends[connection.userID] = nil
            }
        }
        if connection.closeReason == .slowConsumer {
            logger.warning(
                "disconnected a slow consumer: its send queue was full",
                metadata: ["realtime/queue-max": "\(sendQueueMax)", "realtime/user": "\(connection.userID)"]
            )
        }
        return last
    }

    /// Whether this node holds a socket of `user`.
    func holds(_ user: String) -> Bool { connections.withLock { $0[user] != nil } }

    /// The sockets this node holds, by user.
    func sockets() -> [String: Set<String>] {
        connections.withLock { all in all.mapValues { Set($0.keys) } }
    }

    /// Sets the friends of a user with sockets here (whose presence their sockets get).
    func watch(_ user: String, friends: Set<String>) {
        guard holds(user) else { return }
        social.withLock { watching in
            for friend in friends { watching.link(user, friend) }
        }
    }

    /// Delivers a presence change: as it is to the user's own sockets, as friends see it to
    /// their friends' here. A change already delivered (the same view again) is not.
    func deliver(presence view: Presence.View, nodes: [String]) {
        let holdsUser = holds(view.userID)
        let watchers = social.withLock { watching -> Set<String>? in
            if let last = watching.seen[view.userID], last.view == view {
                watching.seen[view.userID] = (view, nodes)
                return nil
            }
            let watchers = watching.watchers[view.userID] ?? []
            if view.status == .offline {
                watching.seen[view.userID] = nil
            } else if !watchers.isEmpty || holdsUser {
                watching.seen[view.userID] = (view, nodes)
            }
            return watchers
        }
        guard let watchers else { return }
        deliver(RealtimeProtocol.push("presence", data: PresenceBody(view)), to: [view.userID])
        guard !watchers.isEmpty, let seen = view.seen(byUser: "", isFriend: true) else { return }
        deliver(RealtimeProtocol.push("presence", data: PresenceBody(seen)), to: watchers)
    }

    /// The last presence delivered here of `user` (as the user sees it), with the nodes that held
    /// their sockets then.
    func lastSeen(_ user: String) -> (view: Presence.View, nodes: [String])? {
        social.withLock { $0.seen[user] }
    }

    /// The users whose presence sockets here watch (friends of local users), as last delivered.
    func watched() -> [String: (view: Presence.View, nodes: [String])] {
        social.withLock { watching in watching.seen.filter { watching.watchers[$0.key] != nil } }
    }

    /// `user`'s relationship with `other` is now `state`: the push `friend` to `user`'s sockets,
    /// and `other`'s presence reaches them only while they are friends.
    func relationship(user: String, other: String, state: String) {
        guard holds(user) else { return }
        social.withLock { watching in
            if state == "friend" { watching.link(user, other) } else { watching.unlink(user, other) }
        }
        deliver(RealtimeProtocol.push("friend", data: FriendPushBody(userId: other, state: state)), to: [user])
    }

    /// Queues `frame` on every socket of each of `users` this node holds.
    func deliver(_ frame: String, to users: some Sequence<String>) {
        let targets = connections.withLock { all in users.flatMap { all[$0].map { Array($0.values) } ?? [] } }
        for connection in targets { connection.send(frame) }
    }

    /// Closes every socket opened with the session `sessionID` of `userID` (after the push
    /// `session_revoked`), code 4001.
    func revoke(userID: String, sessionID: String) {
        let targets = connections.withLock { all in
            (all[userID] ?? [:]).values.filter { $0.sessionID == sessionID }
        }
        for connection in targets {
            connection.send(RealtimeProtocol.push("session_revoked", data: EmptyBody()))
            connection.close(.revoked)
        }
    }
}
