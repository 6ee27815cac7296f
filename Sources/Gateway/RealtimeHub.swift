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

    /// Forgets a closed socket. When it was the user's last one here (live or parked), their
    /// friends are no longer watched from here.
    func remove(_ connection: Connection) {
        connection.finish()
        connections.withLock { all in
            all[connection.userID]?[connection.id] = nil
            if all[connection.userID]?.isEmpty == true { all[connection.userID] = nil }
        }
        unwatchIfGone(connection.userID)
        if connection.closeReason == .slowConsumer {
            logger.warning(
                "disconnected a slow consumer: its send queue was full",
                metadata: ["realtime/queue-max": "\(sendQueueMax)", "realtime/user": "\(connection.userID)"]
            )
        }
    }

    private func unwatchIfGone(_ user: String) {
        guard !holds(user) else { return }
        social.withLock { watching in
            for friend in watching.friends[user] ?? [] { watching.unlink(user, friend) }
            watching.friends[user] = nil
        }
    }

    // MARK: - Parked sockets

    /// A socket whose connection dropped, kept for a resume until `until`: the pushes it missed
    /// (at most send_queue_max: past that it cannot be restored whole, and is let go).
    struct Parked: Sendable {
        let userID: String
        let sessionID: String
        let socketID: String
        let until: ContinuousClock.Instant
        var frames: [String] = []
    }

    private struct Parking {
        var byToken: [String: Parked] = [:]
        var tokensByUser: [String: Set<String>] = [:]

        mutating func remove(_ token: String) -> Parked? {
            guard let parked = byToken.removeValue(forKey: token) else { return nil }
            tokensByUser[parked.userID]?.remove(token)
            if tokensByUser[parked.userID]?.isEmpty == true { tokensByUser[parked.userID] = nil }
            return parked
        }
    }

    private let parking = Mutex(Parking())

    /// Keeps a dropped socket for a resume with `token` until `until`.
    func park(_ connection: Connection, token: String, until: ContinuousClock.Instant) {
        parking.withLock { parking in
            parking.byToken[token] = Parked(
                userID: connection.userID,
                sessionID: connection.sessionID,
                socketID: connection.id,
                until: until
            )
            parking.tokensByUser[connection.userID, default: []].insert(token)
        }
    }

    /// The parked socket of `token`, taken for a resume by the same user and session.
    func unpark(token: String, userID: String, sessionID: String) -> Parked? {
        let parked = parking.withLock { parking -> Parked? in
            guard let parked = parking.byToken[token], parked.userID == userID, parked.sessionID == sessionID,
                parked.until > .now
            else { return nil }
            return parking.remove(token)
        }
        if let parked { unwatchIfGone(parked.userID) }
        return parked
    }

    /// Lets go of the parked sockets whose time is over (or that missed more than they may
    /// keep); returns them.
    func expireParked(now: ContinuousClock.Instant = .now) -> [Parked] {
        let expired = parking.withLock { parking in
            parking.byToken.filter { $0.value.until <= now || $0.value.frames.count > sendQueueMax }.keys
                .compactMap { parking.remove($0) }
        }
        for parked in expired { unwatchIfGone(parked.userID) }
        return expired
    }

    /// The parked sockets here, by user.
    func parkedSockets() -> [String: Set<String>] {
        parking.withLock { parking in
            parking.tokensByUser.mapValues { Set($0.compactMap { parking.byToken[$0]?.socketID }) }
        }
    }

    /// Whether this node holds a socket of `user`, live or parked.
    func holds(_ user: String) -> Bool {
        connections.withLock { $0[user] != nil } || parking.withLock { $0.tokensByUser[user] != nil }
    }

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
        let frame = RealtimeProtocol.presencePush(view)
        deliver(frame, to: [view.userID])
        guard !watchers.isEmpty, let seen = view.seen(byUser: "", isFriend: true) else { return }
        deliver(seen == view ? frame : RealtimeProtocol.presencePush(seen), to: watchers)
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

    /// Queues `frame` on every socket of each of `users` this node holds, and keeps it for their
    /// parked sockets.
    func deliver(_ frame: String, to users: some Sequence<String>) {
        let users = Array(users)
        let targets = connections.withLock { all in users.flatMap { all[$0].map { Array($0.values) } ?? [] } }
        for connection in targets { connection.send(frame) }
        parking.withLock { parking in
            for user in users {
                // One past the bound marks a parked socket that missed too much to be restored.
                for token in parking.tokensByUser[user] ?? [] where parking.byToken[token]!.frames.count <= sendQueueMax
                {
                    parking.byToken[token]?.frames.append(frame)
                }
            }
        }
    }

    /// Closes every socket opened with the session `sessionID` of `userID` (after the push
    /// `session_revoked`), code 4001; its parked sockets are let go (returned).
    @discardableResult
    func revoke(userID: String, sessionID: String) -> [Parked] {
        let gone = parking.withLock { parking in
            (parking.tokensByUser[userID] ?? []).filter { parking.byToken[$0]?.sessionID == sessionID }
                .compactMap { parking.remove($0) }
        }
        if !gone.isEmpty { unwatchIfGone(userID) }
        let targets = connections.withLock { all in
            (all[userID] ?? [:]).values.filter { $0.sessionID == sessionID }
        }
        for connection in targets {
            connection.send(RealtimeProtocol.push("session_revoked", data: EmptyBody()))
            connection.close(.revoked)
        }
        return gone
    }
}
