import EntityRuntime
import GameDomain
import Logging

/// Presence: what the edges tell each user's presence owner (the primary of the shard of
/// `presence/<user id>`, see ``PresenceKind``), and what the owner decides when a node is lost
/// or a grace window ends. Each call answers the user's presence and whether it changed: the
/// caller pushes a change to the user's friends and devices.
public final class PresenceService: Sendable {
    public typealias Failure = ServiceFailure
    public typealias Answer = PresenceKind.Reply

    private let entities: Entities
    /// This node's id: where the sockets it registers are.
    public let node: String
    /// How long a user whose sockets' node was lost shows `reconnecting` before `offline`.
    public let graceSeconds: Double
    private let owned: @Sendable () -> [(key: String, state: Presence.State)]

    /// - Parameter owned: the presence this node owns now (``EntityService/softStates(of:)``).
    public init(
        entities: Entities,
        node: String,
        graceSeconds: Double,
        owned: @escaping @Sendable () -> [(key: String, state: Presence.State)]
    ) {
        self.entities = entities
        self.node = node
        self.graceSeconds = graceSeconds
        self.owned = owned
    }

    /// A user's presence as the user sees it (others: ``Presence/View/seen(byUser:isFriend:)``).
    public func current(_ user: String) async throws(Failure) -> Answer {
        try await run(user) { entity async throws(Failure) in try await entity.outcome(read: .current) }
    }

    /// A socket of the user opened on this node.
    public func connect(_ user: String, socket: String) async throws(Failure) -> Answer {
        try await command(user, .connect(node: node, socket: socket))
    }

    /// A socket of the user on this node closed (or, with `on`, the socket another node kept
    /// parked: it was resumed here).
    public func disconnect(_ user: String, socket: String, on node: String? = nil) async throws(Failure) -> Answer {
        try await command(user, .disconnect(node: node ?? self.node, socket: socket))
    }

    /// A socket of the user on this node lost its connection: parked here for a resume.
    public func drop(_ user: String, socket: String) async throws(Failure) -> Answer {
        try await command(user, .drop(node: node, socket: socket))
    }

    /// What this node holds of the user, live and parked, to an owner that may not know it
    /// (after a change of owner), with the presence this node last saw for them.
    public func announce(_ user: String, sockets: Set<String>, parked: Set<String>, as seen: Presence.View?)
        async throws(Failure) -> Answer
    {
        let status = seen.flatMap { Presence.Status(rawValue: $0.status.rawValue) }
        return try await command(
            user,
            .announce(node: node, sockets: sockets, parked: parked, status: status, rich: seen?.rich)
        )
    }

    /// The user sets their presence (only with a socket open).
    public func set(_ user: String, status: Presence.Status, rich: [String: String]?) async throws(Failure) -> Answer {
        try await command(user, .set(status: status, rich: rich))
    }

    /// Tells a new owner that the user was last seen as `seen`, on nodes that were all lost.
    public func suspect(_ user: String, seen: Presence.View) async throws(Failure) -> Answer {
        guard let status = Presence.Status(rawValue: seen.status.rawValue) else { return try await current(user) }
        return try await command(user, .suspect(status: status, rich: seen.rich))
    }

    /// The owner's side of a lost node: every user this node owns whose sockets were there.
    /// Answers the changes (users now `reconnecting`).
    public func nodeLost(_ lost: String, logger: Logger) async -> [Answer] {
        await sweep(.nodeLost(node: lost), where: { $0.sockets[lost] != nil }, logger: logger)
    }

    /// The owner's side of the grace windows: users whose window is over at `now` (seconds
    /// since 1970) show `offline`.
    public func expire(now: Double, logger: Logger) async -> [Answer] {
        let grace = graceSeconds
        return await sweep(
            .expire(graceSeconds: grace),
            where: { state in state.lostAt.map { !state.hasSockets && now - $0 >= grace } ?? false },
            logger: logger
        )
    }

    /// Commands in flight at once in a sweep (a shard between elections holds its commands
    /// until it serves again).
    static let sweepInFlight = 32

    /// Runs `command` for the users this node owns whose presence `matches`.
    private func sweep(
        _ command: Presence.State.Command,
        where matches: (Presence.State) -> Bool,
        logger: Logger
    ) async -> [Answer] {
        let users = owned().filter { matches($0.state) }.map { String($0.key.dropFirst(PresenceKind.keyPrefix.count)) }
        var changes: [Answer] = []
        await withTaskGroup(of: Answer?.self) { group in
            var next = users.makeIterator()
            func add() {
                guard let user = next.next() else { return }
                group.addTask {
                    do {
                        return try await self.command(user, command)
                    } catch {
                        // The shard moved meanwhile: its new owner rebuilds it from the edges.
                        logger.debug("presence sweep skipped a user", metadata: ["error": "\(error)"])
                        return nil
                    }
                }
            }
            for _ in 0..<Self.sweepInFlight { add() }
            for await answer in group {
                if let answer, answer.changed { changes.append(answer) }
                add()
            }
        }
        return changes
    }

    private func command(_ user: String, _ command: Presence.State.Command) async throws(Failure) -> Answer {
        try await run(user) { entity async throws(Failure) in try await entity.outcome(command) }
    }

    private func run(
        _ user: String,
        _ call: (EntityRef<PresenceKind>) async throws(Failure) -> Result<Answer, Presence.Failure>
    ) async throws(Failure) -> Answer {
        guard AccountService.idBytes.contains(user.utf8.count) else {
            throw Failure(kind: .notFound, message: "no user \(user)")
        }
        switch try await call(entities.ref(PresenceKind.self, user)) {
        case .success(var answer):
            answer.view.userID = user
            return answer
        case .failure(.invalid(let field, let message)):
            throw Failure(kind: .invalid(field: field), message: "\(field): \(message)")
        }
    }
}
