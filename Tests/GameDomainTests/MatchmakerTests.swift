import ClusterTestKit
import GameDomain
import Testing

/// Seeded property tests of the matchmaker: random queues (parties, skills, counts, teams,
/// regions, tags) run through enqueues and timer rounds, and every match checked.
@Suite struct MatchmakerTests {
    static let regions = ["eu", "us", "asia"]
    static let tags = ["ranked", "casual", "hardcore"]

    struct Shape {
        var countMin: Int
        var countMax: Int
        var multiple: Int
        var teams: Int
    }

    static let shapes = [
        Shape(countMin: 2, countMax: 2, multiple: 1, teams: 2),
        Shape(countMin: 4, countMax: 8, multiple: 2, teams: 2),
        Shape(countMin: 3, countMax: 6, multiple: 3, teams: 3),
        Shape(countMin: 2, countMax: 10, multiple: 1, teams: 1),
    ]

    static func randomTicket(_ n: Int, at now: Double, _ random: inout SplitMix64) -> Matchmaker.Ticket {
        let shape = shapes[Int(random.next() % UInt64(shapes.count))]
        let party = random.next() % 4 == 0 ? 2 : 1
        var latencies: [String: Double] = [:]
        if random.next() % 2 == 0 {
            for region in regions where random.next() % 2 == 0 { latencies[region] = Double(random.next() % 200) }
        }
        let tags = random.next() % 2 == 0 ? tags.filter { _ in random.next() % 2 == 0 } : []
        return Matchmaker.Ticket(
            id: "t\(n)",
            players: (0..<party).map { "p\(n)-\($0)" },
            skill: Double(random.next() % 3000),
            countMin: shape.countMin,
            countMax: shape.countMax,
            countMultiple: shape.multiple,
            teams: shape.teams,
            latencies: latencies,
            tags: tags,
            createdAt: now
        )
    }

