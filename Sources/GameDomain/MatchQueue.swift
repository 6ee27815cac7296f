/// A matchmaking queue: its waiting tickets (a ``Matchmaker``), the matches it decided and has
/// not yet delivered, and the outcome of recent tickets.
///
/// A match is one event: its tickets leave the queue and the match is *pending* in the same
/// record, so a ticket is in at most one match whatever fails later. Delivering it (the lobby,
/// the pushes) is done by the queue's primary and retried by the next one until it records
/// ``Command/delivered(matchIDs:)``.
public enum MatchQueue {
    /// Outcomes of finished tickets kept for reads (the oldest go first).
    public static let finishedKept = 10_000
    /// Waits of recently matched tickets kept for the queue's figures.
    public static let waitsKept = 1000
    public static let nameBytes = 1...40

    public enum Status: String, Sendable, Equatable {
        case queued, matched, cancelled, expired
    }

    /// A ticket, and what became of it.
    public struct Outcome: Sendable, Equatable {
        public var ticket: Matchmaker.Ticket
        public var status: Status
        public var match: Matchmaker.Match?

        public init(ticket: Matchmaker.Ticket, status: Status, match: Matchmaker.Match? = nil) {
            self.ticket = ticket
            self.status = status
            self.match = match
        }
    }

    public enum Failure: CodedRefusal {
        case alreadyQueued
        case full
        case notFound
        case alreadyMatched
        case invalid(field: String, message: String)

        public static let refusals: [Failure] = [.alreadyQueued, .full, .notFound, .alreadyMatched]

        public var code: String {
            switch self {
            case .alreadyQueued: "already_queued"
            case .full: "queue_full"
            case .notFound: "not_found"
            case .alreadyMatched: "already_matched"
            case .invalid: "invalid"
            }
        }

        public var invalidInput: (field: String, message: String)? {
            if case .invalid(let field, let message) = self { (field, message) } else { nil }
        }
    }

    public enum Command: Sendable, Equatable {
        /// Queues each ticket and runs a round around it; refused when one of its players has a
        /// ticket queued here, or the queue holds `ticketsMax`. A ticket whose id the queue
        /// knows already (a retry) changes nothing. Alone, a refused ticket fails the command;
        /// in a batch (what a node gathers while the queue decides the batch before) it is left
        /// out and the others stand.
        case enqueue([Matchmaker.Ticket], queue: String, settings: Matchmaker.Settings, ticketsMax: Int)
        /// Cancels a ticket of `by`'s (refused once matched).
        case cancel(ticketID: String, by: String)
        /// A timer's round: expiries, then matches of every anchor.
        case round(queue: String, settings: Matchmaker.Settings)
        /// The matches' lobbies exist and their players were told.
        case delivered(matchIDs: [String])
    }

    public enum Event: Sendable, Equatable {
        case queued(Matchmaker.Ticket)
        case matched(Matchmaker.Match)
        case cancelled(ticketID: String)
        case expired(ticketIDs: [String])
        case delivered(matchID: String)
    }

    public struct State: Aggregate {
        public var matchmaker = Matchmaker()
        /// The queued ticket of each player.
        public var users: [String: String] = [:]
        /// Matches decided and not yet delivered, by id.
        public var pending: [String: Matchmaker.Match] = [:]
        /// Finished tickets by id, and their ids oldest first.
        public var finished: [String: Outcome] = [:]
        public var finishedOrder: [String] = []
        /// Milliseconds the last matched tickets waited, oldest first.
        public var waits: [Double] = []
        /// Matches made so far (the next match's number).
        public var matches: UInt64 = 0

        public static let initial = State()

        public init() {}

        /// A queue holding `tickets` (what a snapshot restores; `finished` oldest first).
        public init(
            tickets: [Matchmaker.Ticket],
            pending: [Matchmaker.Match],
            finished: [Outcome],
            waits: [Double],
            matches: UInt64
        ) {
            matchmaker = Matchmaker(tickets: tickets)
            for ticket in tickets {
                for player in ticket.players { users[player] = ticket.id }
            }
            self.pending = Dictionary(pending.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
            self.finished = Dictionary(finished.map { ($0.ticket.id, $0) }, uniquingKeysWith: { $1 })
            finishedOrder = finished.map(\.ticket.id)
            self.waits = waits
            self.matches = matches
        }

        public func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            switch command {
            case .enqueue(let tickets, let queue, let settings, let ticketsMax):
                var working = Working(matchmaker: matchmaker, users: users, matches: matches)
                if tickets.count == 1 {
                    return try enqueue(
                        tickets[0],
                        queue: queue,
                        settings: settings,
                        ticketsMax: ticketsMax,
                        now: now,
                        working: &working,
                        update: false
                    )
                }
                // A batch: each ticket decided on the queue as the ones before it left it (only
                // what those change is copied: the waiting tickets and who holds one); one that is
                // refused is left out (its sender asks again alone, to learn why).
                var events: [Event] = []
                for ticket in tickets {
                    guard
                        let decided = try? enqueue(
                            ticket,
                            queue: queue,
                            settings: settings,
                            ticketsMax: ticketsMax,
                            now: now,
                            working: &working,
                            update: true
                        )
                    else { continue }
                    events += decided
                }
                return events
            case .cancel(let id, let by):
                if let ticket = matchmaker.tickets[id] {
                    guard ticket.belongs(to: by) else { throw .notFound }
                    return [.cancelled(ticketID: id)]
                }
                guard let outcome = finished[id], outcome.ticket.belongs(to: by)
                else { throw .notFound }
                if outcome.status == .matched { throw .alreadyMatched }
                return []
            case .round(let queue, let settings):
                let expired = matchmaker.expired(at: now, settings: settings).map(\.id)
                let found = matchmaker.round(at: now, settings: settings) { index in
                    Self.matchID(queue, matches + UInt64(index) + 1)
                }
                return (expired.isEmpty ? [] : [.expired(ticketIDs: expired)]) + found.map(Event.matched)
            case .delivered(let ids):
                return ids.filter { pending[$0] != nil }.map { .delivered(matchID: $0) }
            }
        }

