import ClusterCore
import Foundation
import GameDomain
import Logging
import PlatformServices
import ServiceLifecycle
import Synchronization

/// How the real-time edge reaches the other nodes, and what it watches of the cluster.
public struct RealtimePeers: Sendable {
    /// The serving members (id → incarnation: a restarted node has a new one) and each shard's
    /// primary, as this node sees them.
    public struct Topology: Sendable, Equatable {
        public var members: [String: UInt64]
        public var primaries: [String?]

        public init(members: [String: UInt64], primaries: [String?]) {
            self.members = members
            self.primaries = primaries
        }

        /// The node that owns `key` (the primary of its shard).
        func owner(of key: String) -> String? {
            guard !primaries.isEmpty else { return nil }
            return primaries[Placement.shard(forKey: key, shardCount: primaries.count)]
        }
    }

    public var me: String
    public var topology: @Sendable () -> Topology
    /// Sends a batch's bytes to a node, one way; false if the node is unknown.
    public var send: @Sendable ([UInt8], String) -> Bool

    public init(
        me: String,
        topology: @escaping @Sendable () -> Topology,
        send: @escaping @Sendable ([UInt8], String) -> Bool
    ) {
        self.me = me
        self.topology = topology
        self.send = send
    }

    /// A node with no peers (everything is delivered here).
    public static func alone(_ me: String) -> RealtimePeers {
        RealtimePeers(me: me, topology: { Topology(members: [me: 0], primaries: []) }, send: { _, _ in false })
    }
}

/// The real-time edge's link to the cluster: it registers this node's sockets with their users'
/// presence owners, carries pushes to the nodes that hold their sockets (batched per destination
/// node, the cluster frame `realtime`), and follows the cluster's changes:
///
/// - a lost node: as owner, the users whose sockets were there show `reconnecting`, then
///   `offline` once the grace window ends (``PresenceService``);
/// - a shard whose primary changed: the sockets here of its users are announced to the new
///   owner, with the presence last seen, so the change loses nothing;
/// - a lost node that was also the owner of a user whose sockets were all on lost nodes: each
///   node that watched that user tells the new owner, which shows them `reconnecting` (no
///   zombie `online`).
public final class RealtimeRelay: Service, Sendable {
    let hub: RealtimeHub
    let presence: PresenceService?
    let social: SocialService
    /// Lobbies: their changes reach their members here, and a user gone offline hands over the
    /// lobbies they own (nil: no lobbies on this edge).
    let lobbies: LobbyService?
    let peers: RealtimePeers
    let logger: Logger
    /// How often the relay looks at the cluster.
    let tick: Duration

    private struct Outbox {
        var pending: [String: [RealtimeDelivery]] = [:]
        var scheduled = false
    }

    private struct Watch {
        var topology: RealtimePeers.Topology?
        /// Users with sockets here whose owner must (still) hear of them.
        var unannounced: Set<String> = []
        /// Watched users to report to their new owner, as last seen.
        var suspects: [String: Presence.View] = [:]
    }

    private let outbox = Mutex(Outbox())
    private let watch = Mutex(Watch())
    /// Resumes waiting for the node that parked their socket, by claim id.
    private let claims = Mutex<[String: CheckedContinuation<Resumed?, Never>]>([:])
    /// How long a dropped socket stays parked for a resume (`[realtime] reconnect_grace_ms`).
    let grace: Duration
    /// How long a resume waits for the node that parked its socket.
    static let claimTimeout = Duration.seconds(1)
    /// Deliveries in one cluster frame at most.
    static let batchDeliveriesMax = 64
    /// Users a push asks the owners of where their sockets are; a push to more goes to every node.
    static let ownerLookupsMax = 8
    /// Announcements (or reports) in flight at once after a change of owners.
    static let announcementsInFlight = 32

