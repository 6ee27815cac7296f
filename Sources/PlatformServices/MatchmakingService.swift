import ClusterCore
import Crypto
import EntityRuntime
import Foundation
import GameDomain
import Logging
import ServiceLifecycle
import Synchronization

/// Matchmaking: tickets into queues, matches out. A queue is an entity (``MatchQueueKind``); its
/// primary runs a round on every enqueue and every `[matchmaking] interval_ms`, and delivers
/// each match it decided — the match's lobby, then `match_found` to every player (see
/// ``onMatch(_:)``), then the record that it was delivered. A match is decided once, in one
/// record with its tickets' change; its delivery is retried, by whichever node leads the
/// queue's shard next, until it is recorded: a lobby created again is the same lobby, and a
/// player may be told twice (the push names the match).
public final class MatchmakingService: Service {
    public typealias Failure = ServiceFailure

    /// A ticket as a client asks for it.
    public struct Request: Sendable {
        public var queue: String
        public var skill: Double
        public var countMin: Int
        public var countMax: Int
        public var countMultiple: Int
        public var teams: Int
        public var latencies: [String: Double]
        public var tags: [String]
        public var partyLobbyID: String?
        public var backfillLobbyID: String?

        public init(
            queue: String,
            skill: Double = 0,
            countMin: Int,
            countMax: Int,
            countMultiple: Int = 1,
            teams: Int = 1,
            latencies: [String: Double] = [:],
            tags: [String] = [],
            partyLobbyID: String? = nil,
            backfillLobbyID: String? = nil
        ) {
            self.queue = queue
            self.skill = skill
            self.countMin = countMin
            self.countMax = countMax
            self.countMultiple = countMultiple
            self.teams = teams
            self.latencies = latencies
            self.tags = tags
            self.partyLobbyID = partyLobbyID
            self.backfillLobbyID = backfillLobbyID
        }
    }

    /// A player's part of a delivered match: the push `match_found`.
    public struct Found: Sendable {
        public var player: String
        public var ticketID: String
        public var match: Matchmaker.Match
        public var lobbyID: String
    }

    public static let teamsMax = 16
    public static let regionsMax = 16
    public static let tagsMax = 16

    private let entities: Entities
    private let lobbies: LobbyService
    private let settings: MatchmakingSettings
    private let local: EntityService?
    private let clock: @Sendable () -> Double
    private let logger: Logger
    private let handler = Mutex<MatchHandler?>(nil)
    /// Matches being delivered by this node now (a round and an enqueue may both find one).
    private let delivering = Mutex<Set<String>>([])
    /// Tickets waiting for their queue's batch in flight, by queue (a queue is listed while one is).
    private let batches = Mutex<[String: [Waiter]]>([:])

    private struct MatchHandler: Sendable {
        let take: @Sendable ([Found]) -> Void
    }

    /// - Parameter local: this node's entity service, whose queues this node drives.
    public init(
        entities: Entities,
        lobbies: LobbyService,
        settings: MatchmakingSettings,
        local: EntityService? = nil,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        logger: Logger = Logger(label: "plume.matchmaking")
    ) {
        self.entities = entities
        self.lobbies = lobbies
        self.settings = settings
        self.local = local
        self.clock = clock
        self.logger = logger
    }

    /// Sets who is told of every match delivered (once per player).
    public func onMatch(_ take: @escaping @Sendable ([Found]) -> Void) {
        handler.withLock { $0 = MatchHandler(take: take) }
    }

    var matcherSettings: Matchmaker.Settings {
        Matchmaker.Settings(
            skillWindowStart: settings.skillWindowStart,
            skillWindowGrowthPerSecond: settings.skillWindowGrowthPerSecond,
            ticketTTL: settings.ticketTTL.seconds
        )
    }

    // MARK: - Requests