        /// What the tickets of a batch change as each is decided: the waiting tickets, who holds
        /// one, the matches made, the tickets decided.
        struct Working {
            var matchmaker: Matchmaker
            var users: [String: String]
            var matches: UInt64
            var decided: Set<String> = []
        }

        /// One ticket queued, and the matches a round around it makes; with `update`, `working`
        /// takes what they change (for the next ticket of a batch).
        func enqueue(
            _ ticket: Matchmaker.Ticket,
            queue: String,
            settings: Matchmaker.Settings,
            ticketsMax: Int,
            now: Double,
            working: inout Working,
            update: Bool
        ) throws(Failure) -> [Event] {
            guard ticket.isBackfill || !ticket.players.isEmpty else {
                throw .invalid(field: "players", message: "a ticket needs a player")
            }
            // The same ticket again (a client retrying with its idempotency key): nothing new;
            // the answer is the ticket as it is.
            if let existing = working.matchmaker.tickets[ticket.id] ?? finished[ticket.id]?.ticket {
                guard existing.players == ticket.players else { throw .invalid(field: "id", message: "is taken") }
                return []
            }
            if working.decided.contains(ticket.id) { return [] }
            if ticket.players.contains(where: { working.users[$0] != nil }) { throw .alreadyQueued }
            guard working.matchmaker.count < ticketsMax else { throw .full }
            let matches = working.matches
            let found = working.matchmaker.round(at: now, settings: settings, adding: ticket) { index in
                Self.matchID(queue, matches + UInt64(index) + 1)
            }
            if update {
                working.decided.insert(ticket.id)
                working.matchmaker.add(ticket)
                for player in ticket.players { working.users[player] = ticket.id }
                for match in found {
                    for id in match.ticketIDs {
                        guard let gone = working.matchmaker.remove(id) else { continue }
                        for player in gone.players where working.users[player] == id { working.users[player] = nil }
                    }
                    working.matches += 1
                }
            }
            return [.queued(ticket)] + found.map(Event.matched)
        }

        public mutating func apply(_ event: Event) {
            switch event {
            case .queued(let ticket):
                matchmaker.add(ticket)
                for player in ticket.players { users[player] = ticket.id }
            case .matched(let match):
                for id in match.ticketIDs {
                    guard let ticket = leave(id) else { continue }
                    finish(Outcome(ticket: ticket, status: .matched, match: match))
                    waits.append(max(0, match.createdAt - ticket.createdAt) * 1000)
                }
                if waits.count > MatchQueue.waitsKept { waits.removeFirst(waits.count - MatchQueue.waitsKept) }
                pending[match.id] = match
                matches += 1
            case .cancelled(let id):
                if let ticket = leave(id) { finish(Outcome(ticket: ticket, status: .cancelled)) }
            case .expired(let ids):
                for id in ids {
                    if let ticket = leave(id) { finish(Outcome(ticket: ticket, status: .expired)) }
                }
            case .delivered(let id):
                pending[id] = nil
            }
        }

        private mutating func leave(_ id: String) -> Matchmaker.Ticket? {
            guard let ticket = matchmaker.remove(id) else { return nil }
            for player in ticket.players where users[player] == id { users[player] = nil }
            return ticket
        }

        private mutating func finish(_ outcome: Outcome) {
            finished[outcome.ticket.id] = outcome
            finishedOrder.append(outcome.ticket.id)
            if finishedOrder.count > MatchQueue.finishedKept {
                let gone = finishedOrder.count - MatchQueue.finishedKept
                for id in finishedOrder.prefix(gone) { finished[id] = nil }
                finishedOrder.removeFirst(gone)
            }
        }

        /// A ticket: waiting, or finished recently.
        public func outcome(of id: String) -> Outcome? {
            if let ticket = matchmaker.tickets[id] { return Outcome(ticket: ticket, status: .queued) }
            return finished[id]
        }

        /// The median and 90th percentile of the last matched tickets' waits (ms).
        public var waitPercentiles: (median: Double, p90: Double) {
            guard !waits.isEmpty else { return (0, 0) }
            let sorted = waits.sorted()
            func at(_ q: Double) -> Double {
                sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
            }
            return (at(0.5), at(0.9))
        }

        /// The id of a queue's n-th match.
        public static func matchID(_ queue: String, _ number: UInt64) -> String { "\(queue).m\(number)" }
    }
}
