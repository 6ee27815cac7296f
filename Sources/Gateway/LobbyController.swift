import ClusterCore
import Foundation
import GameDomain
import Hummingbird
import PlatformServices

/// `/v1/lobbies`: create, read, join, leave, change, invite, kick, ban, hand over, start and
/// search lobbies. Every route needs a caller whose session is still open, and spends the
/// caller's writes like the other routes; members hear of every change over the real-time
/// edge (the push `lobby`).
public struct LobbyController: Sendable {
    typealias Context = PlumeRequestContext
    let lobbies: LobbyService
    let accounts: AccountService
    let throttle: AuthThrottle

    public func addRoutes(to v1: RouterGroup<PlumeRequestContext>) {
        v1.group("lobbies").signedIn(accounts: accounts, throttle: throttle)
            .post(use: create)
            .post("search", use: search)
            .get(":id", use: get)
            .patch(":id", use: update)
            .post(":id/join", use: join)
            .post(":id/leave", use: leave)
            .put(":id/members/me", use: setMember)
            .post(":id/kick", use: kick)
            .post(":id/ban", use: ban)
            .post(":id/invite", use: invite)
            .post(":id/owner", use: transfer)
            .post(":id/start", use: start)
    }

    // MARK: - Bodies

    struct CreateRequest: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey { case type, maxMembers, data, joinable }
        let type: Lobby.Visibility
        let maxMembers: Int
        let data: [String: String]?
        let joinable: Bool?

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try LobbyController.visibility(try container.decode(String.self, forKey: .type))
            maxMembers = try container.decode(Int.self, forKey: .maxMembers)
            data = try container.decodeIfPresent([String: String].self, forKey: .data)
            joinable = try container.decodeIfPresent(Bool.self, forKey: .joinable)
        }
    }

    struct UpdateRequest: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey { case data, type, joinable, maxMembers }
        let data: [String: String]?
        let type: Lobby.Visibility?
        let joinable: Bool?
        let maxMembers: Int?

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            data = try container.decodeIfPresent([String: String].self, forKey: .data)
            type = try container.decodeIfPresent(String.self, forKey: .type).map(LobbyController.visibility)
            joinable = try container.decodeIfPresent(Bool.self, forKey: .joinable)
            maxMembers = try container.decodeIfPresent(Int.self, forKey: .maxMembers)
        }
    }

    struct MemberRequest: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey { case data, ready }
        let data: [String: String]?
        let ready: Bool?

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            data = try container.decodeIfPresent([String: String].self, forKey: .data)
            ready = try container.decodeIfPresent(Bool.self, forKey: .ready)
        }
    }

    struct UserRequest: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey { case userId }
        let userId: String

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            userId = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .userId)
        }
    }

    struct StartRequest: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey { case force }
        let force: Bool

        init(force: Bool = false) { self.force = force }

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            force = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Bool.self, forKey: .force) ?? false
        }
    }

    struct SearchRequest: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey { case filters, near, slotsAvailable, limit }

        struct Filter: Decodable {
            enum CodingKeys: String, CodingKey { case key, op, value }
            let filter: Lobby.Query.Filter

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                guard let op = Lobby.Query.Operator(rawValue: try container.decode(String.self, forKey: .op)) else {
                    throw APIError(
                        .unprocessableContent,
                        code: "invalid_filters",
                        message: "op must be one of eq, ne, lt, le, gt, ge"
                    )
                }
                let value: Lobby.Query.Value
                if let number = try? container.decode(Double.self, forKey: .value) {
                    value = .number(number)
                } else if let text = try? container.decode(String.self, forKey: .value) {
                    value = .string(text)
                } else {
                    throw APIError(
                        .unprocessableContent,
                        code: "invalid_filters",
                        message: "a filter's value must be a string or a number"
                    )
                }
                filter = Lobby.Query.Filter(key: try container.decode(String.self, forKey: .key), op: op, value: value)
            }
        }

        struct Near: Decodable {
            let key: String
            let value: Double
        }

        let query: Lobby.Query

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let filters = try container.decodeIfPresent([Filter].self, forKey: .filters)?.map(\.filter) ?? []
            guard filters.count <= 32 else {
                throw APIError(.unprocessableContent, code: "invalid_filters", message: "at most 32 filters")
            }
            let near = try container.decodeIfPresent(Near.self, forKey: .near)
            let slots = try container.decodeIfPresent(Int.self, forKey: .slotsAvailable) ?? 1
            guard (1...Lobby.membersRange.upperBound).contains(slots) else {
                throw APIError(
                    .unprocessableContent,
                    code: "invalid_slots_available",
                    message: "slots_available must be 1 to \(Lobby.membersRange.upperBound)"
                )
            }
            let limit = try container.decodeIfPresent(Int.self, forKey: .limit) ?? Lobby.Query.limitMax
            guard (1...Lobby.Query.limitMax).contains(limit) else {
                throw APIError(
                    .unprocessableContent,
                    code: "invalid_limit",
                    message: "limit must be 1 to \(Lobby.Query.limitMax)"
                )
            }
            query = Lobby.Query(
                filters: filters,
                near: near.map { ($0.key, $0.value) },
                slotsAvailable: slots,
                limit: limit
            )
        }
    }

    static func visibility(_ text: String) throws -> Lobby.Visibility {
        guard let visibility = Lobby.Visibility(rawValue: text) else {
            throw APIError(
                .unprocessableContent,
                code: "invalid_type",
                message: "type must be one of " + Lobby.Visibility.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        return visibility
    }

    // MARK: - Routes

    @Sendable func create(_ request: Request, context: Context) async throws -> EditedResponse<LobbyEnvelope> {
        let caller = try context.requireIdentity()
        let body = try await request.decode(as: CreateRequest.self, context: context)
        let lobby = try await APIError.mapped(context) {
            try await lobbies.create(
                caller.userID,
                visibility: body.type,
                maxMembers: body.maxMembers,
                data: body.data ?? [:],
                joinable: body.joinable ?? true
            )
        }
        return EditedResponse(status: .created, response: LobbyEnvelope(lobby))
    }

    @Sendable func get(_ request: Request, context: Context) async throws -> LobbyEnvelope {
        let caller = try context.requireIdentity()
        let id = try context.parameters.require("id")
        return LobbyEnvelope(try await APIError.mapped(context) { try await lobbies.get(caller.userID, id) })
    }

    @Sendable func join(_ request: Request, context: Context) async throws -> LobbyEnvelope {
        let caller = try context.requireIdentity()
        let id = try context.parameters.require("id")
        return LobbyEnvelope(try await APIError.mapped(context) { try await lobbies.join(caller.userID, id) })
    }

    @Sendable func leave(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let caller = try context.requireIdentity()
        let id = try context.parameters.require("id")
        try await APIError.mapped(context) { try await lobbies.leave(caller.userID, id) }
        return .noContent
    }

    @Sendable func update(_ request: Request, context: Context) async throws -> LobbyEnvelope {
        let caller = try context.requireIdentity()
        let id = try context.parameters.require("id")
        let body = try await request.decode(as: UpdateRequest.self, context: context)
        return LobbyEnvelope(
            try await APIError.mapped(context) {
                try await lobbies.update(
                    caller.userID,
                    id,
                    data: body.data,
                    visibility: body.type,
                    joinable: body.joinable,
                    maxMembers: body.maxMembers
                )
            }
        )
    }

    @Sendable func setMember(_ request: Request, context: Context) async throws -> LobbyEnvelope {
        let caller = try context.requireIdentity()
        let id = try context.parameters.require("id")
        let body = try await request.decode(as: MemberRequest.self, context: context)
        return LobbyEnvelope(
            try await APIError.mapped(context) {
                try await lobbies.setMember(caller.userID, id, data: body.data, isReady: body.ready)
            }
        )
    }

    @Sendable func kick(_ request: Request, context: Context) async throws -> LobbyEnvelope {
        try await act(request, context) { caller, id, user in try await lobbies.kick(caller, id, user: user) }
    }

    @Sendable func ban(_ request: Request, context: Context) async throws -> LobbyEnvelope {
        try await act(request, context) { caller, id, user in try await lobbies.ban(caller, id, user: user) }
    }

    @Sendable func invite(_ request: Request, context: Context) async throws -> LobbyEnvelope {
        try await act(request, context) { caller, id, user in try await lobbies.invite(caller, id, user: user) }
    }

    @Sendable func transfer(_ request: Request, context: Context) async throws -> LobbyEnvelope {
        try await act(request, context) { caller, id, user in try await lobbies.transfer(caller, id, to: user) }
    }

    /// An owner's action on the user a `{"user_id"}` body names.
    private func act(
        _ request: Request,
        _ context: Context,
        _ body: (String, String, String) async throws -> Lobby.State
    ) async throws -> LobbyEnvelope {
        let caller = try context.requireIdentity()
        let id = try context.parameters.require("id")
        let user = try await request.decode(as: UserRequest.self, context: context).userId
        return LobbyEnvelope(try await APIError.mapped(context) { try await body(caller.userID, id, user) })
    }

    @Sendable func start(_ request: Request, context: Context) async throws -> StartedBody {
        let caller = try context.requireIdentity()
        let id = try context.parameters.require("id")
        // The body is optional: none (or `{}`) starts once every member is ready.
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        var body = StartRequest()
        if buffer.readableBytes > 0 {
            do {
                body = try BodyCoding.decoder.decode(StartRequest.self, from: buffer)
            } catch let error as DecodingError {
                throw BodyDecoder.apiError(error)
            }
        }
        let started = try await APIError.mapped(context) {
            try await lobbies.start(caller.userID, id, force: body.force)
        }
        return StartedBody(
            lobby: LobbyBody(started.lobby),
            gameServer: GameServerBody(address: started.gameServer, token: started.token)
        )
    }

    @Sendable func search(_ request: Request, context: Context) async throws -> SearchBody {
        _ = try context.requireIdentity()
        let body = try await request.decode(as: SearchRequest.self, context: context)
        let found = try await APIError.mapped(context) { try await lobbies.search(body.query) }
        return SearchBody(lobbies: found.lobbies.map(LobbyBody.init), total: found.total)
    }
}

// MARK: - JSON

/// A lobby (L).
struct LobbyBody: Encodable {
    struct Member: Encodable {
        let userId: String
        let data: [String: String]
        let ready: Bool
    }

    let id: String
    let type: String
    let ownerId: String
    let maxMembers: Int
    let joinable: Bool
    let data: [String: String]
    let members: [Member]
    let version: UInt64
    let createdAt: String

    init(_ lobby: Lobby.State) {
        id = lobby.id
        type = lobby.visibility.rawValue
        ownerId = lobby.ownerID
        maxMembers = lobby.maxMembers
        joinable = lobby.isJoinable
        data = lobby.data
        members = lobby.members.map { Member(userId: $0.userID, data: $0.data, ready: $0.isReady) }
        version = lobby.version
        createdAt = Timestamp.rfc3339(lobby.createdAt)
    }
}

struct LobbyEnvelope: ResponseEncodable {
    let lobby: LobbyBody

    init(_ lobby: Lobby.State) { self.lobby = LobbyBody(lobby) }
}

/// The push `lobby`.
struct LobbyPush: Encodable {
    let lobby: LobbyBody
    let change: String
}

struct GameServerBody: Encodable {
    let address: String
    let token: String
}

struct StartedBody: ResponseEncodable {
    let lobby: LobbyBody
    let gameServer: GameServerBody
}

struct SearchBody: ResponseEncodable {
    let lobbies: [LobbyBody]
    let total: Int
}

/// The push `lobby_invite`: the lobby, who invited, and until when the seat is held.
struct LobbyInvitePush: Encodable {
    let lobbyId: String
    let from: String
    let heldUntil: String
}

/// The push `lobby_chat` (and the answer to the op `lobby.chat`).
struct LobbyChatPush: Encodable {
    let lobbyId: String
    let from: String
    let text: String
    let sentAt: String
}