    /// Queues a ticket for `caller` (for their party's lobby, or a started lobby's open seats).
    /// A ticket that completes a match comes back matched, its match delivered. With an
    /// `idempotencyKey`, the ticket's id is derived from the caller and the key: a retry of a
    /// request whose answer was lost gets the same ticket back, never a second one.
    public func enqueue(_ caller: String, _ request: Request, idempotencyKey: String? = nil) async throws(Failure)
        -> MatchQueue.Outcome
    {
        try Self.validate(request)
        if let idempotencyKey, !(1...255).contains(idempotencyKey.utf8.count) {
            throw Failure(kind: .invalid(field: "idempotency_key"), message: "Idempotency-Key must be 1 to 255 bytes")
        }
        var players = [caller]
        var openSeats = 0
        if let party = request.partyLobbyID {
            let lobby = try await lobbies.get(caller, party)
            guard lobby.ownerID == caller else {
                throw Failure(kind: .forbidden(code: "not_owner"), message: "only the party lobby's owner queues it")
            }
            players = lobby.members.map(\.userID)
        }
        if let backfill = request.backfillLobbyID {
            let lobby = try await lobbies.get(caller, backfill)
            guard lobby.ownerID == caller else {
                throw Failure(kind: .forbidden(code: "not_owner"), message: "only the lobby's owner asks for backfill")
            }
            openSeats = lobby.maxMembers - lobby.members.count
            guard openSeats > 0 else {
                throw Failure(kind: .conflict(code: "lobby_full"), message: "the lobby is full")
            }
            players = []
        }
        let ticket = Matchmaker.Ticket(
            id: "\(request.queue).\(idempotencyKey.map { Self.derivedHex(caller, $0) } ?? Self.randomHex())",
            players: players,
            skill: request.skill,
            countMin: request.countMin,
            countMax: request.countMax,
            countMultiple: request.countMultiple,
            teams: request.teams,
            latencies: request.latencies,
            tags: request.tags,
            createdAt: clock(),
            partyLobbyID: request.partyLobbyID,
            backfillLobbyID: request.backfillLobbyID,
            openSeats: openSeats,
            owner: caller
        )
        return try await submit(ticket, queue: request.queue)
    }

    // MARK: - Batches

    /// Tickets are sent to their queue in batches: while a queue decides one batch from this node,
    /// the tickets that arrive wait and go together next (a queue decides one command at a time,
    /// each durable before the next: one ticket per command would cap a queue at one commit
    /// per ticket).
    private struct Waiter: Sendable {
        let ticket: Matchmaker.Ticket
        let continuation: CheckedContinuation<Result<MatchQueue.Outcome, Failure>, Never>
    }

    /// Tickets in one command at most.
    static let batchMax = 1024

    private func submit(_ ticket: Matchmaker.Ticket, queue: String) async throws(Failure) -> MatchQueue.Outcome {
        let result = await withCheckedContinuation { continuation in
            let waiter = Waiter(ticket: ticket, continuation: continuation)
            let start = batches.withLock { batches -> Bool in
                if batches[queue] != nil {
                    batches[queue]!.append(waiter)
                    return false
                }
                batches[queue] = [waiter]
                return true
            }
            if start { Task { await self.send(queue: queue) } }
        }
        return try result.get()
    }

    /// One ticket in a command of its own: its outcome, or why it is refused.
    private func enqueueAlone(_ ticket: Matchmaker.Ticket, queue: String) async -> Result<MatchQueue.Outcome, Failure> {
        do throws(Failure) {
            let reply = try await ask(
                queue,
                .enqueue([ticket], queue: queue, settings: matcherSettings, ticketsMax: settings.ticketsPerQueueMax)
            )
            await deliver(reply.matches, queue: queue)
            return .success(reply.outcomes.first ?? MatchQueue.Outcome(ticket: ticket, status: .queued))
        } catch {
            return .failure(error)
        }
    }

    /// Sends the queue's waiting tickets, batch after batch, until none wait.
    private func send(queue: String) async {
        while true {
            let waiters = batches.withLock { batches -> [Waiter] in
                let waiting = batches[queue] ?? []
                if waiting.isEmpty {
                    batches[queue] = nil
                    return []
                }
                let taken = Array(waiting.prefix(Self.batchMax))
                batches[queue] = Array(waiting.dropFirst(taken.count))
                return taken
            }
            if waiters.isEmpty { return }
            let reply: MatchQueueKind.Reply
            do {
                reply = try await ask(
                    queue,
                    .enqueue(
                        waiters.map(\.ticket),
                        queue: queue,
                        settings: matcherSettings,
                        ticketsMax: settings.ticketsPerQueueMax
                    )
                )
            } catch {
                for waiter in waiters { waiter.continuation.resume(returning: .failure(error)) }
                continue
            }
            let outcomes = Dictionary(
                reply.outcomes.map { ($0.ticket.id, $0) },
                uniquingKeysWith: { first, _ in first }
            )
            var matched: [(Waiter, MatchQueue.Outcome)] = []
            for waiter in waiters {
                guard let outcome = outcomes[waiter.ticket.id] else {
                    // Refused in the batch: alone, it tells why.
                    Task { waiter.continuation.resume(returning: await self.enqueueAlone(waiter.ticket, queue: queue)) }
                    continue
                }
                if outcome.status == .matched && reply.matches.contains(where: { $0.id == outcome.match?.id }) {
                    matched.append((waiter, outcome))
                } else {
                    waiter.continuation.resume(returning: .success(outcome))
                }
            }
            // Players whose ticket completed a match hear of it once its lobby exists.
            let matches = reply.matches
            Task {
                await self.deliver(matches, queue: queue)
                for (waiter, outcome) in matched { waiter.continuation.resume(returning: .success(outcome)) }
            }
        }
    }

