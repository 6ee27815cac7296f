/// Matching tickets into matches: a pure value, tickets in, matches and expiries out, given
/// the time. What a queue entity runs on enqueue and on every round of its timer.
///
/// The rules:
/// - The oldest ticket waiting (the *anchor*) is served first; it takes the oldest compatible
///   younger tickets, as many as the match can hold (a match's anchor is its oldest ticket).
/// - Two tickets are compatible when their skills differ by at most the anchor's window, which
///   starts at ``Settings/skillWindowStart`` and widens by ``Settings/skillWindowGrowthPerSecond``
///   for every second the anchor has waited; when they want the same number of teams and
///   multiple; and when the match still has a region every ticket listed (tickets without
///   latencies accept any region; the region with the lowest worst latency wins) and a tag
///   every ticket listed (tickets without tags accept any).
/// - A match's size lies within every ticket's `countMin...countMax`, is a multiple of their
///   `countMultiple` and splits into teams of equal size; a party's players stay together.
/// - Teams are balanced by skill: the strongest unit (a player or a party) goes to the team
///   with the lowest total that has room, and so on down.
/// - A backfill ticket (a started lobby's open seats) is filled with player tickets up to its
///   open seats; it needs at least one.
/// - A ticket older than ``Settings/ticketTTL`` expires.
public struct Matchmaker: Sendable, Equatable {
    public struct Settings: Sendable, Equatable {
        public var skillWindowStart: Double
        public var skillWindowGrowthPerSecond: Double
        /// Seconds a ticket waits before it expires.
        public var ticketTTL: Double

        public init(skillWindowStart: Double = 100, skillWindowGrowthPerSecond: Double = 50, ticketTTL: Double = 300) {
            self.skillWindowStart = skillWindowStart
            self.skillWindowGrowthPerSecond = skillWindowGrowthPerSecond
            self.ticketTTL = ticketTTL
        }

        /// The skill difference a ticket created at `createdAt` accepts at `now`.
        public func window(createdAt: Double, now: Double) -> Double {
            skillWindowStart + skillWindowGrowthPerSecond * max(0, now - createdAt)
        }
    }

    public struct Ticket: Sendable, Equatable {
        public var id: String
        /// One player, a party's members, or none (a backfill ticket).
        public var players: [String]
        public var skill: Double
        public var countMin: Int
        public var countMax: Int
        public var countMultiple: Int
        public var teams: Int
        /// Milliseconds to each region the ticket can play in (empty: any region).
        public var latencies: [String: Double]
        /// Empty: any tag.
        public var tags: [String]
        public var createdAt: Double
        /// The lobby a party queued from.
        public var partyLobbyID: String?
        /// A started lobby's open seats, filled by this ticket's match.
        public var backfillLobbyID: String?
        public var openSeats: Int
        /// Who queued the ticket (the party's or the lobby's owner; the player).
        public var owner: String?

        public init(
            id: String,
            players: [String],
            skill: Double = 0,
            countMin: Int = 2,
            countMax: Int = 2,
            countMultiple: Int = 1,
            teams: Int = 1,
            latencies: [String: Double] = [:],
            tags: [String] = [],
            createdAt: Double,
            partyLobbyID: String? = nil,
            backfillLobbyID: String? = nil,
            openSeats: Int = 0,
            owner: String? = nil
        ) {
            self.id = id
            self.players = players
            self.skill = skill
            self.countMin = countMin
            self.countMax = countMax
            self.countMultiple = countMultiple
            self.teams = teams
            self.latencies = latencies
            self.tags = tags
            self.createdAt = createdAt
            self.partyLobbyID = partyLobbyID
            self.backfillLobbyID = backfillLobbyID
            self.openSeats = openSeats
            self.owner = owner
        }

        /// Whether `user` may read or cancel the ticket: one of its players, or who queued it.
        public func belongs(to user: String) -> Bool { players.contains(user) || owner == user }

        public var isBackfill: Bool { backfillLobbyID != nil }

        /// Oldest first; ties by id.
        func isOlder(than other: Ticket) -> Bool {
            createdAt != other.createdAt ? createdAt < other.createdAt : id < other.id
        }
    }