    public init(
        social: SocialService,
        presence: PresenceService?,
        lobbies: LobbyService? = nil,
        matchmaking: MatchmakingService? = nil,
        peers: RealtimePeers,
        settings: RealtimeSettings,
        tick: Duration = .milliseconds(200),
        logger: Logger
    ) {
        self.hub = RealtimeHub(sendQueueMax: settings.sendQueueMax, logger: logger)
        self.grace = settings.reconnectGrace
        self.social = social
        self.presence = presence
        self.lobbies = lobbies
        self.peers = peers
        self.tick = tick
        self.logger = logger
        social.onNotification { [weak self] user, notification in
            let frame = RealtimeProtocol.push("notification", data: NotificationBody(notification))
            Task { await self?.send(.push(users: [user], frame: frame), toSocketsOf: [user]) }
        }
        lobbies?.onChange { [weak self] changed in
            let users = changed.lobby.members.map(\.userID) + changed.alsoTell
            let frame = RealtimeProtocol.push(
                "lobby",
                data: LobbyPush(lobby: LobbyBody(changed.lobby), change: changed.change.rawValue)
            )
            Task { await self?.send(.push(users: users, frame: frame), toSocketsOf: users) }
        }
        matchmaking?.onMatch { [weak self] found in
            for one in found {
                let frame = RealtimeProtocol.push("match_found", data: MatchFoundPush(one))
                Task { await self?.send(.push(users: [one.player], frame: frame), toSocketsOf: [one.player]) }
            }
        }
        lobbies?.onInvite { [weak self] invitee, lobbyID, from, holdUntil in
            let frame = RealtimeProtocol.push(
                "lobby_invite",
                data: LobbyInvitePush(lobbyId: lobbyID, from: from, heldUntil: Timestamp.rfc3339(holdUntil))
            )
            Task { await self?.send(.push(users: [invitee], frame: frame), toSocketsOf: [invitee]) }
        }
    }

    // MARK: - Sockets

    /// A socket restored by a resume: its id, the pushes it missed, and the node that parked it.
    struct Resumed: Sendable {
        var socketID: String
        var frames: [String]
        var from: String
    }

    /// A resume token for a socket opened here: this node's id, then a random part.
    func newResumeToken() -> String {
        "\(peers.me).\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""))"
    }

    /// The parked socket `token` names, taken for a resume by the same user and session: here,
    /// or asked of the node that parked it (nil when there is none to resume, it missed more
    /// than it could keep, or that node is gone or does not answer within a second).
    func resume(token: String, userID: String, sessionID: String) async -> Resumed? {
        guard let dot = token.lastIndex(of: "."), dot != token.startIndex else { return nil }
        let node = String(token[..<dot])
        if node == peers.me {
            guard let parked = hub.unpark(token: token, userID: userID, sessionID: sessionID) else { return nil }
            guard parked.frames.count <= hub.sendQueueMax else {
                await letGo([parked])
                return nil
            }
            return Resumed(socketID: parked.socketID, frames: parked.frames, from: node)
        }
        guard peers.topology().members[node] != nil else { return nil }
        let claim = UUID().uuidString.lowercased()
        return await withCheckedContinuation { continuation in
            claims.withLock { $0[claim] = continuation }
            send(.claim(token: token, user: userID, session: sessionID, replyTo: peers.me, claim: claim), to: [node])
            Task {
                try? await Task.sleep(for: Self.claimTimeout)
                claims.withLock { $0.removeValue(forKey: claim) }?.resume(returning: nil)
            }
        }
    }

    /// A socket of the user opened here (perhaps resuming one another node parked): their
    /// friends' presence reaches it, and their owner hears of it.
    func opened(_ connection: RealtimeHub.Connection, resumedFrom: String? = nil) async {
        do {
            hub.watch(connection.userID, friends: try await social.friendIDs(connection.userID))
        } catch {
            logger.warning(
                "a socket's friend list could not be read: friends' presence will not reach it",
                metadata: ["error": "\(error.message)"]
            )
        }
        await tellOwner(of: connection.userID) { presence async throws(ServiceFailure) in
            try await presence.connect(connection.userID, socket: connection.id)
        }
        if let resumedFrom, resumedFrom != peers.me {
            // Live here first, then no longer parked there: the user never shows offline.
            await tellOwner(of: connection.userID) { presence async throws(ServiceFailure) in
                try await presence.disconnect(connection.userID, socket: connection.id, on: resumedFrom)
            }
        }
    }

