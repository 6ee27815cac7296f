import EntityRuntime
import GameDomain

/// A matchmaking queue as an entity: `queue/<queue name>`, replicated, indexed on its shard
/// (how many tickets wait, and the matches not yet delivered: what the queue's primary drives).
public enum MatchQueueKind: IndexedKind {
    public typealias State = MatchQueue.State
    public typealias Failure = MatchQueue.Failure

    /// The queue's figures.
    public struct Stats: Sendable, Equatable {
        public var waiting: Int
        public var medianWaitMS: Double
        public var p90WaitMS: Double

        public init(waiting: Int, medianWaitMS: Double, p90WaitMS: Double) {
            self.waiting = waiting
            self.medianWaitMS = medianWaitMS
            self.p90WaitMS = p90WaitMS
        }
    }

    /// The tickets' outcomes (those an enqueue queued, a ticket read), the matches a command
    /// made or that wait to be delivered, the queue's figures.
    public struct Reply: Sendable, Equatable {
        public var outcomes: [MatchQueue.Outcome]
        public var matches: [Matchmaker.Match]
        public var stats: Stats?

        public init(outcomes: [MatchQueue.Outcome] = [], matches: [Matchmaker.Match] = [], stats: Stats? = nil) {
            self.outcomes = outcomes
            self.matches = matches
            self.stats = stats
        }
    }

    public enum Read: Sendable, Equatable {
        case ticket(id: String)
        case stats
        /// The matches decided and not yet delivered.
        case pending
    }

    /// What the shard's index holds of a queue: what its primary has to do.
    public struct Entry: Sendable, Equatable {
        public var waiting: Int
        public var pending: [Matchmaker.Match]
    }

    public static let tag: UInt32 = 8
    public static let keyPrefix = "queue/"
    public static let durability = Durability.replicated
    /// An enqueue's answer is in its events: the queue is never copied to answer it.
    public static let replyReadsState = false

    public static func reply(to command: State.Command, events: [State.Event], state: State) throws(Failure) -> Reply {
        let matches = events.compactMap { event -> Matchmaker.Match? in
            if case .matched(let match) = event { match } else { nil }
        }
        guard case .enqueue(let tickets, _, _, _) = command else { return Reply(matches: matches) }
        let matchOf = Dictionary(
            matches.flatMap { match in match.ticketIDs.map { ($0, match) } },
            uniquingKeysWith: { first, _ in first }
        )
        var outcomes: [MatchQueue.Outcome] = []
        for case .queued(let ticket) in events {
            let match = matchOf[ticket.id]
            outcomes.append(MatchQueue.Outcome(ticket: ticket, status: match == nil ? .queued : .matched, match: match))
        }
        // A retried enqueue changed nothing: the ticket as the queue holds it (`state` is the
        // queue before the command).
        for ticket in tickets where !outcomes.contains(where: { $0.ticket.id == ticket.id }) {
            if let existing = state.outcome(of: ticket.id), existing.ticket.players == ticket.players {
                outcomes.append(existing)
            }
        }
        return Reply(outcomes: outcomes, matches: matches)
    }

    public static func read(_ read: Read, state: State) throws(Failure) -> Reply {
        switch read {
        case .ticket(let id):
            guard let outcome = state.outcome(of: id) else { throw .notFound }
            return Reply(outcomes: [outcome])
        case .stats:
            let (median, p90) = state.waitPercentiles
            return Reply(stats: Stats(waiting: state.matchmaker.count, medianWaitMS: median, p90WaitMS: p90))
        case .pending:
            return Reply(matches: state.pending.values.sorted { $0.id < $1.id })
        }
    }

    public static func indexEntry(of state: State) -> Entry? {
        guard state.matchmaker.count > 0 || !state.pending.isEmpty else { return nil }
        return Entry(waiting: state.matchmaker.count, pending: state.pending.values.sorted { $0.id < $1.id })
    }
}

