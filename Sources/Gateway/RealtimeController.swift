import ClusterCore
import Foundation
import GameDomain
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import PlatformServices
import Synchronization

/// `GET /v1/ws`: the real-time edge. A client upgrades with its access token
/// (`Authorization: Bearer …` or `?token=…`); a missing or bad token, or a session that ended,
/// gets 401 before the upgrade. The first frame is the push `welcome`; then requests and their
/// replies, and pushes, per ``RealtimeProtocol``.
///
/// Ops: `ping`, `presence.set`, `presence.get`, `chat.send`, `chat.history`. Pushes: `welcome`,
/// `presence`, `chat_message`, `friend`, `notification`, `session_revoked` (then close 4001),
/// carried to whatever node holds the sockets by the ``RealtimeRelay``.
public struct RealtimeController: Sendable {
    let accounts: AccountService
    let social: SocialService
    let chat: ChatThrottle
    let relay: RealtimeRelay
    let settings: RealtimeSettings
    let nodeID: String

    init(
        accounts: AccountService,
        social: SocialService,
        chat: ChatThrottle,
        relay: RealtimeRelay,
        settings: RealtimeSettings,
        nodeID: String
    ) {
        self.accounts = accounts
        self.social = social
        self.chat = chat
        self.relay = relay
        self.settings = settings
        self.nodeID = nodeID
    }

    /// The router the WebSocket upgrade is tried against.
    func webSocketRouter() -> Router<WebSocketRequestContextWithChannel> {
        let router = Router(context: WebSocketRequestContextWithChannel.self)
        router.ws(
            "v1/ws",
            shouldUpgrade: { request, context in
                // The caller is checked once, and handed to the socket through the context.
                do {
                    let caller = try await caller(of: request)
                    let resume = request.uri.queryParameters["resume"].map(String.init)
                    context.caller.value.withLock { $0 = (caller, resume) }
                    return .upgrade([:])
                } catch let error as APIError {
                    await Self.refuseUpgrade(error, on: context.channel)
                    throw error
                }
            },
            onUpgrade: { inbound, outbound, context in
                guard let (caller, resume) = context.requestContext.caller.value.withLock({ $0 }) else { return }
                try await serve(
                    caller,
                    resume: resume,
                    inbound: inbound,
                    outbound: outbound,
                    channel: context.requestContext.channel,
                    logger: context.logger
                )
            }
        )
        return router
    }

