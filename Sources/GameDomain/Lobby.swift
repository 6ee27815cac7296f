/// A lobby: players gathered before (and while) they play, with one owner, shared data and
/// each member's own data and ready flag.
///
/// Rules kept here, for every node alike: who may join (type, joinable, bans, invites, seats),
/// exactly one owner while there are members (the longest-present member takes over when the
/// owner leaves or is gone), data limits, the ready check before a start, and the version that
/// grows with every change members see.
public enum Lobby {
    public static let membersRange = 2...250
    /// Lobby data, and each member's data, in UTF-8 bytes of keys and values together.
    public static let dataBytesMax = 8192
    public static let keyBytesMax = 64

    /// Who finds and joins the lobby.
    public enum Visibility: String, Sendable, Equatable, CaseIterable {
        /// Listed by search and joinable by anyone.
        case `public`
        /// Joinable by the owner's friends and by invitees; never listed.
        case friendsOnly = "friends_only"
        /// By invite only.
        case `private`
        /// Found by search, never shown to friends.
        case invisible
    }

    public struct Member: Sendable, Equatable {
        public var userID: String
        public var data: [String: String]
        public var isReady: Bool
        public var joinedAt: Double

        public init(userID: String, data: [String: String] = [:], isReady: Bool = false, joinedAt: Double) {
            self.userID = userID
            self.data = data
            self.isReady = isReady
            self.joinedAt = joinedAt
        }
    }

    /// What a member change is, as members are told (`change` of the `lobby` push).
    public enum Change: String, Sendable, Equatable {
        case created
        case memberJoined = "member_joined"
        case memberLeft = "member_left"
        case memberData = "member_data"
        case data
        case owner
        case kicked
        case banned
        case started
    }

    public enum Failure: CodedRefusal {
        case notFound
        case exists
        case full
        case notJoinable
        case banned
        case notInvited
        case notOwner
        case notMember
        case notReady
        case invalid(field: String, message: String)

        public static let refusals: [Failure] = [
            .notFound, .exists, .full, .notJoinable, .banned, .notInvited, .notOwner, .notMember, .notReady,
        ]

        public var code: String {
            switch self {
            case .notFound: "not_found"
            case .exists: "exists"
            case .full: "lobby_full"
            case .notJoinable: "not_joinable"
            case .banned: "banned"
            case .notInvited: "not_invited"
            case .notOwner: "not_owner"
            case .notMember: "not_member"
            case .notReady: "not_ready"
            case .invalid: "invalid"
            }
        }

        public var invalidInput: (field: String, message: String)? {
            if case .invalid(let field, let message) = self { (field, message) } else { nil }
        }
    }

    public enum Command: Sendable, Equatable {
        /// A new lobby whose owner is `members[0]` (a match's lobby has every player at once).
        case create(
            id: String,
            visibility: Visibility,
            maxMembers: Int,
            data: [String: String],
            joinable: Bool,
            members: [String],
            matchID: String?
        )
        /// `isInvitedOrFriend` says whether the user is a friend of the owner (the service asks).
        case join(user: String, isOwnersFriend: Bool)
        case leave(user: String)
        case update(by: String, data: [String: String]?, visibility: Visibility?, joinable: Bool?, maxMembers: Int?)
        case setMember(user: String, data: [String: String]?, isReady: Bool?)
        case kick(by: String, user: String)
        case ban(by: String, user: String)
        /// Holds a seat for `user` until `holdUntil`.
        case invite(by: String, user: String, holdUntil: Double)
        case transfer(by: String, to: String)
        /// Refused while a member is not ready, unless `force`.
        case start(by: String, gameServer: String, force: Bool)
        /// The owner is gone (disconnected past the reconnect grace): the longest-present member
        /// other than them takes over. Nothing when `user` is not the owner or is alone.
        case ownerGone(user: String)
        /// Deletes the lobby if it has been empty since at least `emptySince` (its TTL passed).
        case expire(emptyBefore: Double)
        /// Seats a match's players in a started lobby (a backfill): the matchmaker decided, so
        /// neither visibility nor joinable applies; players already in are skipped.
        case admit(users: [String])
    }

    public enum Event: Sendable, Equatable {
        case created(
            id: String,
            visibility: Visibility,
            maxMembers: Int,
            data: [String: String],
            joinable: Bool,
            members: [Member],
            matchID: String?,
            at: Double
        )
        case joined(Member)
        /// `reason` is `memberLeft`, `kicked` or `banned`; `owner` is the new owner when it changed.
        case left(user: String, reason: Change, owner: String?, at: Double)
        case banned(user: String)
        case updated(data: [String: String], visibility: Visibility?, joinable: Bool?, maxMembers: Int?)
        case memberSet(user: String, data: [String: String], isReady: Bool?)
        case invited(user: String, holdUntil: Double)
        case ownerSet(user: String)
        case started(gameServer: String, at: Double)
        case deleted
    }

