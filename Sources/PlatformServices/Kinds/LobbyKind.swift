import EntityRuntime
import GameDomain

/// A lobby as an entity: `lobby/<lobby id>`, replicated, indexed on its shard (every lobby
/// that exists) and searched across the cluster (those search lists).
public enum LobbyKind: SearchableKind {
    public typealias State = Lobby.State
    public typealias Failure = Lobby.Failure
    public typealias Entry = Lobby.State

    /// The lobby after a command (or as read), and the change members are told of.
    public struct Reply: Sendable, Equatable {
        public var lobby: Lobby.State
        public var change: Lobby.Change?

        public init(lobby: Lobby.State, change: Lobby.Change?) {
            self.lobby = lobby
            self.change = change
        }
    }

    public enum Read: Sendable, Equatable {
        case get
    }

    /// A search at a given time (seat holds end by it).
    public struct Query: Sendable, Equatable {
        public var query: Lobby.Query
        public var now: Double

        public init(_ query: Lobby.Query, now: Double) {
            self.query = query
            self.now = now
        }
    }

    /// The first lobbies that matched, in order, and how many matched in all.
    public struct Found: Sendable, Equatable {
        public var lobbies: [Lobby.State]
        public var total: Int

        public init(lobbies: [Lobby.State], total: Int) {
            self.lobbies = lobbies
            self.total = total
        }
    }

    public static let tag: UInt32 = 7
    public static let keyPrefix = "lobby/"
    public static let durability = Durability.replicated

    public static func reply(to command: State.Command, events: [State.Event], state: State) -> Reply {
        Reply(lobby: state, change: events.lazy.compactMap(Lobby.State.change(of:)).last)
    }

    public static func read(_ read: Read, state: State) throws(Failure) -> Reply {
        guard state.exists else { throw .notFound }
        return Reply(lobby: state, change: nil)
    }

    public static func indexEntry(of state: State) -> State? { state.exists ? state : nil }

    public static func search(_ query: Query, in entries: some Collection<State>) -> Found {
        let (lobbies, total) = query.query.run(entries, at: query.now)
        return Found(lobbies: lobbies, total: total)
    }

    public static func merge(_ found: [Found], for query: Query) -> Found {
        let lobbies = found.flatMap(\.lobbies).sorted(by: query.query.precedes)
        return Found(lobbies: Array(lobbies.prefix(query.query.limit)), total: found.reduce(0) { $0 + $1.total })
    }
}

/// ``LobbyKind``'s schema: `Schema/lobby.proto`.
extension LobbyKind {
    public static func encode(command: State.Command) -> [UInt8] {
        var message = Plume_Lobby_Command()
        switch command {
        case .create(let id, let visibility, let maxMembers, let data, let joinable, let members, let matchID):
            message.create = .with {
                $0.id = id
                $0.visibility = visibility.rawValue
                $0.maxMembers = UInt32(clamping: maxMembers)
                $0.data = data
                $0.joinable = joinable
                $0.members = members
                if let matchID { $0.matchID = matchID }
            }
        case .join(let user, let isOwnersFriend):
            message.join = .with {
                $0.user = user
                $0.ownersFriend = isOwnersFriend
            }
        case .leave(let user): message.leave = .with { $0.user = user }
        case .update(let by, let data, let visibility, let joinable, let maxMembers):
            message.update = .with {
                $0.by = by
                if let data { $0.data = .with { $0.values = data } }
                if let visibility { $0.visibility = visibility.rawValue }
                if let joinable { $0.joinable = joinable }
                if let maxMembers { $0.maxMembers = UInt32(clamping: maxMembers) }
            }
        case .setMember(let user, let data, let isReady):
            message.setMember = .with {
                $0.user = user
                if let data { $0.data = .with { $0.values = data } }
                if let isReady { $0.ready = isReady }
            }
        case .kick(let by, let user): message.kick = act(by, user)
        case .ban(let by, let user): message.ban = act(by, user)
        case .transfer(let by, let to): message.transfer = act(by, to)
        case .invite(let by, let user, let holdUntil):
            message.invite = .with {
                $0.by = by
                $0.user = user
                $0.holdUntil = holdUntil
            }
        case .start(let by, let gameServer, let force):
            message.start = .with {
                $0.by = by
                $0.gameServer = gameServer
                $0.force = force
            }
        case .ownerGone(let user): message.ownerGone = .with { $0.user = user }
        case .expire(let emptyBefore): message.expire = .with { $0.emptyBefore = emptyBefore }
        case .admit(let users): message.admit = .with { $0.users = users }
        }
        return Protobuf.bytes(message)
    }