    /// A ticket, for one of its players or who queued it.
    public func ticket(_ caller: String, _ id: String) async throws(Failure) -> MatchQueue.Outcome {
        let queue = try Self.queue(ofTicket: id)
        let outcome = try await read(queue, .ticket(id: id)).outcomes.first
        guard let outcome, outcome.ticket.belongs(to: caller) else {
            throw Self.refused(.notFound)
        }
        return outcome
    }

    /// Cancels a queued ticket; refused (`already_matched`) once it is in a match.
    public func cancel(_ caller: String, _ id: String) async throws(Failure) {
        let queue = try Self.queue(ofTicket: id)
        _ = try await ask(queue, .cancel(ticketID: id, by: caller))
    }

    public func stats(_ queue: String) async throws(Failure) -> MatchQueueKind.Stats {
        try Self.checkQueue(queue)
        return try await read(queue, .stats).stats ?? MatchQueueKind.Stats(waiting: 0, medianWaitMS: 0, p90WaitMS: 0)
    }

    // MARK: - Delivery (on each queue's primary)

    /// Runs a round of every queue this node leads with tickets waiting, and delivers every
    /// match they hold undelivered, every `interval_ms` until the node shuts down.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: self.settings.interval)
                    await self.drive()
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// One pass over the queues this node leads.
    func drive() async {
        guard let local else { return }
        for (_, entries) in await local.indexed(MatchQueueKind.self) {
            for (key, entry) in entries {
                let queue = String(key.dropFirst(MatchQueueKind.keyPrefix.count))
                await deliver(entry.pending, queue: queue)
                guard entry.waiting > 0 else { continue }
                do {
                    let reply = try await ask(queue, .round(queue: queue, settings: matcherSettings))
                    await deliver(reply.matches, queue: queue)
                } catch {
                    logger.debug(
                        "a queue's round did not run",
                        metadata: ["queue": "\(queue)", "error": "\(error.message)"]
                    )
                }
            }
        }
    }

    /// Matches delivered at once at most.
    static let deliveriesInFlight = 64

    /// Delivers matches: each one's lobby (the same one if it exists), `match_found` to its
    /// players, then one record that they were delivered. A match whose step fails stays
    /// pending: the next pass, here or on the queue's next primary, does it again.
    func deliver(_ matches: [Matchmaker.Match], queue: String) async {
        let mine = delivering.withLock { delivering in matches.filter { delivering.insert($0.id).inserted } }
        guard !mine.isEmpty else { return }
        defer { delivering.withLock { delivering in for match in mine { delivering.remove(match.id) } } }
        let done = await withTaskGroup(of: String?.self) { group in
            var next = 0
            func add() {
                guard next < mine.count else { return }
                let match = mine[next]
                next += 1
                group.addTask { await self.seat(match, queue: queue) ? match.id : nil }
            }
            for _ in 0..<Self.deliveriesInFlight { add() }
            var done: [String] = []
            for await id in group {
                if let id { done.append(id) }
                add()
            }
            return done
        }
        guard !done.isEmpty else { return }
        do {
            _ = try await ask(queue, .delivered(matchIDs: done))
        } catch {
            logger.warning(
                "delivered matches were not recorded yet; they will be delivered again",
                metadata: ["queue": "\(queue)", "matches": "\(done.count)", "error": "\(error.message)"]
            )
        }
    }