    /// A socket of the user here closed: cleanly (its owner hears it is gone), or its connection
    /// dropped (`parkAs`: it is kept for a resume with that token for the grace window, and the
    /// user shows `reconnecting` unless another socket is live).
    func closed(_ connection: RealtimeHub.Connection, parkAs token: String?) async {
        if let token { hub.park(connection, token: token, until: .now + grace) }
        hub.remove(connection)
        await tellOwner(of: connection.userID) { presence async throws(ServiceFailure) in
            token != nil
                ? try await presence.drop(connection.userID, socket: connection.id)
                : try await presence.disconnect(connection.userID, socket: connection.id)
        }
    }

    /// Parked sockets let go (their time is over, they missed too much, their session ended):
    /// their owner hears they are gone.
    private func letGo(_ parked: [RealtimeHub.Parked]) async {
        for socket in parked {
            await tellOwner(of: socket.userID) { presence async throws(ServiceFailure) in
                try await presence.disconnect(socket.userID, socket: socket.socketID)
            }
        }
    }

    /// Tells `user`'s presence owner of a change and publishes what others see of it. An owner
    /// that cannot be told now (still electing) hears of the user's sockets here later, in an
    /// announcement.
    private func tellOwner(
        of user: String,
        _ change: (PresenceService) async throws(ServiceFailure) -> PresenceService.Answer
    ) async {
        guard let presence else { return }
        do {
            publish(try await change(presence))
        } catch {
            _ = watch.withLock { $0.unannounced.insert(user) }
        }
    }

    /// The user sets their presence (`presence.set`).
    func setPresence(_ user: String, status: Presence.Status, rich: [String: String]?) async throws(ServiceFailure)
        -> Presence.View
    {
        guard let presence else {
            throw ServiceFailure(kind: .unavailable, message: "presence is not kept on this node")
        }
        let answer = try await presence.set(user, status: status, rich: rich)
        publish(answer)
        return answer.view
    }

    // MARK: - Pushes

    /// A message to every socket of both sides.
    func chatMessage(_ body: MessageEnvelope, between users: [String]) async {
        await send(.push(users: users, frame: RealtimeProtocol.push("chat_message", data: body)), toSocketsOf: users)
    }

    /// A message in a lobby, to every member's sockets.
    func lobbyChat(_ body: LobbyChatPush, to members: [String]) async {
        await send(.push(users: members, frame: RealtimeProtocol.push("lobby_chat", data: body)), toSocketsOf: members)
    }

    /// A relationship changed: the push `friend` to each side, with their own side of it.
    func relationship(_ user: String, _ other: String, userState: String, otherState: String) async {
        await send(.relationship(user: user, other: other, state: userState), toSocketsOf: [user])
        await send(.relationship(user: other, other: user, state: otherState), toSocketsOf: [other])
    }

    /// The session ended: its sockets, wherever they are, get `session_revoked` and close with 4001.
    func revoke(userID: String, sessionID: String) async {
        await send(.revoke(user: userID, session: sessionID), toSocketsOf: [userID])
    }

    /// A presence change, to every live node: friends anywhere may watch it.
    private func publish(_ answer: PresenceService.Answer) {
        guard answer.changed else { return }
        send(.presence(answer.view, nodes: answer.nodes), to: peers.topology().members.keys)
    }