    private static func act(_ by: String, _ user: String) -> Plume_Lobby_Command.Act {
        .with {
            $0.by = by
            $0.user = user
        }
    }

    public static func decode(command bytes: [UInt8]) throws(SchemaError) -> State.Command {
        switch try Protobuf.message(bytes, as: Plume_Lobby_Command.self).command {
        case .create(let m)?:
            .create(
                id: m.id,
                visibility: try visibility(m.visibility),
                maxMembers: Int(m.maxMembers),
                data: m.data,
                joinable: m.joinable,
                members: m.members,
                matchID: m.hasMatchID ? m.matchID : nil
            )
        case .join(let m)?: .join(user: m.user, isOwnersFriend: m.ownersFriend)
        case .leave(let m)?: .leave(user: m.user)
        case .update(let m)?:
            .update(
                by: m.by,
                data: m.hasData ? m.data.values : nil,
                visibility: m.hasVisibility ? try visibility(m.visibility) : nil,
                joinable: m.hasJoinable ? m.joinable : nil,
                maxMembers: m.hasMaxMembers ? Int(m.maxMembers) : nil
            )
        case .setMember(let m)?:
            .setMember(user: m.user, data: m.hasData ? m.data.values : nil, isReady: m.hasReady ? m.ready : nil)
        case .kick(let m)?: .kick(by: m.by, user: m.user)
        case .ban(let m)?: .ban(by: m.by, user: m.user)
        case .transfer(let m)?: .transfer(by: m.by, to: m.user)
        case .invite(let m)?: .invite(by: m.by, user: m.user, holdUntil: m.holdUntil)
        case .start(let m)?: .start(by: m.by, gameServer: m.gameServer, force: m.force)
        case .ownerGone(let m)?: .ownerGone(user: m.user)
        case .expire(let m)?: .expire(emptyBefore: m.emptyBefore)
        case .admit(let m)?: .admit(users: m.users)
        case nil: throw SchemaError.unknownCase("lobby command")
        }
    }

    public static func encode(event: State.Event) -> [UInt8] {
        var message = Plume_Lobby_Event()
        switch event {
        case .created(let id, let visibility, let maxMembers, let data, let joinable, let members, let matchID, let at):
            message.created = .with {
                $0.id = id
                $0.visibility = visibility.rawValue
                $0.maxMembers = UInt32(clamping: maxMembers)
                $0.data = data
                $0.joinable = joinable
                $0.members = members.map(wire)
                if let matchID { $0.matchID = matchID }
                $0.at = at
            }
        case .joined(let member): message.joined = wire(member)
        case .left(let user, let reason, let owner, let at):
            message.left = .with {
                $0.user = user
                $0.reason = reason.rawValue
                if let owner { $0.owner = owner }
                $0.at = at
            }
        case .banned(let user): message.banned = .with { $0.user = user }
        case .updated(let data, let visibility, let joinable, let maxMembers):
            message.updated = .with {
                $0.data = data
                if let visibility { $0.visibility = visibility.rawValue }
                if let joinable { $0.joinable = joinable }
                if let maxMembers { $0.maxMembers = UInt32(clamping: maxMembers) }
            }
        case .memberSet(let user, let data, let isReady):
            message.memberSet = .with {
                $0.user = user
                $0.data = data
                if let isReady { $0.ready = isReady }
            }
        case .invited(let user, let holdUntil):
            message.invited = .with {
                $0.user = user
                $0.holdUntil = holdUntil
            }
        case .ownerSet(let user): message.ownerSet = .with { $0.user = user }
        case .started(let gameServer, let at):
            message.started = .with {
                $0.gameServer = gameServer
                $0.at = at
            }
        case .deleted: message.deleted = .init()
        }
        return Protobuf.bytes(message)
    }