    /// A match's lobby, then `match_found` to its players; whether both were done.
    private func seat(_ match: Matchmaker.Match, queue: String) async -> Bool {
        do {
            let lobbyID: String
            if let backfill = match.backfillLobbyID {
                lobbyID = try await lobbies.admit(backfill, users: match.players).id
            } else {
                var data = ["queue": queue, "match_id": match.id]
                if let region = match.region { data["region"] = region }
                lobbyID = try await lobbies.createForMatch(
                    id: match.id,
                    matchID: match.id,
                    players: match.players,
                    data: data
                ).id
            }
            if let handler = handler.withLock({ $0 }) {
                handler.take(
                    match.players.map { player in
                        Found(
                            player: player,
                            ticketID: match.playerTickets[player] ?? "",
                            match: match,
                            lobbyID: lobbyID
                        )
                    }
                )
            }
            return true
        } catch {
            logger.warning(
                "a match was not delivered yet; it will be again",
                metadata: ["match": "\(match.id)", "error": "\(error.message)"]
            )
            return false
        }
    }

    // MARK: - Helpers

    private func ask(_ queue: String, _ command: MatchQueue.Command) async throws(Failure) -> MatchQueueKind.Reply {
        try await entities.ref(MatchQueueKind.self, queue).outcome(command).mapError(Self.refused).get()
    }

    private func read(_ queue: String, _ read: MatchQueueKind.Read) async throws(Failure) -> MatchQueueKind.Reply {
        try await entities.ref(MatchQueueKind.self, queue).outcome(read: read).mapError(Self.refused).get()
    }

    /// 16 hex digits of SHA-256 of the caller and their idempotency key.
    static func derivedHex(_ caller: String, _ key: String) -> String {
        SHA256.hash(data: Data("\(caller)\n\(key)".utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    static func randomHex() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(format: "%016llx", generator.next() as UInt64)
    }

    /// The queue a ticket id names (`<queue>.<random>`).
    static func queue(ofTicket id: String) throws(Failure) -> String {
        guard let dot = id.lastIndex(of: "."), dot != id.startIndex else { throw refused(.notFound) }
        let queue = String(id[..<dot])
        do {
            try checkQueue(queue)
        } catch {
            throw refused(.notFound)
        }
        return queue
    }

    static func checkQueue(_ queue: String) throws(Failure) {
        guard MatchQueue.nameBytes.contains(queue.utf8.count),
            queue.utf8.allSatisfy({ isNameByte($0) })
        else {
            throw Failure(
                kind: .invalid(field: "queue"),
                message: "queue must be 1 to \(MatchQueue.nameBytes.upperBound) letters, digits, '_' or '-'"
            )
        }
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        Validation.isAlphanumeric(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    static func validate(_ request: Request) throws(Failure) {
        try checkQueue(request.queue)
        func invalid(_ field: String, _ message: String) -> Failure {
            Failure(kind: .invalid(field: field), message: "\(field) \(message)")
        }
        guard request.skill.isFinite, abs(request.skill) <= 1e9 else { throw invalid("skill", "must be a number") }
        guard Lobby.membersRange.upperBound >= request.countMax, request.countMin >= 1,
            request.countMin <= request.countMax
        else { throw invalid("count_min", "and count_max must satisfy 1 <= count_min <= count_max <= 250") }
        guard (1...request.countMax).contains(request.countMultiple) else {
            throw invalid("count_multiple", "must be 1 to count_max")
        }
        guard (1...teamsMax).contains(request.teams) else { throw invalid("teams", "must be 1 to \(teamsMax)") }
        guard request.latencies.count <= regionsMax,
            request.latencies.allSatisfy({
                !$0.key.isEmpty && $0.key.utf8.count <= 64 && $0.value >= 0 && $0.value.isFinite
            })
        else { throw invalid("latency_ms", "must map at most \(regionsMax) regions to milliseconds") }
        guard request.tags.count <= tagsMax, request.tags.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 64 }) else {
            throw invalid("tags", "must be at most \(tagsMax) tags of 1 to 64 bytes")
        }
        guard request.partyLobbyID == nil || request.backfillLobbyID == nil else {
            throw invalid("party_lobby_id", "and backfill_lobby_id exclude each other")
        }
    }

    static func refused(_ refusal: MatchQueue.Failure) -> Failure {
        switch refusal {
        case .alreadyQueued:
            Failure(kind: .conflict(code: "already_queued"), message: "a player of this ticket is queued here already")
        case .full: Failure(kind: .tooMany(code: "queue_full"), message: "the queue is full; try again later")
        case .notFound: Failure(kind: .notFound, message: "no such ticket")
        case .alreadyMatched:
            Failure(kind: .conflict(code: "already_matched"), message: "the ticket is in a match already")
        case .invalid(let field, let message): Failure(kind: .invalid(field: field), message: "\(field) \(message)")
        }
    }
}