    /// To the nodes that hold the users' sockets, as their owners know them (every live node
    /// when an owner cannot be asked or knows of none).
    func send(_ delivery: RealtimeDelivery, toSocketsOf users: [String]) async {
        var nodes: Set<String> = []
        // Many users (a lobby's members): cheaper to hand every node the frame than to ask
        // every user's owner where their sockets are.
        if Set(users).count > Self.ownerLookupsMax {
            send(delivery, to: peers.topology().members.keys)
            return
        }
        for user in Set(users) {
            // An owner that cannot be asked, or that lists no socket (it may be one rebuilding
            // its state after a failover, before the edges' announcements reach it): every node.
            guard let presence, let answer = try? await presence.current(user), !answer.nodes.isEmpty else {
                nodes = Set(peers.topology().members.keys)
                break
            }
            nodes.formUnion(answer.nodes)
        }
        send(delivery, to: nodes)
    }

    /// Queues a delivery for each of `nodes` (this node's is delivered at once); queued ones
    /// leave together, one frame per node.
    func send(_ delivery: RealtimeDelivery, to nodes: some Sequence<String>) {
        var local = false
        let me = peers.me
        let schedule = outbox.withLock { box -> Bool in
            for node in nodes {
                if node == me { local = true } else { box.pending[node, default: []].append(delivery) }
            }
            guard !box.pending.isEmpty, !box.scheduled else { return false }
            box.scheduled = true
            return true
        }
        if local { apply(delivery, from: me) }
        if schedule { Task { self.flush() } }
    }

    private func flush() {
        let pending = outbox.withLock { box in
            defer {
                box.pending = [:]
                box.scheduled = false
            }
            return box.pending
        }
        for (node, deliveries) in pending {
            for start in stride(from: 0, to: deliveries.count, by: Self.batchDeliveriesMax) {
                let batch = deliveries[start..<min(start + Self.batchDeliveriesMax, deliveries.count)]
                _ = peers.send(RealtimeDelivery.encode(Array(batch)), node)
            }
        }
    }

    /// A batch another node sent.
    public func receive(_ bytes: [UInt8], from node: String) {
        do {
            let (deliveries, skipped) = try RealtimeDelivery.decode(bytes)
            for delivery in deliveries { apply(delivery, from: node) }
            if skipped > 0 {
                logger.debug("skipped real-time deliveries of a newer kind", metadata: ["from": "\(node)"])
            }
        } catch {
            logger.warning(
                "a real-time batch did not decode",
                metadata: ["from": "\(node)", "error": "\(error)"]
            )
        }
    }

    private func apply(_ delivery: RealtimeDelivery, from node: String) {
        switch delivery {
        case .push(let users, let frame): hub.deliver(frame, to: users)
        case .presence(let view, let nodes):
            hub.deliver(presence: view, nodes: nodes)
            // Every node hears every change: each hands over the lobbies it leads that the
            // user owned, once they are offline (past the reconnect grace, or closed cleanly).
            if view.status == .offline, let lobbies { Task { await lobbies.ownerGone(view.userID) } }
        case .relationship(let user, let other, let state): hub.relationship(user: user, other: other, state: state)
        case .revoke(let user, let session):
            let gone = hub.revoke(userID: user, sessionID: session)
            if !gone.isEmpty { Task { await letGo(gone) } }
        case .claim(let token, let user, let session, let replyTo, let claim):
            var parked = hub.unpark(token: token, userID: user, sessionID: session)
            if let missed = parked, missed.frames.count > hub.sendQueueMax {
                Task { await letGo([missed]) }
                parked = nil
            }
            send(.claimed(claim: claim, socket: parked?.socketID, frames: parked?.frames ?? []), to: [replyTo])
        case .claimed(let claim, let socket, let frames):
            let waiting = claims.withLock { $0.removeValue(forKey: claim) }
            waiting?.resume(returning: socket.map { Resumed(socketID: $0, frames: frames, from: node) })
        }
    }

    // MARK: - Following the cluster