    public static func decode(event bytes: [UInt8]) throws(SchemaError) -> State.Event {
        switch try Protobuf.message(bytes, as: Plume_Lobby_Event.self).event {
        case .created(let m)?:
            .created(
                id: m.id,
                visibility: try visibility(m.visibility),
                maxMembers: Int(m.maxMembers),
                data: m.data,
                joinable: m.joinable,
                members: m.members.map(member),
                matchID: m.hasMatchID ? m.matchID : nil,
                at: m.at
            )
        case .joined(let m)?: .joined(member(m))
        case .left(let m)?:
            .left(user: m.user, reason: try reason(m.reason), owner: m.hasOwner ? m.owner : nil, at: m.at)
        case .banned(let m)?: .banned(user: m.user)
        case .updated(let m)?:
            .updated(
                data: m.data,
                visibility: m.hasVisibility ? try visibility(m.visibility) : nil,
                joinable: m.hasJoinable ? m.joinable : nil,
                maxMembers: m.hasMaxMembers ? Int(m.maxMembers) : nil
            )
        case .memberSet(let m)?: .memberSet(user: m.user, data: m.data, isReady: m.hasReady ? m.ready : nil)
        case .invited(let m)?: .invited(user: m.user, holdUntil: m.holdUntil)
        case .ownerSet(let m)?: .ownerSet(user: m.user)
        case .started(let m)?: .started(gameServer: m.gameServer, at: m.at)
        case .deleted?: .deleted
        case nil: throw SchemaError.unknownCase("lobby event")
        }
    }

    public static func encode(state: State) -> [UInt8] { Protobuf.bytes(wire(state)) }

    public static func decode(state bytes: [UInt8]) throws(SchemaError) -> State {
        try lobby(Protobuf.message(bytes, as: Plume_Lobby_State.self))
    }

    public static func encode(read: Read) -> [UInt8] {
        Protobuf.bytes(Plume_Lobby_Read.with { $0.get = .init() })
    }

    public static func decode(read bytes: [UInt8]) throws(SchemaError) -> Read {
        switch try Protobuf.message(bytes, as: Plume_Lobby_Read.self).read {
        case .get?: .get
        case nil: throw SchemaError.unknownCase("lobby read")
        }
    }

    public static func encode(reply: Reply) -> [UInt8] {
        Protobuf.bytes(
            Plume_Lobby_Reply.with {
                $0.state = wire(reply.lobby)
                if let change = reply.change { $0.change = change.rawValue }
            }
        )
    }

    public static func decode(reply bytes: [UInt8]) throws(SchemaError) -> Reply {
        let m = try Protobuf.message(bytes, as: Plume_Lobby_Reply.self)
        return Reply(lobby: try lobby(m.state), change: m.hasChange ? try reason(m.change) : nil)
    }

    public static func encode(failure: Failure) -> [UInt8] { Refusal.encode(failure) }

    public static func decode(failure bytes: [UInt8]) throws(SchemaError) -> Failure {
        try Refusal.decode(bytes, as: Failure.self, kind: "lobby")
    }

    public static func encode(query: Query) -> [UInt8] {
        Protobuf.bytes(
            Plume_Lobby_Query.with { m in
                m.filters = query.query.filters.map { filter in
                    .with {
                        $0.key = filter.key
                        $0.op = filter.op.rawValue
                        switch filter.value {
                        case .string(let text): $0.text = text
                        case .number(let number): $0.number = number
                        }
                    }
                }
                if let near = query.query.near {
                    m.near = .with {
                        $0.key = near.key
                        $0.value = near.value
                    }
                }
                m.slotsAvailable = UInt32(clamping: query.query.slotsAvailable)
                m.limit = UInt32(clamping: query.query.limit)
                m.now = query.now
            }
        )
    }

