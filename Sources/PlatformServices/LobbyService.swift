import ClusterCore
import Crypto
import EntityRuntime
import Foundation
import GameDomain
import Logging
import ServiceLifecycle
import Synchronization

/// Lobbies: create, join, leave, change, search across the cluster, start; the owner moves
/// when they leave or are gone; empty lobbies end after their TTL. Every change members see
/// goes to ``onChange(_:)`` (the real-time edge pushes it).
public final class LobbyService: Service {
    public typealias Failure = ServiceFailure

    /// A change members are told of: the lobby after it, what it was, and who else hears of it
    /// (the member who was kicked or banned).
    public struct Changed: Sendable {
        public var lobby: Lobby.State
        public var change: Lobby.Change
        public var alsoTell: [String]
    }

    private let entities: Entities
    private let social: SocialService
    private let settings: LobbySettings
    /// This node's entity service: its index of lobbies is swept here (nil: no sweeps).
    private let local: EntityService?
    private let search: (@Sendable (LobbyKind.Query) async throws(ClusterFailure) -> LobbyKind.Found)?
    private let clock: @Sendable () -> Double
    private let logger: Logger
    private let handler = Mutex<ChangeHandler?>(nil)
    private let invites = Mutex<InviteHandler?>(nil)
    private let nextServer = Atomic<Int>(0)
    /// Users gone offline, waiting for the next pass over the lobbies this node leads.
    private let gone = Mutex<Set<String>>([])
    /// The serving term of each shard whose lobbies this node last swept.
    private let terms = Mutex<[UInt32: UInt64]>([:])
    /// Signs the tokens players show a game server.
    private let tokenKey: SymmetricKey

    /// The handlers in structs (a bare closure in a lock's storage gains two thunks per read).
    private struct ChangeHandler: Sendable {
        let take: @Sendable (Changed) -> Void
    }

    private struct InviteHandler: Sendable {
        let take: @Sendable (_ invitee: String, _ lobbyID: String, _ from: String, _ holdUntil: Double) -> Void
    }

    /// - Parameters:
    ///   - local: this node's entity service, whose lobbies this node sweeps (empty ones' end,
    ///     owners gone).
    ///   - search: searches every shard's index (``NodeEntityTransport/search(_:_:)``).
    public init(
        entities: Entities,
        social: SocialService,
        settings: LobbySettings,
        tokenSecret: String,
        local: EntityService? = nil,
        search: (@Sendable (LobbyKind.Query) async throws(ClusterFailure) -> LobbyKind.Found)? = nil,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        logger: Logger = Logger(label: "plume.lobbies")
    ) {
        self.entities = entities
        self.social = social
        self.settings = settings
        self.tokenKey = SymmetricKey(data: SHA256.hash(data: Data(("plume game server" + tokenSecret).utf8)))
        self.local = local
        self.search = search
        self.clock = clock
        self.logger = logger
    }

    /// Sets who is told of every change members see.
    public func onChange(_ take: @escaping @Sendable (Changed) -> Void) {
        handler.withLock { $0 = ChangeHandler(take: take) }
    }

    /// Sets who is told of every invite (the invitee's `lobby_invite` push).
    public func onInvite(_ take: @escaping @Sendable (String, String, String, Double) -> Void) {
        invites.withLock { $0 = InviteHandler(take: take) }
    }

    // MARK: - Requests

    public func create(
        _ caller: String,
        visibility: Lobby.Visibility,
        maxMembers: Int,
        data: [String: String],
        joinable: Bool
    ) async throws(Failure) -> Lobby.State {
        let id = Self.newID()
        return try await ask(
            id,
            .create(
                id: id,
                visibility: visibility,
                maxMembers: maxMembers,
                data: data,
                joinable: joinable,
                members: [caller],
                matchID: nil
            )
        )
    }

    /// The lobby of a match, with every player a member (the first its owner); the same lobby
    /// again when it exists already (a retried match).
    public func createForMatch(id: String, matchID: String, players: [String], data: [String: String])
        async throws(Failure) -> Lobby.State
    {
        try await ask(
            id,
            .create(
                id: id,
                visibility: .private,
                maxMembers: max(Lobby.membersRange.lowerBound, players.count),
                data: data,
                joinable: false,
                members: players,
                matchID: matchID
            )
        )
    }

    /// Seats a match's players in a started lobby (a backfill); those already in are skipped.
    public func admit(_ id: String, users: [String]) async throws(Failure) -> Lobby.State {
        try Self.check(id)
        return try await ask(id, .admit(users: users))
    }

    /// The lobby, if `caller` may see it (members; anyone for a public lobby): else not found.
    public func get(_ caller: String, _ id: String) async throws(Failure) -> Lobby.State {
        try Self.check(id)
        let reply = try await entities.ref(LobbyKind.self, id).outcome(read: .get).mapError(Self.refused).get()
        guard reply.lobby.isVisible(to: caller) else { throw Self.refused(Lobby.Failure.notFound) }
        return reply.lobby
    }