    /// Follows the cluster until the node shuts down; a graceful shutdown ends it normally (a
    /// service that throws would make the node exit 1).
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                var ticks = 0
                while !Task.isCancelled {
                    try await Task.sleep(for: self.tick)
                    ticks += 1
                    await self.follow(expire: ticks % 5 == 0)
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// One look at the cluster: what changed since the last one is acted on.
    func follow(expire: Bool) async {
        let now = peers.topology()
        let previous = watch.withLock { watch -> RealtimePeers.Topology? in
            defer { watch.topology = now }
            return watch.topology
        }
        if let previous, previous != now { noticed(previous, now) }
        guard let presence else { return }
        let lost =
            previous.map { previous in
                previous.members.filter { now.members[$0.key] != $0.value }.keys.sorted()
            } ?? []
        for node in lost {
            for answer in await presence.nodeLost(node, logger: logger) { publish(answer) }
        }
        if expire {
            for answer in await presence.expire(now: Date().timeIntervalSince1970, logger: logger) { publish(answer) }
        }
        await letGo(hub.expireParked())
        await tellOwners(presence)
    }

    /// Who must hear of what after a change from `previous` to `now`.
    private func noticed(_ previous: RealtimePeers.Topology, _ now: RealtimePeers.Topology) {
        let lost = Set(previous.members.filter { now.members[$0.key] != $0.value }.keys)
        let key = { (user: String) in PresenceKind.key(user) }
        // Whose owner is not what it was (or was restarted): announced again.
        let moved = { (user: String) in
            let owner = previous.owner(of: key(user))
            return owner != now.owner(of: key(user)) || owner.map(lost.contains) ?? false
        }
        let here = Set(hub.sockets().keys).union(hub.parkedSockets().keys).filter(moved)
        var suspects: [String: Presence.View] = [:]
        if !lost.isEmpty {
            for (user, seen) in hub.watched() where !seen.nodes.isEmpty && lost.isSuperset(of: seen.nodes) {
                guard let owner = previous.owner(of: key(user)), lost.contains(owner) else { continue }
                guard seen.view.status != .offline, seen.view.status != .reconnecting else { continue }
                suspects[user] = seen.view
            }
        }
        watch.withLock { watch in
            watch.unannounced.formUnion(here)
            watch.suspects.merge(suspects) { _, new in new }
        }
    }

    /// Announces the users whose owner must hear of their sockets here, and reports the watched
    /// users whose owner and nodes were lost; what fails is tried again next time.
    private func tellOwners(_ presence: PresenceService) async {
        let (unannounced, suspects) = watch.withLock { watch in
            defer {
                watch.unannounced = []
                watch.suspects = [:]
            }
            return (watch.unannounced, watch.suspects)
        }
        guard !unannounced.isEmpty || !suspects.isEmpty else { return }
        let sockets = hub.sockets()
        let parked = hub.parkedSockets()
        let hub = hub
        let work: [(String, Presence.View?)] =
            unannounced.sorted().map { ($0, nil) } + suspects.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var failed: [(String, Presence.View?)] = []
        await withTaskGroup(of: (String, Presence.View?, PresenceService.Answer?).self) { group in
            var next = work.makeIterator()
            func add() {
                guard let (user, suspect) = next.next() else { return }
                group.addTask {
                    do {
                        if let suspect { return (user, suspect, try await presence.suspect(user, seen: suspect)) }
                        let answer = try await presence.announce(
                            user,
                            sockets: sockets[user] ?? [],
                            parked: parked[user] ?? [],
                            as: hub.lastSeen(user)?.view
                        )
                        return (user, nil, answer)
                    } catch {
                        return (user, suspect, nil)
                    }
                }
            }
            for _ in 0..<Self.announcementsInFlight { add() }
            for await (user, suspect, answer) in group {
                if let answer { publish(answer) } else { failed.append((user, suspect)) }
                add()
            }
        }
        guard !failed.isEmpty else { return }
        watch.withLock { watch in
            for (user, suspect) in failed {
                if let suspect { watch.suspects[user] = suspect } else { watch.unannounced.insert(user) }
            }
        }
    }
}

struct FriendPushBody: Encodable {
    let userId: String
    let state: String
}
