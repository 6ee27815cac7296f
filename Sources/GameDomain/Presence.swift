/// Who is online, and how: the rules of presence, and the soft state its owner keeps.
///
/// Presence is soft state: the primary of a user's shard (the user's *presence owner*) keeps it
/// in memory, not in the log. The edges hold the truth of which sockets exist and announce them
/// to the owner (again after any change of owner), so a lost owner heals by itself.
///
/// - SeeAlso: Steam's persona states and rich presence; Phoenix Presence (soft state kept by the
///   nodes that hold the connections).
public enum Presence {
    /// A status a user sets (`presence.set`).
    public enum Status: String, Sendable, Equatable, CaseIterable {
        case online, away, busy, snooze
        case lookingToPlay = "looking_to_play"
        case lookingToTrade = "looking_to_trade"
        /// Shown as `offline` to everyone but the user.
        case invisible
    }

    /// A status as shown: a set one, or what the sockets say.
    public enum Shown: String, Sendable, Equatable {
        case online, away, busy, snooze
        case lookingToPlay = "looking_to_play"
        case lookingToTrade = "looking_to_trade"
        case invisible
        /// The node holding the user's last socket was lost; the user may reconnect anywhere
        /// within the grace window.
        case reconnecting
        case offline

        init(_ status: Status) { self = Shown(rawValue: status.rawValue)! }
    }

    /// Rich presence: free-form strings a game shows ("In a match: Dust II, 7-5").
    public static let richKeysMax = 30
    public static let richKeyCharactersMax = 64
    public static let richValueCharactersMax = 256
    /// A rich presence with this key makes the user joinable (its value says how).
    public static let connectKey = "connect"

    public enum Failure: Error, Equatable, Sendable {
        case invalid(field: String, message: String)
    }

    /// Checks a rich presence against the limits.
    public static func validate(rich: [String: String]) throws(Failure) {
        guard rich.count <= richKeysMax else {
            throw .invalid(field: "rich", message: "has \(rich.count) keys; at most \(richKeysMax)")
        }
        for (key, value) in rich {
            guard !key.isEmpty, key.count <= richKeyCharactersMax else {
                throw .invalid(field: "rich", message: "keys must be 1 to \(richKeyCharactersMax) characters")
            }
            guard value.count <= richValueCharactersMax else {
                throw .invalid(field: "rich", message: "values must be at most \(richValueCharactersMax) characters")
            }
        }
    }

    /// One user's presence (P).
    public struct View: Sendable, Equatable {
        public var userID: String
        public var status: Shown
        public var rich: [String: String]
        /// Seconds since the epoch of the last change; nil for a user not seen since the owner started.
        public var updatedAt: Double?

        public init(userID: String, status: Shown, rich: [String: String] = [:], updatedAt: Double?) {
            self.userID = userID
            self.status = status
            self.rich = rich
            self.updatedAt = updatedAt
        }

        /// Whether others may join the user's game.
        public var isJoinable: Bool { rich[Presence.connectKey] != nil && status != .offline && status != .invisible }

        /// As another user sees it: only the user and their friends see it at all (nil for
        /// anyone else), and `invisible` shows as `offline` (without rich presence) to friends.
        public func seen(byUser viewer: String, isFriend: Bool) -> View? {
            if viewer == userID { return self }
            guard isFriend else { return nil }
            guard status == .invisible else { return self }
            return View(userID: userID, status: .offline, updatedAt: updatedAt)
        }
    }
}

extension Presence {
    /// One user's presence as their owner keeps it: the soft entity `presence/<user id>` on the
    /// primary of the user's shard, driven by the edges that hold the user's sockets.
    ///
    /// - A user shows what they set (`online` when they connect) while any node holds a live
    ///   socket of theirs.
    /// - Closing the last socket cleanly shows `offline` at once; a new connection starts at
    ///   `online` again, with no rich presence.
    /// - Losing the last socket otherwise — its connection dropped (the socket is *parked* on its
    ///   node, which keeps the pushes it misses for a resume) or its node was lost — shows
    ///   `reconnecting` at once, and `offline` once the grace window passed
    ///   (``Command/expire(graceSeconds:)``) — unless a socket comes back first, on any node, in
    ///   which case `offline` is never shown and the status and rich presence set before are kept.
    /// - An offline user's state is ``initial``: nothing is kept for them.
    public struct State: Aggregate {
        public var status: Status
        public var rich: [String: String]
        /// When what others see last changed (seconds since 1970).
        public var updatedAt: Double
        /// Live socket ids by the node that holds them.
        public var sockets: [String: Set<String>]
        /// When the user's last live socket was lost (the user shows `reconnecting`).
        public var lostAt: Double?
        /// Sockets whose connection dropped, by the node keeping their missed pushes for a resume.
        public var parked: [String: Set<String>]