    public struct State: Aggregate {
        /// Empty when the lobby does not exist (never created, or deleted).
        public var id = ""
        public var visibility = Visibility.public
        public var ownerID = ""
        public var maxMembers = 0
        public var isJoinable = true
        public var data: [String: String] = [:]
        /// Longest-present first.
        public var members: [Member] = []
        public var version: UInt64 = 0
        public var createdAt: Double = 0
        /// Invitees and until when each one's seat is held.
        public var invites: [String: Double] = [:]
        public var bans: Set<String> = []
        /// Since when the lobby has had no member (nil while it has some).
        public var emptySince: Double?
        /// Where the game runs, once started.
        public var gameServer: String?
        /// The match the matchmaker created the lobby for.
        public var matchID: String?

        public static let initial = State()

        public init() {}

        public var exists: Bool { !id.isEmpty }

        public func isMember(_ user: String) -> Bool { members.contains { $0.userID == user } }

        /// Seats held for invitees who have not joined, at `now`.
        public func heldSeats(at now: Double, except user: String? = nil) -> Int {
            invites.count { $0.key != user && $0.value > now && !isMember($0.key) }
        }

        /// Seats anyone may still take at `now` (held seats are not free).
        public func freeSeats(at now: Double) -> Int { max(0, maxMembers - members.count - heldSeats(at: now)) }

        /// Whether search lists the lobby: public or invisible, joinable, with a free seat.
        public func isListed(at now: Double) -> Bool {
            exists && isJoinable && (visibility == .public || visibility == .invisible) && freeSeats(at: now) > 0
        }

        /// Whether `user` may read the lobby: members, and anyone for a public lobby.
        public func isVisible(to user: String) -> Bool { exists && (visibility == .public || isMember(user)) }

        public func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            if case .create(let id, let visibility, let maxMembers, let data, let joinable, let users, let matchID) =
                command
            {
                // A match's lobby is created again by whoever retries the match: the same answer.
                if exists, let matchID, matchID == self.matchID { return [] }
                guard !exists else { throw .exists }
                try Self.check(maxMembers: maxMembers)
                try Self.check(data: data, field: "data")
                guard !users.isEmpty, users.count <= maxMembers else {
                    throw .invalid(field: "max_members", message: "must hold every player")
                }
                return [
                    .created(
                        id: id,
                        visibility: visibility,
                        maxMembers: maxMembers,
                        data: data,
                        joinable: joinable,
                        members: users.map { Member(userID: $0, joinedAt: now) },
                        matchID: matchID,
                        at: now
                    )
                ]
            }
            guard exists else { throw .notFound }
            switch command {
            case .create: return []
            case .join(let user, let isOwnersFriend):
                if isMember(user) { return [] }
                if bans.contains(user) { throw .banned }
                guard isJoinable else { throw .notJoinable }
                let invited = invites[user] != nil
                switch visibility {
                case .private where !invited: throw .notInvited
                case .friendsOnly where !invited && !isOwnersFriend: throw .notInvited
                default: break
                }
                guard members.count + heldSeats(at: now, except: user) < maxMembers else { throw .full }
                return [.joined(Member(userID: user, joinedAt: now))]
            case .leave(let user):
                guard isMember(user) else { return [] }
                return [.left(user: user, reason: .memberLeft, owner: successor(leaving: user), at: now)]
            case .update(let by, let changes, let visibility, let joinable, let maxMembers):
                try requireOwner(by)
                if let maxMembers {
                    try Self.check(maxMembers: maxMembers)
                    guard maxMembers >= members.count else {
                        throw .invalid(field: "max_members", message: "is below the number of members")
                    }
                }
                var merged = data
                if let changes { Self.merge(changes, into: &merged) }
                try Self.check(data: merged, field: "data")
                let event = Event.updated(
                    data: changes ?? [:],
                    visibility: visibility == self.visibility ? nil : visibility,
                    joinable: joinable == isJoinable ? nil : joinable,
                    maxMembers: maxMembers == self.maxMembers ? nil : maxMembers
                )
                var after = self
                after.apply(event)
                return after.publicEquals(self) ? [] : [event]
            case .setMember(let user, let changes, let isReady):
                guard let member = members.first(where: { $0.userID == user }) else { throw .notMember }
                var merged = member.data
                if let changes { Self.merge(changes, into: &merged) }
                try Self.check(data: merged, field: "data")
                guard merged != member.data || (isReady != nil && isReady != member.isReady) else { return [] }
                return [.memberSet(user: user, data: changes ?? [:], isReady: isReady)]
            case .kick(let by, let user):
                try requireOwner(by)
                guard user != by else { throw .invalid(field: "user_id", message: "is the owner") }
                guard isMember(user) else { throw .notMember }
                return [.left(user: user, reason: .kicked, owner: nil, at: now)]
            case .ban(let by, let user):
                try requireOwner(by)
                guard user != by else { throw .invalid(field: "user_id", message: "is the owner") }
                if isMember(user) { return [.left(user: user, reason: .banned, owner: nil, at: now)] }
                return bans.contains(user) ? [] : [.banned(user: user)]
            case .invite(let by, let user, let holdUntil):
                try requireOwner(by)
                guard !isMember(user) else { throw .invalid(field: "user_id", message: "is a member already") }
                if bans.contains(user) { throw .banned }
                guard members.count + heldSeats(at: now, except: user) < maxMembers else { throw .full }
                return [.invited(user: user, holdUntil: holdUntil)]
            case .transfer(let by, let to):
                try requireOwner(by)
                guard isMember(to) else { throw .notMember }
                return to == ownerID ? [] : [.ownerSet(user: to)]
            case .start(let by, let gameServer, let force):
                try requireOwner(by)
                guard force || members.allSatisfy(\.isReady) else { throw .notReady }
                return [.started(gameServer: gameServer, at: now)]
            case .ownerGone(let user):
                guard user == ownerID, let next = successor(leaving: user) else { return [] }
                return [.ownerSet(user: next)]
            case .expire(let emptyBefore):
                guard let emptySince, emptySince <= emptyBefore else { return [] }
                return [.deleted]
            case .admit(let users):
                let newcomers = users.filter { !isMember($0) }
                guard members.count + newcomers.count <= maxMembers else { throw .full }
                return newcomers.map { .joined(Member(userID: $0, joinedAt: now)) }
            }
        }

