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

    func remove(_ connection: Connection) {
        connection.finish()
        connections.withLock { all in
            all[connection.userID]?[connection.id] = nil
            if all[connection.userID]?.isEmpty == true { all[connection.userID] = nil }
        }
        if connection.closeReason == .slowConsumer {
            logger.warning(
                "disconnected a slow consumer: its send queue was full",
                metadata: ["realtime/queue-max": "\(sendQueueMax)"]
            )
        }
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
