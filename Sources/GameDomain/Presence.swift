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
    /// The presence of the users a node owns, driven by their sockets: each input returns the
    /// users whose presence changed (to be pushed to their friends and devices).
    ///
    /// - A user is online (or whatever they set) while any node holds a socket of theirs.
    /// - Closing the last socket cleanly shows `offline` at once; a new connection starts at
    ///   `online` again, with no rich presence.
    /// - Losing the node that held the last socket shows `reconnecting` at once, and `offline`
    ///   once `graceSeconds` passed (``tick(now:)``) — unless a socket comes back first, on any
    ///   node, in which case `offline` is never shown.
    /// - Offline users are forgotten (the table holds only users with sockets or in their grace
    ///   window), so it never grows past the sockets the edges hold.
    public struct Table: Sendable {
        struct Entry: Sendable {
            var status: Status = .online
            var rich: [String: String] = [:]
            var updatedAt: Double
            /// Socket ids by the node that holds them.
            var sockets: [String: Set<String>] = [:]
            /// When the last socket's node was lost (the user shows `reconnecting`).
            var lostAt: Double?

            var shown: Shown { lostAt != nil ? .reconnecting : Shown(status) }
            var hasSockets: Bool { sockets.values.contains { !$0.isEmpty } }
        }

        public var graceSeconds: Double
        var entries: [String: Entry] = [:]

        public init(graceSeconds: Double) {
            self.graceSeconds = graceSeconds
        }

        /// Users with sockets or in their grace window.
        public var count: Int { entries.count }

        public func view(of user: String) -> View {
            guard let entry = entries[user] else { return View(userID: user, status: .offline, updatedAt: nil) }
            return View(userID: user, status: entry.shown, rich: entry.rich, updatedAt: entry.updatedAt)
        }

        /// A socket of the user opened on `node`.
        public mutating func connect(user: String, node: String, socket: String, now: Double) -> [View] {
            var entry = entries[user] ?? Entry(updatedAt: now)
            let before = entries[user] == nil ? Shown.offline : entry.shown
            entry.sockets[node, default: []].insert(socket)
            entry.lostAt = nil
            return store(user, entry, before: before, now: now)
        }

        /// A socket closed cleanly (or its edge dropped it).
        public mutating func disconnect(user: String, node: String, socket: String, now: Double) -> [View] {
            guard var entry = entries[user] else { return [] }
            entry.sockets[node]?.remove(socket)
            if entry.sockets[node]?.isEmpty == true { entry.sockets[node] = nil }
            guard !entry.hasSockets, entry.lostAt == nil else {
                entries[user] = entry
                return []
            }
            entries[user] = nil
            return [View(userID: user, status: .offline, updatedAt: now)]
        }

        /// What `node` holds now, all of it (an edge's announcement after a change of owner, or
        /// its periodic one): sockets it no longer lists closed cleanly; new ones opened.
        public mutating func announce(node: String, sockets: [String: Set<String>], now: Double) -> [View] {
            var changes: [View] = []
            for (user, entry) in entries where entry.sockets[node] != nil && sockets[user]?.isEmpty ?? true {
                for socket in entry.sockets[node] ?? [] {
                    changes += disconnect(user: user, node: node, socket: socket, now: now)
                }
            }
            for (user, held) in sockets.sorted(by: { $0.key < $1.key }) {
                for socket in held.subtracting(entries[user]?.sockets[node] ?? []).sorted() {
                    changes += connect(user: user, node: node, socket: socket, now: now)
                }
                if var entry = entries[user], let stale = entry.sockets[node]?.subtracting(held), !stale.isEmpty {
                    entry.sockets[node] = held
                    entries[user] = entry
                }
            }
            return changes
        }

        /// `node` was declared dead: its sockets are gone; users left with none show
        /// `reconnecting` until they come back or the grace window ends.
        public mutating func nodeLost(_ node: String, now: Double) -> [View] {
            var changes: [View] = []
            for (user, var entry) in entries where entry.sockets[node] != nil {
                entry.sockets[node] = nil
                let before = entry.shown
                if !entry.hasSockets && entry.lostAt == nil { entry.lostAt = now }
                changes += store(user, entry, before: before, now: now)
            }
            return changes.sorted { $0.userID < $1.userID }
        }

        /// The user sets a status and, when given, a new rich presence (it replaces the old one).
        /// Only a user with a socket sets presence.
        public mutating func set(
            user: String,
            status: Status,
            rich: [String: String]?,
            now: Double
        ) throws(Failure) -> [View] {
            if let rich { try Presence.validate(rich: rich) }
            guard var entry = entries[user], entry.hasSockets else {
                throw .invalid(field: "status", message: "only a connected user sets presence")
            }
            let before = (entry.shown, entry.rich)
            entry.status = status
            if let rich { entry.rich = rich }
            guard before != (entry.shown, entry.rich) else { return [] }
            entry.updatedAt = now
            entries[user] = entry
            return [view(of: user)]
        }

        /// Ends the grace windows that are over: those users show `offline`.
        public mutating func tick(now: Double) -> [View] {
            let expired = entries.filter { $0.value.lostAt.map { now - $0 >= graceSeconds } ?? false }.keys.sorted()
            for user in expired { entries[user] = nil }
            return expired.map { View(userID: $0, status: .offline, updatedAt: now) }
        }

        private mutating func store(_ user: String, _ entry: Entry, before: Shown, now: Double) -> [View] {
            var entry = entry
            guard entry.shown != before else {
                entries[user] = entry
                return []
            }
            if before == .offline {
                // A new presence starts online, with nothing set.
                entry.status = .online
                entry.rich = [:]
            }
            entry.updatedAt = now
            entries[user] = entry
            return [view(of: user)]
        }
    }
}