    public func join(_ caller: String, _ id: String) async throws(Failure) -> Lobby.State {
        try Self.check(id)
        let lobby = entities.ref(LobbyKind.self, id)
        switch try await lobby.outcome(.join(user: caller, isOwnersFriend: false)) {
        case .success(let reply):
            publish(reply)
            return reply.lobby
        case .failure(.notInvited):
            // A friends-only lobby admits the owner's friends: asked only when it matters.
            let current = try await lobby.outcome(read: .get).mapError(Self.refused).get().lobby
            guard current.visibility == .friendsOnly,
                (try? await social.friendIDs(current.ownerID).contains(caller)) == true
            else { throw Self.refused(Lobby.Failure.notInvited) }
            return try await ask(id, .join(user: caller, isOwnersFriend: true))
        case .failure(let refusal): throw Self.refused(refusal)
        }
    }

    public func leave(_ caller: String, _ id: String) async throws(Failure) {
        try Self.check(id)
        _ = try await ask(id, .leave(user: caller))
    }

    public func update(
        _ caller: String,
        _ id: String,
        data: [String: String]?,
        visibility: Lobby.Visibility?,
        joinable: Bool?,
        maxMembers: Int?
    ) async throws(Failure) -> Lobby.State {
        try Self.check(id)
        return try await ask(
            id,
            .update(by: caller, data: data, visibility: visibility, joinable: joinable, maxMembers: maxMembers)
        )
    }

    public func setMember(_ caller: String, _ id: String, data: [String: String]?, isReady: Bool?)
        async throws(Failure) -> Lobby.State
    {
        try Self.check(id)
        return try await ask(id, .setMember(user: caller, data: data, isReady: isReady))
    }

    public func kick(_ caller: String, _ id: String, user: String) async throws(Failure) -> Lobby.State {
        try Self.check(id)
        return try await ask(id, .kick(by: caller, user: user), alsoTell: [user])
    }

    public func ban(_ caller: String, _ id: String, user: String) async throws(Failure) -> Lobby.State {
        try Self.check(id)
        return try await ask(id, .ban(by: caller, user: user), alsoTell: [user])
    }

    public func transfer(_ caller: String, _ id: String, to user: String) async throws(Failure) -> Lobby.State {
        try Self.check(id)
        return try await ask(id, .transfer(by: caller, to: user))
    }

    /// Holds a seat for `user` for `seat_hold_ms`; they get a notification and a push.
    public func invite(_ caller: String, _ id: String, user: String) async throws(Failure) -> Lobby.State {
        try Self.check(id)
        guard AccountService.idBytes.contains(user.utf8.count) else {
            throw Failure(kind: .notFound, message: "no user \(user)")
        }
        _ = try await social.accounts.user(id: user)
        let holdUntil = clock() + settings.seatHold.seconds
        let lobby = try await ask(id, .invite(by: caller, user: user, holdUntil: holdUntil))
        await social.notify(user, .lobbyInvite, data: ["lobby_id": id, "from": caller])
        invites.withLock { $0 }?.take(user, id, caller, holdUntil)
        return lobby
    }

    /// A started game: the lobby, the game server it runs on, and the token its players show
    /// that server.
    public struct Started: Sendable {
        public var lobby: Lobby.State
        public var gameServer: String
        public var token: String
    }

    /// Starts the game on the pool's next game server (in turn). Refused while a member is not
    /// ready, unless `force`.
    public func start(_ caller: String, _ id: String, force: Bool) async throws(Failure) -> Started {
        try Self.check(id)
        let servers = settings.gameServers
        let server = servers[nextServer.wrappingAdd(1, ordering: .relaxed).oldValue % max(1, servers.count)]
        let lobby = try await ask(id, .start(by: caller, gameServer: server, force: force))
        let chosen = lobby.gameServer ?? server
        return Started(lobby: lobby, gameServer: chosen, token: gameServerToken(lobby, server: chosen))
    }