    public static func decode(query bytes: [UInt8]) throws(SchemaError) -> Query {
        let m = try Protobuf.message(bytes, as: Plume_Lobby_Query.self)
        var filters: [Lobby.Query.Filter] = []
        for filter in m.filters {
            guard let op = Lobby.Query.Operator(rawValue: filter.op) else {
                throw SchemaError.unknownCase("lobby filter op \(filter.op)")
            }
            let value: Lobby.Query.Value
            switch filter.value {
            case .text(let text)?: value = .string(text)
            case .number(let number)?: value = .number(number)
            case nil: throw SchemaError.unknownCase("lobby filter value")
            }
            filters.append(Lobby.Query.Filter(key: filter.key, op: op, value: value))
        }
        return Query(
            Lobby.Query(
                filters: filters,
                near: m.hasNear ? (m.near.key, m.near.value) : nil,
                slotsAvailable: Int(m.slotsAvailable),
                limit: Int(m.limit)
            ),
            now: m.now
        )
    }

    public static func encode(found: Found) -> [UInt8] {
        Protobuf.bytes(
            Plume_Lobby_Found.with {
                $0.lobbies = found.lobbies.map(wire)
                $0.total = UInt64(found.total)
            }
        )
    }

    public static func decode(found bytes: [UInt8]) throws(SchemaError) -> Found {
        let m = try Protobuf.message(bytes, as: Plume_Lobby_Found.self)
        var lobbies: [Lobby.State] = []
        for state in m.lobbies { lobbies.append(try lobby(state)) }
        return Found(lobbies: lobbies, total: Int(clamping: m.total))
    }

    static func wire(_ member: Lobby.Member) -> Plume_Lobby_Member {
        .with {
            $0.userID = member.userID
            $0.data = member.data
            $0.ready = member.isReady
            $0.joinedAt = member.joinedAt
        }
    }

    static func member(_ m: Plume_Lobby_Member) -> Lobby.Member {
        Lobby.Member(userID: m.userID, data: m.data, isReady: m.ready, joinedAt: m.joinedAt)
    }

    static func wire(_ state: State) -> Plume_Lobby_State {
        .with {
            $0.id = state.id
            $0.visibility = state.visibility.rawValue
            $0.ownerID = state.ownerID
            $0.maxMembers = UInt32(clamping: state.maxMembers)
            $0.joinable = state.isJoinable
            $0.data = state.data
            $0.members = state.members.map(wire)
            $0.version = state.version
            $0.createdAt = state.createdAt
            $0.invites = state.invites
            $0.bans = state.bans.sorted()
            if let emptySince = state.emptySince { $0.emptySince = emptySince }
            if let gameServer = state.gameServer { $0.gameServer = gameServer }
            if let matchID = state.matchID { $0.matchID = matchID }
        }
    }

    static func lobby(_ m: Plume_Lobby_State) throws(SchemaError) -> State {
        var state = State()
        state.id = m.id
        state.visibility = try visibility(m.visibility)
        state.ownerID = m.ownerID
        state.maxMembers = Int(m.maxMembers)
        state.isJoinable = m.joinable
        state.data = m.data
        state.members = m.members.map(member)
        state.version = m.version
        state.createdAt = m.createdAt
        state.invites = m.invites
        state.bans = Set(m.bans)
        state.emptySince = m.hasEmptySince ? m.emptySince : nil
        state.gameServer = m.hasGameServer ? m.gameServer : nil
        state.matchID = m.hasMatchID ? m.matchID : nil
        return state
    }

    static func visibility(_ name: String) throws(SchemaError) -> Lobby.Visibility {
        // A lobby that no longer exists has no visibility worth refusing.
        if name.isEmpty { return .public }
        guard let visibility = Lobby.Visibility(rawValue: name) else {
            throw SchemaError.unknownCase("lobby type \(name)")
        }
        return visibility
    }

    static func reason(_ name: String) throws(SchemaError) -> Lobby.Change {
        guard let change = Lobby.Change(rawValue: name) else { throw SchemaError.unknownCase("lobby change \(name)") }
        return change
    }
}