    /// A match: its tickets, the players of each team, where it plays.
    public struct Match: Sendable, Equatable {
        public var id: String
        public var ticketIDs: [String]
        /// The players of each team (one team when the tickets asked for none).
        public var teams: [[String]]
        public var region: String?
        /// The started lobby the players join (a backfill), else nil: a new lobby.
        public var backfillLobbyID: String?
        public var createdAt: Double
        /// Each player's ticket.
        public var playerTickets: [String: String]

        public init(
            id: String,
            ticketIDs: [String],
            teams: [[String]],
            region: String?,
            backfillLobbyID: String?,
            createdAt: Double,
            playerTickets: [String: String] = [:]
        ) {
            self.id = id
            self.ticketIDs = ticketIDs
            self.teams = teams
            self.region = region
            self.backfillLobbyID = backfillLobbyID
            self.createdAt = createdAt
            self.playerTickets = playerTickets
        }

        public var players: [String] { teams.flatMap { $0 } }

        /// The team `player` plays in (0 when they are not in the match).
        public func team(of player: String) -> Int { teams.firstIndex { $0.contains(player) } ?? 0 }
    }

    /// The tickets waiting, by id.
    public private(set) var tickets: [String: Ticket] = [:]
    /// The tickets by shape, each shape's by skill (then age): where an anchor finds the tickets
    /// its window reaches among those it could share a match with, and no others.
    private var buckets: [Shape: [SkillKey]] = [:]

    /// What tickets must share to be in one match: teams and multiple; backfill tickets apart
    /// (two never share a match).
    struct Shape: Hashable, Sendable {
        var teams: Int
        var multiple: Int
        var backfill: Bool

        init(_ ticket: Ticket, backfill: Bool? = nil) {
            teams = ticket.teams
            multiple = ticket.countMultiple
            self.backfill = backfill ?? ticket.isBackfill
        }
    }

    private struct SkillKey: Sendable, Equatable, Comparable {
        var skill: Double
        var createdAt: Double
        var id: String

        init(_ ticket: Ticket) {
            skill = ticket.skill
            createdAt = ticket.createdAt
            id = ticket.id
        }

        static func < (a: SkillKey, b: SkillKey) -> Bool {
            (a.skill, a.createdAt, a.id) < (b.skill, b.createdAt, b.id)
        }
    }

    public init(tickets: [Ticket] = []) {
        for ticket in tickets { add(ticket) }
    }

    public static func == (a: Matchmaker, b: Matchmaker) -> Bool { a.tickets == b.tickets }

    public var count: Int { tickets.count }

    // MARK: - Tickets in and out

    public mutating func add(_ ticket: Ticket) {
        if tickets[ticket.id] != nil { remove(ticket.id) }
        tickets[ticket.id] = ticket
        let key = SkillKey(ticket)
        buckets[Shape(ticket), default: []].insert(key, at: Self.insertionIndex(key, in: buckets[Shape(ticket)] ?? []))
    }

    @discardableResult
    public mutating func remove(_ id: String) -> Ticket? {
        guard let ticket = tickets.removeValue(forKey: id) else { return nil }
        let key = SkillKey(ticket)
        let shape = Shape(ticket)
        guard let bucket = buckets[shape] else { return ticket }
        let index = Self.insertionIndex(key, in: bucket)
        if index < bucket.count, bucket[index] == key {
            if bucket.count == 1 { buckets[shape] = nil } else { buckets[shape]!.remove(at: index) }
        }
        return ticket
    }