    /// `<payload>.<signature>`, both base64url: the payload is JSON
    /// `{"lobby_id","server","players","version"}`, the signature its HMAC-SHA256 under a key
    /// derived from the cluster secret (`SHA-256("plume game server" + secret)`), which the
    /// studio's game servers hold to check who may join.
    func gameServerToken(_ lobby: Lobby.State, server: String) -> String {
        struct Payload: Encodable {
            let lobby_id: String
            let server: String
            let players: [String]
            let version: UInt64
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let payload =
            (try? encoder.encode(
                Payload(
                    lobby_id: lobby.id,
                    server: server,
                    players: lobby.members.map(\.userID),
                    version: lobby.version
                )
            )) ?? Data()
        let signature = HMAC<SHA256>.authenticationCode(for: payload, using: tokenKey)
        return "\(Self.base64URL(payload)).\(Self.base64URL(Data(signature)))"
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The lobbies search lists that match, across the cluster.
    public func search(_ query: Lobby.Query) async throws(Failure) -> LobbyKind.Found {
        guard let search else { throw Failure(kind: .unavailable, message: "search is not available here") }
        do {
            return try await search(LobbyKind.Query(query, now: clock()))
        } catch {
            throw Failure(error)
        }
    }

    // MARK: - Sweeps (on each lobby's primary)

    /// Deletes empty lobbies past their TTL, every second, until the node shuts down (a
    /// graceful shutdown ends it normally).
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    await self.expireEmpty()
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// A user is gone (offline past the reconnect grace): the lobbies they own on this node's
    /// shards pass to their longest-present other member.
    public func ownerGone(_ user: String) async {
        // Users gone at about the same time (a node's sockets, say) are handled in one pass
        // over the index, not one each.
        let first = gone.withLock { gone in
            defer { gone.insert(user) }
            return gone.isEmpty
        }
        guard first, let local else { return }
        try? await Task.sleep(for: .milliseconds(100))
        let users = gone.withLock { gone in
            defer { gone = [] }
            return gone
        }
        for (_, entries) in await local.indexed(LobbyKind.self) {
            for (_, lobby) in entries where users.contains(lobby.ownerID) && lobby.members.count > 1 {
                _ = try? await ask(lobby.id, .ownerGone(user: lobby.ownerID))
            }
        }
    }

    /// Deletes the lobbies on this node's shards that have been empty for `empty_ttl_ms`; for a
    /// shard this node has just started to lead (its primary died, say), sends every member of
    /// its lobbies the lobby again (`data`, at its version), since pushes the old primary owed
    /// may be lost.
    public func expireEmpty() async {
        guard let local else { return }
        let before = clock() - settings.emptyTTL.seconds
        for (shard, entries) in await local.indexed(LobbyKind.self) {
            let term = local.servingTerm(shard: shard)
            let isNew = terms.withLock { terms in
                defer { terms[shard] = term }
                return term != nil && terms[shard] != term
            }
            if isNew {
                for lobby in entries.values where !lobby.members.isEmpty {
                    publish(LobbyKind.Reply(lobby: lobby, change: .data))
                }
            }
            for (_, lobby) in entries {
                guard let since = lobby.emptySince, since <= before else { continue }
                do {
                    _ = try await ask(lobby.id, .expire(emptyBefore: before))
                } catch {
                    logger.debug("an empty lobby was not deleted yet", metadata: ["error": "\(error.message)"])
                }
            }
        }
    }

    // MARK: - Helpers

    /// A new lobby id: 20 hex digits.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt16
        return String(format: "%016llx%04x", high, low)
    }

    private static func check(_ id: String) throws(Failure) {
        guard (1...64).contains(id.utf8.count), id.utf8.allSatisfy({ $0 != UInt8(ascii: "/") }) else {
            throw refused(Lobby.Failure.notFound)
        }
    }

    /// Sends a command; a change members see goes to ``onChange(_:)`` (and to `alsoTell`).
    private func ask(_ id: String, _ command: Lobby.Command, alsoTell: [String] = []) async throws(Failure)
        -> Lobby.State
    {
        let reply = try await entities.ref(LobbyKind.self, id).outcome(command).mapError(Self.refused).get()
        publish(reply, alsoTell: alsoTell)
        return reply.lobby
    }

    /// Tells ``onChange(_:)`` of a change members see (a new lobby is no change to push: its
    /// creator has it in the answer, a match's players in `match_found`).
    private func publish(_ reply: LobbyKind.Reply, alsoTell: [String] = []) {
        guard let change = reply.change, change != .created, let handler = handler.withLock({ $0 }) else { return }
        handler.take(Changed(lobby: reply.lobby, change: change, alsoTell: alsoTell))
    }

    /// A lobby's refusal as the client sees it.
    static func refused(_ refusal: Lobby.Failure) -> Failure {
        switch refusal {
        case .notFound: Failure(kind: .notFound, message: "no such lobby")
        case .exists: Failure(kind: .conflict(code: "exists"), message: "the lobby exists already")
        case .full: Failure(kind: .conflict(code: "lobby_full"), message: "the lobby is full")
        case .notJoinable: Failure(kind: .forbidden(code: "not_joinable"), message: "the lobby is not joinable")
        case .banned: Failure(kind: .forbidden(code: "banned"), message: "you are banned from this lobby")
        case .notInvited: Failure(kind: .forbidden(code: "not_invited"), message: "this lobby needs an invite")
        case .notOwner: Failure(kind: .forbidden(code: "not_owner"), message: "only the lobby's owner may do this")
        case .notMember: Failure(kind: .forbidden(code: "not_member"), message: "not a member of this lobby")
        case .notReady: Failure(kind: .conflict(code: "not_ready"), message: "a member is not ready")
        case .invalid(let field, let message): Failure(kind: .invalid(field: field), message: "\(field) \(message)")
        }
    }
}