        public mutating func apply(_ event: Event) {
            switch event {
            case .created(
                let id,
                let visibility,
                let maxMembers,
                let data,
                let joinable,
                let members,
                let matchID,
                let at
            ):
                self = State()
                self.id = id
                self.visibility = visibility
                self.maxMembers = maxMembers
                self.data = data
                self.isJoinable = joinable
                self.members = members
                self.ownerID = members.first?.userID ?? ""
                self.matchID = matchID
                self.createdAt = at
                self.emptySince = members.isEmpty ? at : nil
            case .joined(let member):
                members.append(member)
                invites[member.userID] = nil
                if members.count == 1 { ownerID = member.userID }
                emptySince = nil
            case .left(let user, let reason, let owner, let at):
                members.removeAll { $0.userID == user }
                if reason == .banned { bans.insert(user) }
                if let owner { ownerID = owner }
                if members.isEmpty { emptySince = at }
            case .banned(let user):
                bans.insert(user)
                invites[user] = nil
            case .updated(let changes, let visibility, let joinable, let maxMembers):
                Self.merge(changes, into: &data)
                if let visibility { self.visibility = visibility }
                if let joinable { isJoinable = joinable }
                if let maxMembers { self.maxMembers = maxMembers }
            case .memberSet(let user, let changes, let isReady):
                if let index = members.firstIndex(where: { $0.userID == user }) {
                    Self.merge(changes, into: &members[index].data)
                    if let isReady { members[index].isReady = isReady }
                }
            case .invited(let user, let holdUntil):
                invites[user] = holdUntil
                // Not a change members see: the version stays.
                return
            case .ownerSet(let user):
                ownerID = user
            case .started(let gameServer, _):
                self.gameServer = gameServer
            case .deleted:
                self = State()
                return
            }
            version += 1
        }

        /// The change members are told of for `event`.
        public static func change(of event: Event) -> Change? {
            switch event {
            case .created: .created
            case .joined: .memberJoined
            case .left(_, let reason, _, _): reason
            case .banned, .invited, .deleted: nil
            case .updated: .data
            case .memberSet: .memberData
            case .ownerSet: .owner
            case .started: .started
            }
        }

        /// Who owns the lobby once `user` leaves: the longest-present other member when `user`
        /// owns it (nil when the owner stays, or no one is left).
        func successor(leaving user: String) -> String? {
            guard user == ownerID else { return nil }
            return members.first { $0.userID != user }?.userID
        }

        private func requireOwner(_ user: String) throws(Failure) {
            guard user == ownerID, isMember(user) else { throw .notOwner }
        }

