import ClusterCore
import Foundation
import GameDomain
import HTTPTypes
import Hummingbird
import PlatformServices

/// `/v1/matchmaking`: queue a ticket (alone, as a party's lobby, or for a started lobby's open
/// seats), read or cancel it, read a queue's figures. Players in a match hear `match_found`
/// over the real-time edge, already members of the match's lobby.
public struct MatchmakingController: Sendable {
    typealias Context = PlumeRequestContext
    let matchmaking: MatchmakingService
    let accounts: AccountService
    let throttle: AuthThrottle

    public func addRoutes(to v1: RouterGroup<PlumeRequestContext>) {
        v1.group("matchmaking").signedIn(accounts: accounts, throttle: throttle)
            .post("tickets", use: enqueue)
            .get("tickets/:id", use: ticket)
            .delete("tickets/:id", use: cancel)
            .get("queues/:queue", use: queue)
    }

    struct TicketRequest: Decodable, StrictMembers {
        enum CodingKeys: String, CodingKey {
            case queue, skill, countMin, countMax, countMultiple, teams, latencyMs, tags, partyLobbyId, backfillLobbyId
        }
        let request: MatchmakingService.Request

        init(from decoder: any Decoder) throws {
            try Self.refuseUnknownMembers(decoder)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            request = MatchmakingService.Request(
                queue: try c.decode(String.self, forKey: .queue),
                skill: try c.decodeIfPresent(Double.self, forKey: .skill) ?? 0,
                countMin: try c.decode(Int.self, forKey: .countMin),
                countMax: try c.decode(Int.self, forKey: .countMax),
                countMultiple: try c.decodeIfPresent(Int.self, forKey: .countMultiple) ?? 1,
                teams: try c.decodeIfPresent(Int.self, forKey: .teams) ?? 1,
                latencies: try c.decodeIfPresent([String: Double].self, forKey: .latencyMs) ?? [:],
                tags: try c.decodeIfPresent([String].self, forKey: .tags) ?? [],
                partyLobbyID: try c.decodeIfPresent(String.self, forKey: .partyLobbyId),
                backfillLobbyID: try c.decodeIfPresent(String.self, forKey: .backfillLobbyId)
            )
        }
    }

    @Sendable func enqueue(_ request: Request, context: Context) async throws -> EditedResponse<TicketEnvelope> {
        let caller = try context.requireIdentity()
        let body = try await request.decode(as: TicketRequest.self, context: context)
        let key = request.headers[.idempotencyKey]
        let outcome = try await APIError.mapped(context) {
            try await matchmaking.enqueue(caller.userID, body.request, idempotencyKey: key)
        }
        return EditedResponse(
            status: .created,
            response: TicketEnvelope(ticket: TicketBody(outcome, for: caller.userID))
        )
    }

    @Sendable func ticket(_ request: Request, context: Context) async throws -> TicketEnvelope {
        let caller = try context.requireIdentity()
        let id = try context.parameters.require("id")
        let outcome = try await APIError.mapped(context) { try await matchmaking.ticket(caller.userID, id) }
        return TicketEnvelope(ticket: TicketBody(outcome, for: caller.userID))
    }

    @Sendable func cancel(_ request: Request, context: Context) async throws -> HTTPResponse.Status {
        let caller = try context.requireIdentity()
        let id = try context.parameters.require("id")
        try await APIError.mapped(context) { try await matchmaking.cancel(caller.userID, id) }
        return .noContent
    }

    @Sendable func queue(_ request: Request, context: Context) async throws -> QueueBody {
        _ = try context.requireIdentity()
        let queue = try context.parameters.require("queue")
        let stats = try await APIError.mapped(context) { try await matchmaking.stats(queue) }
        return QueueBody(
            queue: queue,
            waiting: stats.waiting,
            medianWaitMs: Int(stats.medianWaitMS.rounded()),
            p90WaitMs: Int(stats.p90WaitMS.rounded())
        )
    }
}

// MARK: - JSON

/// A ticket's match as a player sees it (and the push `match_found` without `ticket_id`).
struct TicketMatchBody: Encodable {
    let matchId: String
    let lobbyId: String
    let team: Int
    let players: [String]

    init(_ match: Matchmaker.Match, for player: String) {
        matchId = match.id
        lobbyId = match.backfillLobbyID ?? match.id
        team = match.team(of: player)
        players = match.players
    }
}

/// A ticket (T); `match` is null until it is matched.
struct TicketBody: Encodable {
    enum CodingKeys: String, CodingKey { case id, queue, status, createdAt, match }
    let id: String
    let queue: String
    let status: String
    let createdAt: String
    let match: TicketMatchBody?

    init(_ outcome: MatchQueue.Outcome, for player: String) {
        id = outcome.ticket.id
        queue = String(outcome.ticket.id[..<(outcome.ticket.id.lastIndex(of: ".") ?? outcome.ticket.id.endIndex)])
        status = outcome.status.rawValue
        createdAt = Timestamp.rfc3339(outcome.ticket.createdAt)
        match = outcome.match.map { TicketMatchBody($0, for: player) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(queue, forKey: .queue)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(match, forKey: .match)
    }
}

struct TicketEnvelope: ResponseEncodable {
    let ticket: TicketBody
}

struct QueueBody: ResponseEncodable {
    let queue: String
    let waiting: Int
    let medianWaitMs: Int
    let p90WaitMs: Int
}

/// The push `match_found`.
struct MatchFoundPush: Encodable {
    let ticketId: String
    let matchId: String
    let lobbyId: String
    let team: Int
    let players: [String]

    init(_ found: MatchmakingService.Found) {
        ticketId = found.ticketID
        matchId = found.match.id
        lobbyId = found.lobbyID
        team = found.match.team(of: found.player)
        players = found.match.players
    }
}

extension HTTPField.Name {
    /// A client's key for a request it may retry: the same key, the same ticket.
    static let idempotencyKey = Self("Idempotency-Key")!
}