    /// Answers a refused upgrade with the refusal's own status and JSON body (401 for a missing or
    /// bad token), then closes the connection. hummingbird-websocket answers every refused upgrade
    /// with a bare 400 once `shouldUpgrade` fails; written first, this response is the one the
    /// client reads, and the library's finds the connection closed.
    static func refuseUpgrade(_ error: APIError, on channel: any Channel) async {
        let body =
            (try? BodyCoding.encoder.encode(APIError.Body(error: .init(code: error.code, message: error.message))))
            ?? Data()
        var head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: Int(error.status.code)))
        head.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        head.headers.add(name: "Content-Length", value: "\(body.count)")
        head.headers.add(name: "Connection", value: "close")
        if error.status == .unauthorized { head.headers.add(name: "WWW-Authenticate", value: "Bearer") }
        channel.write(HTTPServerResponsePart.head(head), promise: nil)
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil)
        try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
        try? await channel.close().get()
    }

    /// `GET /v1/ws` without an upgrade: 401 for a missing or bad token, else 426.
    func addRoutes(to v1: RouterGroup<PlumeRequestContext>) {
        v1.get("ws") { request, _ -> Response in
            _ = try await caller(of: request)
            throw APIError(
                HTTPResponse.Status(code: 426, reasonPhrase: "Upgrade Required"),
                code: "upgrade_required",
                message: "GET /v1/ws is a WebSocket: send Connection: Upgrade and Upgrade: websocket"
            )
        }
    }

    /// Who the request's token speaks for, if its session is still open; 401 otherwise.
    func caller(of request: Request) async throws -> AccountService.Caller {
        let token =
            request.headers[.authorization].flatMap(BearerAuthenticator.bearerToken)
            ?? request.uri.queryParameters["token"].map(String.init)
        guard let token, !token.isEmpty else {
            throw APIError(.unauthorized, code: "unauthorized", message: "missing bearer access token")
        }
        do {
            let caller = try await accounts.authenticate(accessToken: token)
            _ = try await accounts.me(caller)
            return caller
        } catch {
            throw APIError(error)
        }
    }

    func serve(
        _ caller: AccountService.Caller,
        resume: String?,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        channel: any Channel,
        logger: Logger
    ) async throws {
        // A resume within the grace window restores the socket (its id) and what it missed;
        // otherwise this is a new one.
        let resumed: RealtimeRelay.Resumed? =
            if let resume, !resume.isEmpty {
                await relay.resume(token: resume, userID: caller.userID, sessionID: caller.sessionID)
            } else { nil }
        let socketID = resumed?.socketID ?? UUID().uuidString.lowercased()
        let closeFrames = await CloseFrameWatch.install(on: channel, logger: logger)
        let resumeToken = relay.newResumeToken()
        // A client that stopped reading blocks the writer: its connection is closed under it.
        let connection = relay.hub.open(id: socketID, userID: caller.userID, sessionID: caller.sessionID) {
            channel.close(promise: nil)
        }
        connection.send(
            RealtimeProtocol.push(
                "welcome",
                data: WelcomeBody(
                    sessionId: socketID,
                    resumeToken: resumeToken,
                    node: nodeID,
                    heartbeatMs: Int(settings.heartbeat.components.seconds * 1000)
                        + Int(settings.heartbeat.components.attoseconds / 1_000_000_000_000_000)
                )
            )
        )
        for frame in resumed?.frames ?? [] { connection.send(frame) }
        // Registered with the user's presence owner once the welcome is queued (their own
        // presence push comes after it).
        await relay.opened(connection, resumedFrom: resumed?.from)
        do {
            try await exchange(connection, caller: caller, inbound: inbound, outbound: outbound)
        } catch {
            await relay.closed(connection, parkAs: nil)
            throw error
        }
        // A stream that ended without the client's close frame (reset, no pong, gone): the
        // connection dropped, and the socket is parked for a resume.
        let dropped = closeFrames.map { !$0.seen } ?? false && connection.closeReason == nil
        await relay.closed(connection, parkAs: dropped ? resumeToken : nil)
    }

    /// The socket's frames both ways until it closes.
    private func exchange(
        _ connection: RealtimeHub.Connection,
        caller: AccountService.Caller,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter
    ) async throws {
        let session = RealtimeSession(caller: caller, social: social, chat: chat, relay: relay)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The writer: the connection's queue, in order; then the close the server chose.
            group.addTask {
                for await frame in connection.frames { try await outbound.write(.text(frame)) }
                if let close = connection.closeReason {
                    try await outbound.close(.unknown(close.code), reason: close.reason)
                }
            }
            do {
                for try await message in inbound.messages(maxSize: settings.maxFrameBytes) {
                    switch message {
                    case .text(let text): connection.send(await session.handle(text))
                    case .binary:
                        connection.send(
                            RealtimeProtocol.error(
                                id: .null,
                                code: "malformed_frame",
                                message: "frames are JSON text, not binary"
                            )
                        )
                    }
                }
            } catch {
                // Past max_frame_bytes (or a protocol error): the socket closes with its code (1009).
                group.cancelAll()
                throw error
            }
            connection.finish()
            try await group.next()
        }
    }
}

/// One socket's requests, decided in order.
struct RealtimeSession: Sendable {
    let caller: AccountService.Caller
    let social: SocialService
    let chat: ChatThrottle
    let relay: RealtimeRelay