        public init(
            status: Status = .online,
            rich: [String: String] = [:],
            updatedAt: Double = 0,
            sockets: [String: Set<String>] = [:],
            lostAt: Double? = nil,
            parked: [String: Set<String>] = [:]
        ) {
            self.status = status
            self.rich = rich
            self.updatedAt = updatedAt
            self.sockets = sockets
            self.lostAt = lostAt
            self.parked = parked
        }

        public static let initial = State()

        public var hasSockets: Bool { sockets.values.contains { !$0.isEmpty } }
        /// The nodes that hold a socket of the user, live or parked, in order: where their pushes go.
        public var nodes: [String] {
            Set(sockets.filter { !$0.value.isEmpty }.keys).union(parked.filter { !$0.value.isEmpty }.keys).sorted()
        }

        public var shown: Shown {
            if hasSockets { return Shown(status) }
            return lostAt == nil ? .offline : .reconnecting
        }

        /// The user's presence as the user sees it.
        public func view(of user: String) -> View {
            shown == .offline
                ? View(userID: user, status: .offline, updatedAt: updatedAt == 0 ? nil : updatedAt)
                : View(userID: user, status: shown, rich: rich, updatedAt: updatedAt)
        }

        public enum Command: Sendable, Equatable {
            /// A socket of the user opened on `node` (or resumed there: it is no longer parked).
            case connect(node: String, socket: String)
            /// A socket closed cleanly, or its edge stopped keeping it parked.
            case disconnect(node: String, socket: String)
            /// A socket's connection dropped: `node` keeps it parked for a resume.
            case drop(node: String, socket: String)
            /// All that `node` holds of the user now, live and parked (its announcement to a new
            /// owner): sockets it no longer lists closed cleanly. An owner that knew nothing of
            /// the user takes the status and rich presence the edge last saw, so a change of owner
            /// loses neither.
            case announce(
                node: String,
                sockets: Set<String>,
                parked: Set<String>,
                status: Status?,
                rich: [String: String]?
            )
            /// `node` was declared dead: its sockets are gone.
            case nodeLost(node: String)
            /// An owner that knew nothing of the user hears (from an edge that watched them) that
            /// every node holding their sockets was lost along with their previous owner: the
            /// user shows `reconnecting`, as they would have had that owner lived.
            case suspect(status: Status, rich: [String: String])
            /// The user sets a status and, when given, a new rich presence (it replaces the old one).
            case set(status: Status, rich: [String: String]?)
            /// Ends the grace window if it is over: the user shows `offline`.
            case expire(graceSeconds: Double)
        }

        public enum Event: Sendable, Equatable {
            /// The live sockets `node` holds of the user now (none: the node holds nothing of theirs).
            case sockets(node: String, ids: Set<String>)
            /// The parked sockets `node` keeps of the user now.
            case parked(node: String, ids: Set<String>)
            /// What others see changed.
            case shows(status: Status, rich: [String: String], lostAt: Double?, at: Double)
            /// The user is offline: nothing is kept.
            case cleared(at: Double)
        }

        public func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            switch command {
            case .connect(let node, let socket):
                guard !(sockets[node]?.contains(socket) ?? false) else { return [] }
                return move(
                    node,
                    live: (sockets[node] ?? []).union([socket]),
                    parked: (parked[node] ?? []).subtracting([socket]),
                    now: now
                )
            case .disconnect(let node, let socket):
                guard sockets[node]?.contains(socket) ?? false || parked[node]?.contains(socket) ?? false else {
                    return []
                }
                return move(
                    node,
                    live: (sockets[node] ?? []).subtracting([socket]),
                    parked: (parked[node] ?? []).subtracting([socket]),
                    now: now
                )
            case .drop(let node, let socket):
                guard sockets[node]?.contains(socket) ?? false else { return [] }
                return move(
                    node,
                    live: (sockets[node] ?? []).subtracting([socket]),
                    parked: (parked[node] ?? []).union([socket]),
                    now: now
                )
            case .announce(let node, let live, let kept, let status, let rich):
                guard live != sockets[node] ?? [] || kept != parked[node] ?? [] else { return [] }
                if shown == .offline, !live.isEmpty || !kept.isEmpty, let status {
                    // A new owner: back as the edge last saw them (reconnecting if only parked).
                    return move(node, live: live, parked: kept, now: now).filter { !$0.isVisible }
                        + [.shows(status: status, rich: rich ?? [:], lostAt: live.isEmpty ? now : nil, at: now)]
                }
                return move(node, live: live, parked: kept, now: now)
            case .nodeLost(let node):
                guard sockets[node] != nil || parked[node] != nil else { return [] }
                return move(node, live: [], parked: [], now: now, lost: true)
            case .suspect(let status, let rich):
                guard shown == .offline else { return [] }
                return [.shows(status: status, rich: rich, lostAt: now, at: now)]
            case .set(let status, let rich):
                if let rich { try Presence.validate(rich: rich) }
                guard hasSockets else {
                    throw .invalid(field: "status", message: "only a connected user sets presence")
                }
                let newRich = rich ?? self.rich
                guard (status, newRich) != (self.status, self.rich) else { return [] }
                return [.shows(status: status, rich: newRich, lostAt: nil, at: now)]
            case .expire(let graceSeconds):
                guard !hasSockets, let lostAt, now - lostAt >= graceSeconds else { return [] }
                return [.cleared(at: now)]
            }
        }

