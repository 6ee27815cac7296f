import EntityRuntime
import Foundation
import GameDomain
import Logging
import PlatformServices
import Synchronization
import Testing

@testable import Gateway

/// What a node's sockets get of the deliveries the relay carries: presence only for the user and
/// their friends here (invisible shown as offline to friends, the same change never twice), the
/// friend list following relationship changes, and batches between nodes.
@Suite struct RealtimeRelayTests {
    static func frames(of connection: RealtimeHub.Connection) async -> [[String: Any]] {
        connection.finish()
        var frames: [[String: Any]] = []
        for await frame in connection.frames {
            if let object = try? JSONSerialization.jsonObject(with: Data(frame.utf8)) as? [String: Any] {
                frames.append(object)
            }
        }
        return frames
    }

    static func presence(_ frames: [[String: Any]]) -> [String] {
        frames.compactMap { frame in
            guard frame["push"] as? String == "presence", let data = frame["data"] as? [String: Any] else { return nil }
            return "\(data["user_id"]!):\(data["status"]!)"
        }
    }

    @Test func presenceReachesTheUserAndTheirFriendsHereOnly() async {
        let hub = RealtimeHub(sendQueueMax: 64, logger: Logger(label: "test"))
        let ann = hub.open(id: "s1", userID: "ann", sessionID: "x") {}
        let bob = hub.open(id: "s2", userID: "bob", sessionID: "y") {}
        let cid = hub.open(id: "s3", userID: "cid", sessionID: "z") {}
        hub.watch("ann", friends: ["bob"])
        hub.watch("bob", friends: ["ann"])
        hub.deliver(presence: Presence.View(userID: "bob", status: .away, updatedAt: 1), nodes: ["n1"])
        // The same change again (a new owner's echo) is not pushed twice.
        hub.deliver(presence: Presence.View(userID: "bob", status: .away, updatedAt: 1), nodes: ["n1"])
        hub.deliver(presence: Presence.View(userID: "bob", status: .invisible, updatedAt: 2), nodes: ["n1"])
        // Bob unfriends ann: her socket is told, and sees no more of him.
        hub.relationship(user: "ann", other: "bob", state: "none")
        hub.deliver(presence: Presence.View(userID: "bob", status: .busy, updatedAt: 3), nodes: ["n1"])
        let annFrames = await Self.frames(of: ann)
        #expect(Self.presence(annFrames) == ["bob:away", "bob:offline"])
        #expect(annFrames.contains { $0["push"] as? String == "friend" })
        #expect(Self.presence(await Self.frames(of: bob)) == ["bob:away", "bob:invisible", "bob:busy"])
        #expect(Self.presence(await Self.frames(of: cid)).isEmpty, "a stranger sees nothing")
    }

    @Test func deliveriesCrossToTheNodeThatHoldsTheSockets() async throws {
        let accounts = await AccountService(tokenSecret: "relay", entities: Entities(NeverTransport()))
        let social = SocialService(entities: Entities(NeverTransport()), accounts: accounts)
        let relays = Mutex<[String: RealtimeRelay]>([:])
        let frames = Mutex(0)
        func relay(_ me: String) -> RealtimeRelay {
            RealtimeRelay(
                social: social,
                presence: nil,
                peers: RealtimePeers(
                    me: me,
                    topology: { .init(members: ["n1": 1, "n2": 1], primaries: []) },
                    send: { bytes, node in
                        frames.withLock { $0 += 1 }
                        guard let target = relays.withLock({ $0[node] }) else { return false }
                        target.receive(bytes, from: me)
                        return true
                    }
                ),
                settings: .init(),
                logger: Logger(label: "test")
            )
        }
        let (n1, n2) = (relay("n1"), relay("n2"))
        relays.withLock { $0 = ["n1": n1, "n2": n2] }
        let held = n2.hub.open(id: "s1", userID: "ann", sessionID: "x") {}
        for index in 0..<100 {
            n1.send(.push(users: ["ann"], frame: #"{"push":"test","data":{"n":\#(index)}}"#), to: ["n2"])
        }
        n1.send(.revoke(user: "ann", session: "x"), to: ["n2"])
        try await Task.sleep(for: .milliseconds(200))
        let got = await Self.frames(of: held)
        #expect(got.count == 101 && got.last?["push"] as? String == "session_revoked")
        #expect(held.closeReason?.code == 4001)
        #expect(frames.withLock { $0 } <= 3, "101 deliveries leave in a few frames, not one each")
        // Garbage from a peer is dropped, not delivered.
        n2.receive([0xFF, 0x01, 0x02], from: "n1")
    }
}