    /// At most this many users per `presence.get`.
    static let presenceIDsMax = 100

    /// The reply to one text frame.
    func handle(_ text: String) async -> String {
        switch RealtimeProtocol.parse(text) {
        case .failure(let refusal): return refusal.frame
        case .success(let request):
            do {
                return try await run(request)
            } catch let refusal as RealtimeProtocol.Refusal {
                return refusal.frame
            } catch let error as APIError {
                return RealtimeProtocol.error(id: request.id, code: error.code, message: error.message)
            } catch let failure as ServiceFailure {
                let error = APIError(failure)
                return RealtimeProtocol.error(id: request.id, code: error.code, message: error.message)
            } catch {
                return RealtimeProtocol.error(id: request.id, code: "internal_error", message: "the op failed")
            }
        }
    }

    /// A lobby chat message's text, in UTF-8 bytes.
    static let lobbyChatBytesMax = 4096

    struct LobbyChat: Decodable {
        let lobbyId: String
        let text: String
    }

    struct ChatSend: Decodable {
        let to: String
        let text: String
    }

    struct ChatHistory: Decodable {
        let with: String
        let before: Cursor?
        let limit: Int?
    }

    struct PresenceGet: Decodable {
        let userIds: [String]
    }

    struct PresenceSet: Decodable {
        let status: String
        let rich: [String: String]?
    }

    /// A cursor as the API gives it (a string), or as a number.
    struct Cursor: Decodable {
        let value: UInt64

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(UInt64.self) {
                value = number
            } else if let number = UInt64(try container.decode(String.self)) {
                value = number
            } else {
                throw APIError(
                    .unprocessableContent,
                    code: "invalid_before",
                    message: "before must be a cursor this API gave"
                )
            }
        }
    }

    private func run(_ request: RealtimeProtocol.Request) async throws -> String {
        switch request.op {
        case "ping":
            return RealtimeProtocol.reply(id: request.id, data: EmptyBody())
        case "chat.send":
            let body = try RealtimeProtocol.decode(ChatSend.self, request)
            try chat.admit(caller.userID)
            let message = try await social.send(caller.userID, to: body.to, text: body.text)
            let sent = MessageEnvelope(message: MessageBody(message))
            await relay.chatMessage(sent, between: [message.from, message.to])
            return RealtimeProtocol.reply(id: request.id, data: sent)
        case "lobby.chat":
            let body = try RealtimeProtocol.decode(LobbyChat.self, request)
            guard let lobbies = relay.lobbies else {
                throw RealtimeProtocol.Refusal(id: request.id, code: "unknown_op", message: "no lobbies on this node")
            }
            guard !body.text.isEmpty, body.text.utf8.count <= Self.lobbyChatBytesMax else {
                throw RealtimeProtocol.Refusal(
                    id: request.id,
                    code: "invalid_text",
                    message: "text must be 1 to \(Self.lobbyChatBytesMax) bytes"
                )
            }
            try chat.admit(caller.userID)
            let lobby = try await lobbies.get(caller.userID, body.lobbyId)
            guard lobby.isMember(caller.userID) else {
                throw RealtimeProtocol.Refusal(
                    id: request.id,
                    code: "not_member",
                    message: "not a member of this lobby"
                )
            }
            let sent = LobbyChatPush(
                lobbyId: lobby.id,
                from: caller.userID,
                text: body.text,
                sentAt: Timestamp.rfc3339(Date().timeIntervalSince1970)
            )
            await relay.lobbyChat(sent, to: lobby.members.map(\.userID))
            return RealtimeProtocol.reply(id: request.id, data: sent)
        case "presence.set":
            let body = try RealtimeProtocol.decode(PresenceSet.self, request)
            guard let status = Presence.Status(rawValue: body.status) else {
                throw RealtimeProtocol.Refusal(
                    id: request.id,
                    code: "invalid_status",
                    message: "status must be one of "
                        + Presence.Status.allCases.map(\.rawValue).joined(separator: ", ")
                )
            }
            let view = try await relay.setPresence(caller.userID, status: status, rich: body.rich)
            return RealtimeProtocol.reply(id: request.id, data: PresenceEnvelope(presence: PresenceBody(view)))
        case "chat.history":
            let body = try RealtimeProtocol.decode(ChatHistory.self, request)
            if let limit = body.limit, !(1...100).contains(limit) {
                throw RealtimeProtocol.Refusal(id: request.id, code: "invalid_limit", message: "limit must be 1 to 100")
            }
            let page = try await social.history(
                caller.userID,
                with: body.with,
                before: body.before?.value,
                limit: body.limit ?? 50
            )
            return RealtimeProtocol.reply(
                id: request.id,
                data: MessagesBody(
                    messages: page.messages.map(MessageBody.init),
                    nextCursor: page.next.map(String.init)
                )
            )
        case "presence.get":
            let body = try RealtimeProtocol.decode(PresenceGet.self, request)
            guard body.userIds.count <= Self.presenceIDsMax else {
                throw RealtimeProtocol.Refusal(
                    id: request.id,
                    code: "invalid_user_ids",
                    message: "at most \(Self.presenceIDsMax) user ids"
                )
            }
            var presences: [PresenceBody] = []
            for user in Set(body.userIds).sorted() {
                if let view = try await presence(of: user) { presences.append(PresenceBody(view)) }
            }
            return RealtimeProtocol.reply(id: request.id, data: PresencesBody(presences: presences))
        default:
            throw RealtimeProtocol.Refusal(id: request.id, code: "unknown_op", message: "no op \(request.op)")
        }
    }
}