        /// The events of `node` now holding `live` and keeping `parked` sockets of the user, and
        /// what others see after: a live socket shows the user (back as they were from
        /// `reconnecting`, `online` from `offline`); none left but a parked one, or after a lost
        /// node (`lost`), shows `reconnecting`; nothing left at all shows `offline`.
        private func move(_ node: String, live: Set<String>, parked kept: Set<String>, now: Double, lost: Bool = false)
            -> [Event]
        {
            var events: [Event] = []
            if live != sockets[node] ?? [] { events.append(.sockets(node: node, ids: live)) }
            if kept != parked[node] ?? [] { events.append(.parked(node: node, ids: kept)) }
            var after = self
            for event in events { after.apply(event) }
            if after.hasSockets {
                switch shown {
                case .offline: events.append(.shows(status: .online, rich: [:], lostAt: nil, at: now))
                case .reconnecting: events.append(.shows(status: status, rich: rich, lostAt: nil, at: now))
                default: break
                }
            } else if lost || after.parked.values.contains(where: { !$0.isEmpty }) {
                if shown != .offline && shown != .reconnecting {
                    events.append(.shows(status: status, rich: rich, lostAt: now, at: now))
                }
            } else if shown != .offline {
                events.append(.cleared(at: now))
            }
            return events
        }

        public mutating func apply(_ event: Event) {
            switch event {
            case .sockets(let node, let ids):
                sockets[node] = ids.isEmpty ? nil : ids
            case .parked(let node, let ids):
                parked[node] = ids.isEmpty ? nil : ids
            case .shows(let status, let rich, let lostAt, let at):
                self.status = status
                self.rich = rich
                self.lostAt = lostAt
                updatedAt = at
            case .cleared:
                self = .initial
            }
        }
    }
}

extension Presence.State.Event {
    /// Whether others see something new after it.
    public var isVisible: Bool {
        switch self {
        case .sockets, .parked: false
        case .shows, .cleared: true
        }
    }
}

extension Presence {
    /// Many users' presence at once (what the owners of a cluster hold between them), for
    /// tests and simulations: each input returns the users whose presence changed.
    public struct Table: Sendable {
        public var graceSeconds: Double
        var states: [String: State] = [:]

        public init(graceSeconds: Double) {
            self.graceSeconds = graceSeconds
        }

        /// Users with sockets or in their grace window.
        public var count: Int { states.count }

        public func view(of user: String) -> View {
            (states[user] ?? .initial).view(of: user)
        }

        public mutating func connect(user: String, node: String, socket: String, now: Double) -> [View] {
            run(.connect(node: node, socket: socket), for: user, now: now)
        }

        public mutating func disconnect(user: String, node: String, socket: String, now: Double) -> [View] {
            run(.disconnect(node: node, socket: socket), for: user, now: now)
        }

        /// What `node` holds now, all of it: sockets it no longer lists closed cleanly; new ones opened.
        public mutating func announce(node: String, sockets: [String: Set<String>], now: Double) -> [View] {
            let users = Set(sockets.keys).union(states.filter { $0.value.sockets[node] != nil }.keys).sorted()
            return users.flatMap { user in
                run(
                    .announce(node: node, sockets: sockets[user] ?? [], parked: [], status: nil, rich: nil),
                    for: user,
                    now: now
                )
            }
        }

        public mutating func nodeLost(_ node: String, now: Double) -> [View] {
            states.filter { $0.value.sockets[node] != nil }.keys.sorted().flatMap { user in
                run(.nodeLost(node: node), for: user, now: now)
            }
        }

        public mutating func set(user: String, status: Status, rich: [String: String]?, now: Double)
            throws(Failure) -> [View]
        {
            let state = states[user] ?? .initial
            let events = try state.handle(.set(status: status, rich: rich), now: now)
            return record(events, for: user, now: now)
        }

        /// Ends the grace windows that are over: those users show `offline`.
        public mutating func tick(now: Double) -> [View] {
            states.filter { $0.value.lostAt != nil }.keys.sorted().flatMap { user in
                run(.expire(graceSeconds: graceSeconds), for: user, now: now)
            }
        }

        private mutating func run(_ command: State.Command, for user: String, now: Double) -> [View] {
            let state = states[user] ?? .initial
            do {
                return record(try state.handle(command, now: now), for: user, now: now)
            } catch {
                return []
            }
        }

        private mutating func record(_ events: [State.Event], for user: String, now: Double) -> [View] {
            var state = states[user] ?? .initial
            for event in events { state.apply(event) }
            states[user] = state == .initial ? nil : state
            guard events.contains(where: \.isVisible) else { return [] }
            return [state == .initial ? View(userID: user, status: .offline, updatedAt: now) : state.view(of: user)]
        }
    }
}