    /// A queue fed random tickets (and cancellations) with rounds in between; every ticket it
    /// saw, and every match it made.
    static func run(seed: UInt64, tickets count: Int, settings: Matchmaker.Settings)
        -> (tickets: [String: Matchmaker.Ticket], matches: [Matchmaker.Match], state: MatchQueue.State)
    {
        var random = SplitMix64(seed: seed)
        var state = MatchQueue.State()
        var seen: [String: Matchmaker.Ticket] = [:]
        var matches: [Matchmaker.Match] = []
        var now = 1000.0
        func run(_ command: MatchQueue.Command) {
            guard let events = try? state.handle(command, now: now) else { return }
            for event in events {
                state.apply(event)
                if case .matched(let match) = event { matches.append(match) }
            }
        }
        for n in 0..<count {
            now += Double(random.next() % 500) / 1000
            let ticket = randomTicket(n, at: now, &random)
            seen[ticket.id] = ticket
            run(.enqueue([ticket], queue: "q", settings: settings, ticketsMax: 10_000))
            if random.next() % 10 == 0, let player = state.users.keys.sorted().first {
                run(.cancel(ticketID: state.users[player]!, by: player))
            }
            if n % 25 == 0 { run(.round(queue: "q", settings: settings)) }
        }
        for _ in 0..<20 {
            now += 5
            run(.round(queue: "q", settings: settings))
        }
        return (seen, matches, state)
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func noTicketIsInTwoMatchesAndEveryMatchKeepsItsTicketsRules(seed: UInt64) throws {
        let settings = Matchmaker.Settings(skillWindowStart: 50, skillWindowGrowthPerSecond: 20, ticketTTL: 60)
        let (tickets, matches, state) = Self.run(seed: seed, tickets: 300, settings: settings)
        #expect(matches.count > 10, "seed \(seed) made \(matches.count) matches")
        var matched: Set<String> = []
        for match in matches {
            let members = try match.ticketIDs.map { id in try #require(tickets[id]) }
            for id in match.ticketIDs {
                #expect(matched.insert(id).inserted, "ticket \(id) is in two matches")
            }
            let players = match.players
            #expect(Set(players).count == players.count)
            #expect(Set(players) == Set(members.flatMap(\.players)), "every player of the tickets plays, no other")
            // Counts, multiples, equal teams.
            for ticket in members {
                #expect(
                    (ticket.countMin...ticket.countMax).contains(players.count),
                    "size \(players.count) for \(ticket)"
                )
                #expect(players.count % ticket.countMultiple == 0)
                #expect(match.teams.count == ticket.teams)
            }
            #expect(Set(match.teams.map(\.count)).count == 1, "teams of equal size: \(match.teams)")
            // Parties stay whole; regions and tags shared.
            for ticket in members where ticket.players.count > 1 {
                #expect(Set(ticket.players.map(match.team(of:))).count == 1, "a party split: \(match.teams)")
            }
            let listing = members.filter { !$0.latencies.isEmpty }
            if !listing.isEmpty {
                let region = try #require(match.region)
                #expect(listing.allSatisfy { $0.latencies[region] != nil })
            }
            let tagged = members.filter { !$0.tags.isEmpty }
            if let first = tagged.first {
                #expect(!tagged.reduce(Set(first.tags)) { $0.intersection($1.tags) }.isEmpty)
            }
            // Skills within the anchor's window when the match was made.
            let anchor = members.min { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }!
            let window = settings.window(createdAt: anchor.createdAt, now: match.createdAt)
            #expect(members.allSatisfy { abs($0.skill - anchor.skill) <= window })
        }
        // A matched ticket is no longer queued; the queue knows each outcome.
        for id in matched {
            #expect(state.outcome(of: id)?.status == .matched)
            #expect(state.matchmaker.tickets[id] == nil)
        }
        #expect(state.pending.count == matches.count)
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func teamSkillTotalsStayWithinTheSpreadOfTheMatch(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var matchmaker = Matchmaker()
        let teams = 2 + Int(random.next() % 2)
        for n in 0..<(teams * 5) {
            matchmaker.add(
                Matchmaker.Ticket(
                    id: "t\(n)",
                    players: ["p\(n)"],
                    skill: Double(random.next() % 1000),
                    countMin: teams * 5,
                    countMax: teams * 5,
                    teams: teams,
                    createdAt: Double(n)
                )
            )
        }
        let settings = Matchmaker.Settings(skillWindowStart: 1000, skillWindowGrowthPerSecond: 0, ticketTTL: 1000)
        let matches = matchmaker.round(at: 100, settings: settings) { "m\($0)" }
        #expect(matches.count == 1)
        guard let match = matches.first else { return }
        let skill = Dictionary(uniqueKeysWithValues: matchmaker.tickets.values.map { ($0.players[0], $0.skill) })
        let totals = match.teams.map { $0.reduce(0) { $0 + skill[$1]! } }
        let spread = skill.values.max()! - skill.values.min()!
        #expect(totals.max()! - totals.min()! <= spread, "totals \(totals), spread \(spread)")
        #expect(match.teams.allSatisfy { $0.count == 5 })
    }

    @Test(arguments: 1...20 as ClosedRange<UInt64>)
    func theOldestCompatibleTicketsWin(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var matchmaker = Matchmaker()
        var tickets: [Matchmaker.Ticket] = []
        for n in 0..<60 {
            let ticket = Matchmaker.Ticket(
                id: String(format: "t%03d", n),
                players: ["p\(n)"],
                skill: Double(random.next() % 1000),
                countMin: 3,
                countMax: 3,
                createdAt: Double(n)
            )
            tickets.append(ticket)
            matchmaker.add(ticket)
        }
        let settings = Matchmaker.Settings(skillWindowStart: 150, skillWindowGrowthPerSecond: 0, ticketTTL: 1000)
        let matches = matchmaker.round(at: 100, settings: settings) { "m\($0)" }
        #expect(!matches.isEmpty)
        var taken: Set<String> = []
        for match in matches {
            let members = tickets.filter { match.ticketIDs.contains($0.id) }
            let anchor = members[0]
            let youngest = members.last!
            // Every ticket the anchor could take that is older than the youngest it took, and
            // not in an earlier match, is in this one.
            for ticket in tickets
            where ticket.createdAt < youngest.createdAt && ticket.createdAt > anchor.createdAt
                && !taken.contains(ticket.id) && abs(ticket.skill - anchor.skill) <= 150
            {
                #expect(match.ticketIDs.contains(ticket.id), "\(ticket.id) was passed over for \(youngest.id)")
            }
            taken.formUnion(match.ticketIDs)
        }
    }

    @Test(arguments: [(0.0, 10.0, 100.0), (50.0, 25.0, 100.0), (100.0, 0.5, 101.0)])
    func theWindowWidensAsConfigured(start: Double, growth: Double, difference: Double) {
        var matchmaker = Matchmaker()
        matchmaker.add(Matchmaker.Ticket(id: "old", players: ["a"], skill: 1000, createdAt: 0))
        matchmaker.add(Matchmaker.Ticket(id: "new", players: ["b"], skill: 1000 + difference, createdAt: 0.5))
        let settings = Matchmaker.Settings(skillWindowStart: start, skillWindowGrowthPerSecond: growth, ticketTTL: 1e9)
        // The older ticket's window reaches the other at (difference - start) / growth seconds.
        let reached = (difference - start) / growth
        #expect(matchmaker.round(at: reached - 0.01, settings: settings) { "m\($0)" }.isEmpty)
        let matches = matchmaker.round(at: reached + 0.01, settings: settings) { "m\($0)" }
        #expect(matches.map(\.ticketIDs) == [["old", "new"]])
    }

    @Test func aPartyQueuesAsOneTicketAndABackfillTakesPlayersUpToItsSeats() {
        var matchmaker = Matchmaker()
        let settings = Matchmaker.Settings(skillWindowStart: 100, skillWindowGrowthPerSecond: 0, ticketTTL: 100)
        matchmaker.add(
            Matchmaker.Ticket(
                id: "party",
                players: ["a", "b", "c"],
                skill: 10,
                countMin: 4,
                countMax: 4,
                teams: 2,
                createdAt: 0
            )
        )
        matchmaker.add(
            Matchmaker.Ticket(id: "solo1", players: ["d"], skill: 10, countMin: 4, countMax: 4, teams: 2, createdAt: 1)
        )
        // 3 + 1 cannot split in two teams of 2 with the party whole: no match.
        #expect(matchmaker.round(at: 2, settings: settings) { "m\($0)" }.isEmpty)

        var backfill = Matchmaker()
        backfill.add(
            Matchmaker.Ticket(id: "fill", players: [], skill: 10, createdAt: 0, backfillLobbyID: "L1", openSeats: 2)
        )
        for n in 0..<3 {
            backfill.add(
                Matchmaker.Ticket(
                    id: "s\(n)",
                    players: ["p\(n)"],
                    skill: 10,
                    countMin: 2,
                    countMax: 2,
                    createdAt: Double(n + 1)
                )
            )
        }
        let matches = backfill.round(at: 5, settings: settings) { "m\($0)" }
        #expect(matches.first?.backfillLobbyID == "L1")
        #expect(matches.first?.players == ["p0", "p1"])
    }

    @Test func aQueueRefusesASecondTicketOfAPlayerAndPastItsCapAndCancelsUntilMatched() throws {
        var state = MatchQueue.State()
        let settings = Matchmaker.Settings(skillWindowStart: 0, skillWindowGrowthPerSecond: 0, ticketTTL: 10)
        func run(_ command: MatchQueue.Command, at now: Double) throws(MatchQueue.Failure) -> [MatchQueue.Event] {
            let events = try state.handle(command, now: now)
            for event in events { state.apply(event) }
            return events
        }
        let a = Matchmaker.Ticket(id: "q.a", players: ["a"], skill: 1, createdAt: 0)
        _ = try run(.enqueue([a], queue: "q", settings: settings, ticketsMax: 2), at: 0)
        #expect(throws: MatchQueue.Failure.alreadyQueued) {
            try run(
                .enqueue(
                    [Matchmaker.Ticket(id: "q.a2", players: ["a"], createdAt: 0)],
                    queue: "q",
                    settings: settings,
                    ticketsMax: 2
                ),
                at: 0
            )
        }
        _ = try run(
            .enqueue(
                [Matchmaker.Ticket(id: "q.b", players: ["b"], skill: 500, createdAt: 0)],
                queue: "q",
                settings: settings,
                ticketsMax: 2
            ),
            at: 0
        )
        #expect(throws: MatchQueue.Failure.full) {
            try run(
                .enqueue(
                    [Matchmaker.Ticket(id: "q.c", players: ["c"], createdAt: 0)],
                    queue: "q",
                    settings: settings,
                    ticketsMax: 2
                ),
                at: 0
            )
        }
        #expect(throws: MatchQueue.Failure.notFound) { try run(.cancel(ticketID: "q.b", by: "a"), at: 1) }
        #expect(try run(.cancel(ticketID: "q.b", by: "b"), at: 1) == [.cancelled(ticketID: "q.b")])
        #expect(state.outcome(of: "q.b")?.status == .cancelled)
        // c matches a; then a's ticket cannot be cancelled, and a may queue again.
        let events = try run(
            .enqueue(
                [Matchmaker.Ticket(id: "q.c", players: ["c"], skill: 1, createdAt: 2)],
                queue: "q",
                settings: settings,
                ticketsMax: 2
            ),
            at: 2
        )
        guard case .matched(let match) = events.last else { Issue.record("no match: \(events)"); return }
        #expect(match.id == "q.m1" && Set(match.ticketIDs) == ["q.a", "q.c"])
        #expect(throws: MatchQueue.Failure.alreadyMatched) { try run(.cancel(ticketID: "q.a", by: "a"), at: 3) }
        #expect(state.pending["q.m1"] == match)
        #expect(try run(.delivered(matchIDs: ["q.m1"]), at: 3) == [.delivered(matchID: "q.m1")])
        #expect(try run(.delivered(matchIDs: ["q.m1"]), at: 3).isEmpty, "delivered once")
        // A ticket past the TTL expires on the next round.
        _ = try run(
            .enqueue(
                [Matchmaker.Ticket(id: "q.d", players: ["a"], skill: 900, createdAt: 4)],
                queue: "q",
                settings: settings,
                ticketsMax: 2
            ),
            at: 4
        )
        #expect(try run(.round(queue: "q", settings: settings), at: 14) == [.expired(ticketIDs: ["q.d"])])
        #expect(state.waitPercentiles.median == 2000)
    }