    private static func insertionIndex(_ key: SkillKey, in bucket: [SkillKey]) -> Int {
        var low = 0
        var high = bucket.count
        while low < high {
            let middle = (low + high) / 2
            if bucket[middle] < key { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The tickets of `shape` whose skill lies in `range`, by skill.
    private func tickets(of shape: Shape, skills range: ClosedRange<Double>) -> some Sequence<Ticket> {
        let bucket = buckets[shape] ?? []
        var low = 0
        var high = bucket.count
        while low < high {
            let middle = (low + high) / 2
            if bucket[middle].skill < range.lowerBound { low = middle + 1 } else { high = middle }
        }
        return bucket[low...].lazy.prefix { $0.skill <= range.upperBound }.map { self.tickets[$0.id]! }
    }

    /// The shapes a ticket can share a match with: its own player tickets, and backfills of its
    /// shape for a player ticket.
    private static func partners(of ticket: Ticket) -> [Shape] {
        ticket.isBackfill
            ? [Shape(ticket, backfill: false)] : [Shape(ticket, backfill: false), Shape(ticket, backfill: true)]
    }

    // MARK: - Rounds

    /// The tickets older than the TTL at `now`, oldest first.
    public func expired(at now: Double, settings: Settings) -> [Ticket] {
        tickets.values.filter { now - $0.createdAt >= settings.ticketTTL }.sorted { $0.isOlder(than: $1) }
    }

    /// One round at `now`: every ticket, oldest first, anchors a match if it can. Returns the
    /// matches (the caller removes their tickets: see ``take(_:)``), the n-th named `newID(n)`.
    /// With `adding`, a ticket not yet held is matched as if it were, and only the anchors
    /// within its reach are tried: all a new ticket can change (the timer's rounds try every
    /// anchor, as windows widen).
    public func round(at now: Double, settings: Settings, adding extra: Ticket? = nil, newID: (Int) -> String)
        -> [Match]
    {
        var anchors: [Ticket]
        if let extra {
            anchors = reach(of: extra, now: now, settings: settings)
            anchors.append(extra)
        } else {
            anchors = Array(tickets.values)
        }
        anchors.sort { $0.isOlder(than: $1) }
        var used: Set<String> = []
        var matches: [Match] = []
        for anchor in anchors where !used.contains(anchor.id) {
            guard now - anchor.createdAt < settings.ticketTTL else { continue }
            if let match = match(
                anchoredBy: anchor,
                now: now,
                settings: settings,
                excluding: used,
                extra: extra,
                id: newID(matches.count)
            ) {
                used.formUnion(match.ticketIDs)
                matches.append(match)
            }
        }
        return matches
    }

    /// Removes a match's tickets.
    public mutating func take(_ match: Match) {
        for id in match.ticketIDs { remove(id) }
    }

    /// The tickets whose own windows (now) reach `ticket`'s skill: the anchors it may complete.
    private func reach(of ticket: Ticket, now: Double, settings: Settings) -> [Ticket] {
        // No live ticket is older than the TTL: no window is wider than the TTL's.
        let widest = settings.window(createdAt: now - settings.ticketTTL, now: now)
        var found: [Ticket] = []
        for shape in Self.partners(of: ticket) {
            for other in tickets(of: shape, skills: (ticket.skill - widest)...(ticket.skill + widest))
            where other.id != ticket.id
                && abs(other.skill - ticket.skill) <= settings.window(createdAt: other.createdAt, now: now)
            {
                found.append(other)
            }
        }
        return found
    }

    /// The match `anchor` forms with the oldest compatible tickets not in `excluding` (and
    /// `extra`, a ticket not yet held), if any.
    func match(
        anchoredBy anchor: Ticket,
        now: Double,
        settings: Settings,
        excluding: Set<String>,
        extra: Ticket?,
        id: String
    ) -> Match? {
        let window = settings.window(createdAt: anchor.createdAt, now: now)
        func fits(_ other: Ticket) -> Bool {
            // Older tickets anchor their own matches: a match's anchor is its oldest ticket.
            anchor.isOlder(than: other) && !excluding.contains(other.id) && Self.sameShape(anchor, other)
                && !(anchor.isBackfill && other.isBackfill) && now - other.createdAt < settings.ticketTTL
                && abs(other.skill - anchor.skill) <= window
        }
        var candidates: [Ticket] = []
        for shape in Self.partners(of: anchor) {
            candidates += tickets(of: shape, skills: (anchor.skill - window)...(anchor.skill + window)).filter(fits)
        }
        if let extra, fits(extra) { candidates.append(extra) }
        candidates.sort { $0.isOlder(than: $1) }

        var group = Group(anchor)
        var best: (tickets: [Ticket], teams: [[String]], region: String?)?
        if let teams = group.teams() { best = (group.tickets, teams, group.region) }
        for candidate in candidates {
            guard group.admits(candidate) else { continue }
            group.add(candidate)
            if let teams = group.teams() { best = (group.tickets, teams, group.region) }
            if group.isFull { break }
        }
        // A lone ticket is a match only when it fills one by itself (a party of the right size).
        guard let best else { return nil }
        return Match(
            id: id,
            ticketIDs: best.tickets.map(\.id),
            teams: best.teams,
            region: best.region,
            backfillLobbyID: best.tickets.first(where: \.isBackfill)?.backfillLobbyID,
            createdAt: now,
            playerTickets: Dictionary(
                best.tickets.flatMap { ticket in ticket.players.map { ($0, ticket.id) } },
                uniquingKeysWith: { first, _ in first }
            )
        )
    }

    /// Tickets that can share a match at all: same number of teams and multiple.
    static func sameShape(_ a: Ticket, _ b: Ticket) -> Bool {
        a.teams == b.teams && a.countMultiple == b.countMultiple
    }

    /// Tickets gathered for a match, and what they all still accept.
    struct Group {
        var tickets: [Ticket]
        var players: Int
        var countMin: Int
        var countMax: Int
        let multiple: Int
        let teamCount: Int
        /// Regions every ticket listed (nil: no ticket listed any).
        var regions: [String: Double]?
        var tags: Set<String>?
        /// The open seats of the backfill ticket (nil: a new match).
        var seats: Int?

        init(_ anchor: Ticket) {
            tickets = [anchor]
            players = anchor.players.count
            countMin = anchor.countMin
            countMax = anchor.countMax
            multiple = max(1, anchor.countMultiple)
            teamCount = max(1, anchor.teams)
            regions = anchor.latencies.isEmpty ? nil : anchor.latencies
            tags = anchor.tags.isEmpty ? nil : Set(anchor.tags)
            seats = anchor.isBackfill ? anchor.openSeats : nil
        }

        var isFull: Bool { players >= (seats ?? countMax) }

        func admits(_ ticket: Ticket) -> Bool {
            if ticket.isBackfill {
                // A backfill joins a group of player tickets that fits its seats.
                guard seats == nil, players <= ticket.openSeats else { return false }
            } else if players + ticket.players.count > (seats ?? min(countMax, ticket.countMax)) {
                return false
            }
            if seats == nil, !ticket.isBackfill, max(countMin, ticket.countMin) > min(countMax, ticket.countMax) {
                return false
            }
            if let regions, !ticket.latencies.isEmpty,
                !regions.keys.contains(where: { ticket.latencies[$0] != nil })
            {
                return false
            }
            if let tags, !ticket.tags.isEmpty, tags.isDisjoint(with: ticket.tags) { return false }
            return true
        }

        mutating func add(_ ticket: Ticket) {
            tickets.append(ticket)
            players += ticket.players.count
            if ticket.isBackfill {
                seats = ticket.openSeats
            } else {
                countMin = max(countMin, ticket.countMin)
                countMax = min(countMax, ticket.countMax)
            }
            if !ticket.latencies.isEmpty {
                if let current = regions {
                    var kept: [String: Double] = [:]
                    for (region, worst) in current {
                        if let latency = ticket.latencies[region] { kept[region] = max(worst, latency) }
                    }
                    regions = kept
                } else {
                    regions = ticket.latencies
                }
            }
            if !ticket.tags.isEmpty { tags = tags.map { $0.intersection(ticket.tags) } ?? Set(ticket.tags) }
        }

        /// The region with the lowest worst latency (ties by name).
        var region: String? {
            regions?.min { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }?.key
        }

        /// The teams if the group is a match as it stands: its size allowed, teams of equal size
        /// balanced by skill; nil if it is not.
        func teams() -> [[String]]? {
            let playerTickets = tickets.filter { !$0.isBackfill }
            guard !playerTickets.isEmpty else { return nil }
            if let seats {
                // A backfill: any number of players up to its seats, one team.
                guard players >= 1, players <= seats else { return nil }
                return [playerTickets.flatMap(\.players)]
            }
            guard players >= countMin, players <= countMax, players % multiple == 0, players % teamCount == 0 else {
                return nil
            }
            let size = players / teamCount
            var teams = [[String]](repeating: [], count: teamCount)
            var totals = [Double](repeating: 0, count: teamCount)
            // Strongest unit first, each to the weakest team with room; parties stay whole.
            let units = playerTickets.sorted {
                let a = $0.skill * Double($0.players.count)
                let b = $1.skill * Double($1.players.count)
                return a != b ? a > b : $0.isOlder(than: $1)
            }
            for unit in units {
                guard
                    let team = teams.indices.filter({ teams[$0].count + unit.players.count <= size }).min(by: {
                        totals[$0] != totals[$1] ? totals[$0] < totals[$1] : $0 < $1
                    })
                else { return nil }
                teams[team] += unit.players
                totals[team] += unit.skill * Double(unit.players.count)
            }
            return teams
        }
    }
}