/// ``MatchQueueKind``'s schema: `Schema/match_queue.proto`.
extension MatchQueueKind {
    public static func encode(command: State.Command) -> [UInt8] {
        var message = Plume_Queue_Command()
        switch command {
        case .enqueue(let tickets, let queue, let settings, let ticketsMax):
            message.enqueue = .with {
                $0.tickets = tickets.map(wire)
                $0.queue = queue
                $0.settings = wire(settings)
                $0.ticketsMax = UInt32(clamping: ticketsMax)
            }
        case .cancel(let id, let by):
            message.cancel = .with {
                $0.ticketID = id
                $0.by = by
            }
        case .round(let queue, let settings):
            message.round = .with {
                $0.queue = queue
                $0.settings = wire(settings)
            }
        case .delivered(let ids): message.delivered = .with { $0.matchIds = ids }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(command bytes: [UInt8]) throws(SchemaError) -> State.Command {
        switch try Protobuf.message(bytes, as: Plume_Queue_Command.self).command {
        case .enqueue(let m)?:
            .enqueue(
                m.tickets.map(ticket),
                queue: m.queue,
                settings: settings(m.settings),
                ticketsMax: Int(m.ticketsMax)
            )
        case .cancel(let m)?: .cancel(ticketID: m.ticketID, by: m.by)
        case .round(let m)?: .round(queue: m.queue, settings: settings(m.settings))
        case .delivered(let m)?: .delivered(matchIDs: m.matchIds)
        case nil: throw SchemaError.unknownCase("queue command")
        }
    }

    public static func encode(event: State.Event) -> [UInt8] {
        var message = Plume_Queue_Event()
        switch event {
        case .queued(let ticket): message.queued = wire(ticket)
        case .matched(let match): message.matched = wire(match)
        case .cancelled(let id): message.cancelled = .with { $0.ticketID = id }
        case .expired(let ids): message.expired = .with { $0.ticketIds = ids }
        case .delivered(let id): message.delivered = .with { $0.matchID = id }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(event bytes: [UInt8]) throws(SchemaError) -> State.Event {
        switch try Protobuf.message(bytes, as: Plume_Queue_Event.self).event {
        case .queued(let m)?: .queued(ticket(m))
        case .matched(let m)?: .matched(match(m))
        case .cancelled(let m)?: .cancelled(ticketID: m.ticketID)
        case .expired(let m)?: .expired(ticketIDs: m.ticketIds)
        case .delivered(let m)?: .delivered(matchID: m.matchID)
        case nil: throw SchemaError.unknownCase("queue event")
        }
    }

    public static func encode(state: State) -> [UInt8] {
        Protobuf.bytes(
            Plume_Queue_State.with { m in
                m.tickets = state.matchmaker.tickets.values.sorted { $0.id < $1.id }.map(wire)
                m.pending = state.pending.values.sorted { $0.id < $1.id }.map(wire)
                m.finished = state.finishedOrder.compactMap { state.finished[$0] }.map(wire)
                m.waits = state.waits
                m.matches = state.matches
            }
        )
    }

    public static func decode(state bytes: [UInt8]) throws(SchemaError) -> State {
        let m = try Protobuf.message(bytes, as: Plume_Queue_State.self)
        var finished: [MatchQueue.Outcome] = []
        for outcome in m.finished { finished.append(try self.outcome(outcome)) }
        return State(
            tickets: m.tickets.map(ticket),
            pending: m.pending.map(match),
            finished: finished,
            waits: m.waits,
            matches: m.matches
        )
    }

    public static func encode(read: Read) -> [UInt8] {
        var message = Plume_Queue_Read()
        switch read {
        case .ticket(let id): message.ticket = .with { $0.id = id }
        case .stats: message.stats = .init()
        case .pending: message.pending = .init()
        }
        return Protobuf.bytes(message)
    }

    public static func decode(read bytes: [UInt8]) throws(SchemaError) -> Read {
        switch try Protobuf.message(bytes, as: Plume_Queue_Read.self).read {
        case .ticket(let m)?: .ticket(id: m.id)
        case .stats?: .stats
        case .pending?: .pending
        case nil: throw SchemaError.unknownCase("queue read")
        }
    }

    public static func encode(reply: Reply) -> [UInt8] {
        Protobuf.bytes(
            Plume_Queue_Reply.with { m in
                m.outcomes = reply.outcomes.map(wire)
                m.matches = reply.matches.map(wire)
                if let stats = reply.stats {
                    m.stats = .with {
                        $0.waiting = UInt64(stats.waiting)
                        $0.medianWaitMs = stats.medianWaitMS
                        $0.p90WaitMs = stats.p90WaitMS
                    }
                }
            }
        )
    }

    public static func decode(reply bytes: [UInt8]) throws(SchemaError) -> Reply {
        let m = try Protobuf.message(bytes, as: Plume_Queue_Reply.self)
        var outcomes: [MatchQueue.Outcome] = []
        for outcome in m.outcomes { outcomes.append(try self.outcome(outcome)) }
        return Reply(
            outcomes: outcomes,
            matches: m.matches.map(match),
            stats: m.hasStats
                ? Stats(
                    waiting: Int(clamping: m.stats.waiting),
                    medianWaitMS: m.stats.medianWaitMs,
                    p90WaitMS: m.stats.p90WaitMs
                )
                : nil
        )
    }

    public static func encode(failure: Failure) -> [UInt8] { Refusal.encode(failure) }

    public static func decode(failure bytes: [UInt8]) throws(SchemaError) -> Failure {
        try Refusal.decode(bytes, as: Failure.self, kind: "queue")
    }

    static func wire(_ ticket: Matchmaker.Ticket) -> Plume_Queue_Ticket {
        .with {
            $0.id = ticket.id
            $0.players = ticket.players
            $0.skill = ticket.skill
            $0.countMin = UInt32(clamping: ticket.countMin)
            $0.countMax = UInt32(clamping: ticket.countMax)
            $0.countMultiple = UInt32(clamping: ticket.countMultiple)
            $0.teams = UInt32(clamping: ticket.teams)
            $0.latencies = ticket.latencies
            $0.tags = ticket.tags
            $0.createdAt = ticket.createdAt
            if let party = ticket.partyLobbyID { $0.partyLobbyID = party }
            if let backfill = ticket.backfillLobbyID { $0.backfillLobbyID = backfill }
            $0.openSeats = UInt32(clamping: ticket.openSeats)
            if let owner = ticket.owner { $0.owner = owner }
        }
    }

    static func ticket(_ m: Plume_Queue_Ticket) -> Matchmaker.Ticket {
        Matchmaker.Ticket(
            id: m.id,
            players: m.players,
            skill: m.skill,
            countMin: Int(m.countMin),
            countMax: Int(m.countMax),
            countMultiple: Int(m.countMultiple),
            teams: Int(m.teams),
            latencies: m.latencies,
            tags: m.tags,
            createdAt: m.createdAt,
            partyLobbyID: m.hasPartyLobbyID ? m.partyLobbyID : nil,
            backfillLobbyID: m.hasBackfillLobbyID ? m.backfillLobbyID : nil,
            openSeats: Int(m.openSeats),
            owner: m.hasOwner ? m.owner : nil
        )
    }

    static func wire(_ match: Matchmaker.Match) -> Plume_Queue_Match {
        .with {
            $0.id = match.id
            $0.ticketIds = match.ticketIDs
            $0.teams = match.teams.map { team in .with { $0.players = team } }
            if let region = match.region { $0.region = region }
            if let backfill = match.backfillLobbyID { $0.backfillLobbyID = backfill }
            $0.createdAt = match.createdAt
            $0.playerTickets = match.playerTickets
        }
    }

    static func match(_ m: Plume_Queue_Match) -> Matchmaker.Match {
        Matchmaker.Match(
            id: m.id,
            ticketIDs: m.ticketIds,
            teams: m.teams.map(\.players),
            region: m.hasRegion ? m.region : nil,
            backfillLobbyID: m.hasBackfillLobbyID ? m.backfillLobbyID : nil,
            createdAt: m.createdAt,
            playerTickets: m.playerTickets
        )
    }

    static func wire(_ outcome: MatchQueue.Outcome) -> Plume_Queue_Outcome {
        .with {
            $0.ticket = wire(outcome.ticket)
            $0.status = outcome.status.rawValue
            if let match = outcome.match { $0.match = wire(match) }
        }
    }

    static func outcome(_ m: Plume_Queue_Outcome) throws(SchemaError) -> MatchQueue.Outcome {
        guard let status = MatchQueue.Status(rawValue: m.status) else {
            throw SchemaError.unknownCase("ticket status \(m.status)")
        }
        return MatchQueue.Outcome(ticket: ticket(m.ticket), status: status, match: m.hasMatch ? match(m.match) : nil)
    }

    static func wire(_ settings: Matchmaker.Settings) -> Plume_Queue_Settings {
        .with {
            $0.skillWindowStart = settings.skillWindowStart
            $0.skillWindowGrowthPerS = settings.skillWindowGrowthPerSecond
            $0.ticketTtlS = settings.ticketTTL
        }
    }

    static func settings(_ m: Plume_Queue_Settings) -> Matchmaker.Settings {
        Matchmaker.Settings(
            skillWindowStart: m.skillWindowStart,
            skillWindowGrowthPerSecond: m.skillWindowGrowthPerS,
            ticketTTL: m.ticketTtlS
        )
    }
}