    @Test func aBatchLeavesOutARefusedTicketAndDecidesEachOnTheOnesBefore() throws {
        let settings = Matchmaker.Settings(skillWindowStart: 10, skillWindowGrowthPerSecond: 0, ticketTTL: 10)
        var state = MatchQueue.State()
        let batch = [
            Matchmaker.Ticket(id: "q.a", players: ["a"], skill: 1, createdAt: 0),
            Matchmaker.Ticket(id: "q.a2", players: ["a"], skill: 1, createdAt: 0),
            Matchmaker.Ticket(id: "q.b", players: ["b"], skill: 2, createdAt: 0),
            Matchmaker.Ticket(id: "q.c", players: ["c"], skill: 3, createdAt: 0),
        ]
        let events = try state.handle(.enqueue(batch, queue: "q", settings: settings, ticketsMax: 10), now: 1)
        for event in events { state.apply(event) }
        // a2 is a's second ticket: left out. b completes a's match; c waits.
        #expect(events.compactMap { if case .queued(let t) = $0 { t.id } else { nil } } == ["q.a", "q.b", "q.c"])
        let matches = events.compactMap { if case .matched(let m) = $0 { m } else { nil } }
        #expect(matches.map(\.ticketIDs) == [["q.a", "q.b"]])
        #expect(matches.first?.playerTickets == ["a": "q.a", "b": "q.b"])
        #expect(state.outcome(of: "q.c")?.status == .queued && state.outcome(of: "q.a2") == nil)
        // Alone, the refused ticket says why.
        #expect(throws: MatchQueue.Failure.alreadyQueued) {
            try state.handle(
                .enqueue(
                    [batch[3]].map {
                        var t = $0; t.id = "q.c2"; return t
                    },
                    queue: "q",
                    settings: settings,
                    ticketsMax: 10
                ),
                now: 2
            )
        }
    }

    @Test(arguments: 1...5 as ClosedRange<UInt64>)
    func replayingAQueuesEventsRebuildsIt(seed: UInt64) {
        let settings = Matchmaker.Settings(skillWindowStart: 50, skillWindowGrowthPerSecond: 20, ticketTTL: 60)
        var random = SplitMix64(seed: seed)
        var state = MatchQueue.State()
        var events: [MatchQueue.Event] = []
        for n in 0..<200 {
            let ticket = Self.randomTicket(n, at: Double(n), &random)
            let command: MatchQueue.Command =
                n % 20 == 0
                ? .round(queue: "q", settings: settings)
                : .enqueue([ticket], queue: "q", settings: settings, ticketsMax: 1000)
            guard let decided = try? state.handle(command, now: Double(n)) else { continue }
            for event in decided { state.apply(event) }
            events += decided
        }
        #expect(MatchQueue.State.replay(events) == state)
    }
}
