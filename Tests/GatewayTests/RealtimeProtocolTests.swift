import Foundation
import GameDomain
import Testing

@testable import Gateway

/// The WebSocket frames without a socket: what parses as a request, what is refused with which
/// code, and that replies echo the request's id as it came.
@Suite struct RealtimeProtocolTests {
    func refusal(_ text: String) -> RealtimeProtocol.Refusal? {
        if case .failure(let refusal) = RealtimeProtocol.parse(text) { return refusal }
        return nil
    }

    /// The hand-written presence push and string escapes are the JSON the edge's coder writes.
    @Test func theDirectPresencePushIsTheCodersJSON() throws {
        let views = [
            Presence.View(userID: "u1", status: .offline, updatedAt: nil),
            Presence.View(
                userID: "u\"2",
                status: .lookingToPlay,
                rich: ["map": "dust2", "quote": "say \"gg\"\\n", "tab\t": "é 🎮 \u{1}/x", "connect": "+join 7"],
                updatedAt: 1_764_740_469.25
            ),
        ]
        for view in views {
            let direct = try JSONSerialization.jsonObject(with: Data(RealtimeProtocol.presencePush(view).utf8))
            let coded = try JSONSerialization.jsonObject(
                with: Data(RealtimeProtocol.push("presence", data: PresenceBody(view)).utf8)
            )
            #expect((direct as? NSDictionary) == (coded as? NSDictionary), "\(view)")
        }
        for text in ["plain", "quote \" and \\", "ctl \u{0}\u{1f}\u{08}\u{0C}\n\r\t", "é/🎮"] {
            let decoded = try JSONSerialization.jsonObject(
                with: Data(RealtimeProtocol.quoted(text).utf8),
                options: .fragmentsAllowed
            )
            #expect(decoded as? String == text)
        }
    }

    @Test func aRequestParsesWithItsIdAsItCame() throws {
        guard case .success(let request) = RealtimeProtocol.parse(#"{"op":"ping","id":7}"#) else {
            Issue.record("a ping did not parse")
            return
        }
        #expect(request.op == "ping" && request.id == .number("7"))
        #expect(String(decoding: request.data, as: UTF8.self) == "{}")
        guard case .success(let named) = RealtimeProtocol.parse(#"{"op":"chat.send","id":"m1","data":{"to":"u2"}}"#)
        else {
            Issue.record("a request with data did not parse")
            return
        }
        #expect(named.id == .string("m1"))
        #expect(RealtimeProtocol.reply(id: named.id, data: EmptyBody()) == #"{"id":"m1","ok":true,"data":{}}"#)
        #expect(RealtimeProtocol.reply(id: request.id, data: EmptyBody()) == #"{"id":7,"ok":true,"data":{}}"#)
    }

    @Test func framesThatAreNotRequestsAreRefusedWithTheirCode() {
        for text in ["not json", "[1,2]", "\"ping\"", #"{"id":1}"#, #"{"op":1,"id":1}"#, #"{"op":"ping","id":true}"#] {
            #expect(refusal(text)?.code == "malformed_frame", "\(text)")
        }
        #expect(refusal(#"{"id":1}"#)?.id == .number("1"), "the id is echoed when there is one")
        #expect(
            refusal("not json")?.frame.hasPrefix(#"{"id":null,"ok":false,"error":{"code":"malformed_frame""#) == true
        )
        #expect(refusal(#"{"op":"ping","id":2,"data":[1]}"#)?.code == "invalid_data")
    }

    @Test func opDataOfTheWrongShapeNamesTheField() throws {
        guard
            case .success(let request) = RealtimeProtocol.parse(
                #"{"op":"presence.get","id":1,"data":{"user_ids":"me"}}"#
            )
        else {
            Issue.record("did not parse")
            return
        }
        #expect(throws: RealtimeProtocol.Refusal.self) {
            _ = try RealtimeProtocol.decode(RealtimeSession.PresenceGet.self, request)
        }
        do {
            _ = try RealtimeProtocol.decode(RealtimeSession.PresenceGet.self, request)
        } catch {
            #expect(error.code == "invalid_user_ids")
        }
    }

    @Test func pushesAndErrorsAreJSON() throws {
        let push = RealtimeProtocol.push("session_revoked", data: EmptyBody())
        #expect(push == #"{"push":"session_revoked","data":{}}"#)
        let error = RealtimeProtocol.error(id: .null, code: "unknown_op", message: "no op \"x\"")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(error.utf8)) as? [String: Any])
        #expect((parsed["error"] as? [String: String])?["message"] == "no op \"x\"")
    }
}