        /// Equal in everything members see (an update that changes nothing is not a change).
        private func publicEquals(_ other: State) -> Bool {
            data == other.data && visibility == other.visibility && isJoinable == other.isJoinable
                && maxMembers == other.maxMembers
        }

        /// Merges key by key; an empty value deletes the key.
        static func merge(_ changes: [String: String], into data: inout [String: String]) {
            for (key, value) in changes { data[key] = value.isEmpty ? nil : value }
        }

        static func check(maxMembers: Int) throws(Failure) {
            guard Lobby.membersRange.contains(maxMembers) else {
                throw .invalid(field: "max_members", message: "must be 2 to 250")
            }
        }

        static func check(data: [String: String], field: String) throws(Failure) {
            var bytes = 0
            for (key, value) in data {
                guard !key.isEmpty, key.utf8.count <= Lobby.keyBytesMax else {
                    throw .invalid(field: field, message: "keys must be 1 to \(Lobby.keyBytesMax) bytes")
                }
                bytes += key.utf8.count + value.utf8.count
            }
            guard bytes <= Lobby.dataBytesMax else {
                throw .invalid(field: field, message: "must be at most \(Lobby.dataBytesMax) bytes in all")
            }
        }
    }
}

extension Lobby {
    /// A search: which listed lobbies match, in which order, how many.
    public struct Query: Sendable, Equatable {
        public enum Operator: String, Sendable, Equatable, CaseIterable {
            case eq, ne, lt, le, gt, ge
        }

        public enum Value: Sendable, Equatable {
            case string(String)
            case number(Double)
        }

        public struct Filter: Sendable, Equatable {
            public var key: String
            public var op: Operator
            public var value: Value

            public init(key: String, op: Operator, value: Value) {
                self.key = key
                self.op = op
                self.value = value
            }
        }

        public static let limitMax = 50

        public var filters: [Filter]
        /// Sorts by the numeric distance of the data value of `key` from `value`.
        public var near: (key: String, value: Double)?
        public var slotsAvailable: Int
        public var limit: Int

        public init(
            filters: [Filter] = [],
            near: (key: String, value: Double)? = nil,
            slotsAvailable: Int = 1,
            limit: Int = 50
        ) {
            self.filters = filters
            self.near = near
            self.slotsAvailable = max(1, slotsAvailable)
            self.limit = limit
        }

        public static func == (a: Query, b: Query) -> Bool {
            a.filters == b.filters && a.near?.key == b.near?.key && a.near?.value == b.near?.value
                && a.slotsAvailable == b.slotsAvailable && a.limit == b.limit
        }

        /// Whether search returns `lobby` at `now`: listed, with the seats asked for, every filter true.
        /// A filter on a key the lobby lacks is true only for `ne`; a number compares numerically
        /// with a value that reads as one (and is false when it does not).
        public func matches(_ lobby: State, at now: Double) -> Bool {
            guard lobby.isListed(at: now), lobby.freeSeats(at: now) >= slotsAvailable else { return false }
            return filters.allSatisfy { filter in
                guard let found = lobby.data[filter.key] else { return filter.op == .ne }
                switch filter.value {
                case .string(let wanted): return Self.compare(found, wanted, filter.op)
                case .number(let wanted):
                    guard let number = Double(found) else { return filter.op == .ne }
                    return Self.compare(number, wanted, filter.op)
                }
            }
        }

        private static func compare<T: Comparable>(_ a: T, _ b: T, _ op: Operator) -> Bool {
            switch op {
            case .eq: a == b
            case .ne: a != b
            case .lt: a < b
            case .le: a <= b
            case .gt: a > b
            case .ge: a >= b
            }
        }

        /// Whether `a` comes before `b` in the results: nearest first with `near` (lobbies
        /// without a number for its key last), else newest first; ties by id.
        public func precedes(_ a: State, _ b: State) -> Bool {
            if let near {
                let da = a.data[near.key].flatMap(Double.init).map { abs($0 - near.value) } ?? .infinity
                let db = b.data[near.key].flatMap(Double.init).map { abs($0 - near.value) } ?? .infinity
                if da != db { return da < db }
            } else if a.createdAt != b.createdAt {
                return a.createdAt > b.createdAt
            }
            return a.id < b.id
        }

        /// The first ``limit`` of `lobbies` that match, in order, and how many matched in all.
        public func run(_ lobbies: some Sequence<State>, at now: Double) -> (lobbies: [State], total: Int) {
            let found = lobbies.filter { matches($0, at: now) }.sorted(by: precedes)
            return (Array(found.prefix(limit)), found.count)
        }
    }
}