extension RealtimeSession {
    /// A user's presence as the caller sees it: nil for anyone but the caller and their
    /// friends, and for what is not a user id at all.
    func presence(of user: String) async throws(ServiceFailure) -> Presence.View? {
        do {
            return try await social.presence(of: user, seenBy: caller.userID)
        } catch {
            if case .notFound = error.kind { return nil }
            throw error
        }
    }
}

/// The context of a WebSocket upgrade: Hummingbird's, plus the connection's channel (what a
/// slow consumer's connection is closed through).
struct WebSocketRequestContextWithChannel: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel
    /// Who the upgrade was checked for (set by `shouldUpgrade`, read by the socket's handler).
    let caller = CheckedCaller()

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
    }
}

/// Sees whether the client sent a close frame (a clean close) before its stream ended: what tells
/// a socket the client closed from one whose connection dropped. Sits in the WebSocket pipeline
/// right after the frame decoder and passes every frame on.
final class CloseFrameWatch: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    private let received = Mutex(false)
    var seen: Bool { received.withLock { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).opcode == .connectionClose { received.withLock { $0 = true } }
        context.fireChannelRead(data)
    }

    /// A watch added to the upgraded channel's pipeline; nil if it could not be (the channel
    /// closed already): the socket then counts as closed cleanly.
    static func install(on channel: any Channel, logger: Logger) async -> CloseFrameWatch? {
        let watch = CloseFrameWatch()
        do {
            try await channel.eventLoop.submit {
                let decoder = try channel.pipeline.syncOperations.context(
                    handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self
                )
                try channel.pipeline.syncOperations.addHandler(watch, position: .after(decoder.handler))
            }.get()
            return watch
        } catch {
            logger.debug("no close-frame watch on a socket", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

/// A box shared by the copies of one upgrade's context: the caller, and the resume token asked for.
final class CheckedCaller: Sendable {
    let value = Mutex<(AccountService.Caller, String?)?>(nil)
}

struct WelcomeBody: Encodable {
    let sessionId: String
    let resumeToken: String
    let node: String
    let heartbeatMs: Int
}

struct PresenceEnvelope: Encodable {
    let presence: PresenceBody
}

struct PresencesBody: Encodable {
    let presences: [PresenceBody]
}
