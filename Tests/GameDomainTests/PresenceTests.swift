import GameDomain
import Testing

@Suite struct PresenceTests {
    @Test func aFirstSocketShowsOnlineAndTheLastCleanCloseShowsOfflineAtOnce() {
        var table = Presence.Table(graceSeconds: 30)
        #expect(table.connect(user: "u1", node: "n1", socket: "s1", now: 10).map(\.status) == [.online])
        // A second device changes nothing others see.
        #expect(table.connect(user: "u1", node: "n2", socket: "s2", now: 11).isEmpty)
        #expect(table.disconnect(user: "u1", node: "n1", socket: "s1", now: 12).isEmpty)
        let gone = table.disconnect(user: "u1", node: "n2", socket: "s2", now: 13)
        #expect(gone == [Presence.View(userID: "u1", status: .offline, updatedAt: 13)])
        #expect(table.count == 0, "offline users are forgotten")
        #expect(table.view(of: "u1").status == .offline)
    }

    @Test func losingTheNodeOfTheLastSocketShowsReconnectingThenOfflineAfterTheGrace() {
        var table = Presence.Table(graceSeconds: 30)
        _ = table.connect(user: "u1", node: "n1", socket: "s1", now: 0)
        _ = table.connect(user: "u2", node: "n1", socket: "s2", now: 0)
        _ = table.connect(user: "u2", node: "n2", socket: "s3", now: 0)
        // u2 still has a socket elsewhere: nothing changes for them.
        #expect(table.nodeLost("n1", now: 5).map { [$0.userID, $0.status.rawValue] } == [["u1", "reconnecting"]])
        #expect(table.tick(now: 34).isEmpty)
        #expect(table.tick(now: 35) == [Presence.View(userID: "u1", status: .offline, updatedAt: 35)])
        #expect(table.view(of: "u2").status == .online)
    }

    @Test func reconnectingAnywhereWithinTheGraceNeverShowsOffline() throws {
        var table = Presence.Table(graceSeconds: 30)
        _ = table.connect(user: "u1", node: "n1", socket: "s1", now: 0)
        _ = try table.set(user: "u1", status: .away, rich: ["map": "dust2"], now: 1)
        _ = table.nodeLost("n1", now: 5)
        let back = table.connect(user: "u1", node: "n3", socket: "s9", now: 20)
        // Back as they were: the status and rich presence they set survive the reconnection.
        #expect(back == [Presence.View(userID: "u1", status: .away, rich: ["map": "dust2"], updatedAt: 20)])
        #expect(table.tick(now: 100).isEmpty, "never offline")
    }

    @Test func anEdgesAnnouncementReplacesWhatItHeld() {
        var table = Presence.Table(graceSeconds: 30)
        _ = table.connect(user: "u1", node: "n1", socket: "s1", now: 0)
        _ = table.connect(user: "u2", node: "n1", socket: "s2", now: 0)
        // A new owner starts empty: the edge's announcement brings everyone back.
        var fresh = Presence.Table(graceSeconds: 30)
        let announced = fresh.announce(node: "n1", sockets: ["u1": ["s1"], "u2": ["s2"]], now: 7)
        #expect(announced.map(\.userID) == ["u1", "u2"] && announced.allSatisfy { $0.status == .online })
        // An announcement that no longer lists u2, and lists a new socket of u1: u2 closed cleanly.
        let next = table.announce(node: "n1", sockets: ["u1": ["s1", "s4"]], now: 8)
        #expect(next == [Presence.View(userID: "u2", status: .offline, updatedAt: 8)])
        #expect(table.disconnect(user: "u1", node: "n1", socket: "s1", now: 9).isEmpty, "s4 is still open")
    }

    @Test func settingPresenceNeedsASocketAndRespectsTheRichLimits() throws {
        var table = Presence.Table(graceSeconds: 30)
        #expect(throws: Presence.Failure.self) { try table.set(user: "u1", status: .busy, rich: nil, now: 0) }
        _ = table.connect(user: "u1", node: "n1", socket: "s1", now: 0)
        let tooMany = Dictionary(uniqueKeysWithValues: (0...Presence.richKeysMax).map { ("k\($0)", "v") })
        #expect(throws: Presence.Failure.self) { try table.set(user: "u1", status: .busy, rich: tooMany, now: 1) }
        let longKey = [String(repeating: "k", count: Presence.richKeyCharactersMax + 1): "v"]
        #expect(throws: Presence.Failure.self) { try table.set(user: "u1", status: .busy, rich: longKey, now: 1) }
        let longValue = ["k": String(repeating: "é", count: Presence.richValueCharactersMax + 1)]
        #expect(throws: Presence.Failure.self) { try table.set(user: "u1", status: .busy, rich: longValue, now: 1) }
        #expect(table.view(of: "u1").status == .online, "a refused change changes nothing")
        let atLimit = Dictionary(uniqueKeysWithValues: (1...Presence.richKeysMax).map { ("k\($0)", "v") })
        #expect(try table.set(user: "u1", status: .busy, rich: atLimit, now: 2).count == 1)
        // The same again is no change; a status alone keeps the rich presence.
        #expect(try table.set(user: "u1", status: .busy, rich: atLimit, now: 3).isEmpty)
        #expect(try table.set(user: "u1", status: .snooze, rich: nil, now: 4).first?.rich == atLimit)
    }

    @Test func onlyTheUserAndFriendsSeePresenceAndInvisibleShowsOfflineToFriends() {
        let invisible = Presence.View(userID: "u1", status: .invisible, rich: ["connect": "+join 1"], updatedAt: 5)
        #expect(invisible.seen(byUser: "u1", isFriend: false) == invisible)
        #expect(
            invisible.seen(byUser: "u2", isFriend: true) == Presence.View(userID: "u1", status: .offline, updatedAt: 5)
        )
        #expect(invisible.seen(byUser: "u3", isFriend: false) == nil)
        #expect(!invisible.isJoinable)
        let playing = Presence.View(userID: "u1", status: .lookingToPlay, rich: ["connect": "+join 1"], updatedAt: 5)
        #expect(playing.seen(byUser: "u2", isFriend: true) == playing && playing.isJoinable)
        #expect(playing.seen(byUser: "u3", isFriend: false) == nil)
    }

    @Test func aNewOwnerTakesTheStatusTheEdgeLastSawAndShowsNothingNew() throws {
        // The old owner: away, with a rich presence.
        var old = Presence.State.initial
        for event in try old.handle(.connect(node: "n1", socket: "s1"), now: 1) { old.apply(event) }
        for event in try old.handle(.set(status: .away, rich: ["map": "dust2"]), now: 2) { old.apply(event) }
        // The new owner knows nothing; the edge announces the socket with what it last saw.
        let fresh = Presence.State.initial
        let events = try fresh.handle(
            .announce(node: "n1", sockets: ["s1"], parked: [], status: .away, rich: ["map": "dust2"]),
            now: 9
        )
        let after = Presence.State.replay(events)
        #expect(after.shown == .away && after.rich == ["map": "dust2"] && after.nodes == ["n1"])
        // The same announcement again changes nothing; one that lists no socket closes them cleanly.
        #expect(
            try after.handle(.announce(node: "n1", sockets: ["s1"], parked: [], status: .away, rich: nil), now: 10)
                .isEmpty
        )
        let closed = try after.handle(.announce(node: "n1", sockets: [], parked: [], status: .away, rich: nil), now: 11)
        #expect(closed.last == .cleared(at: 11) && closed.filter(\.isVisible).count == 1)
    }

    @Test func aUserLostWithTheirOwnerIsReportedReconnectingOnce() throws {
        let fresh = Presence.State.initial
        let events = try fresh.handle(.suspect(status: .busy, rich: ["mode": "ranked"]), now: 5)
        var state = Presence.State.replay(events)
        #expect(
            state.view(of: "u1")
                == Presence.View(userID: "u1", status: .reconnecting, rich: ["mode": "ranked"], updatedAt: 5)
        )
        // Other edges report it too: nothing new. The grace window ends it like any other.
        #expect(try state.handle(.suspect(status: .busy, rich: [:]), now: 6).isEmpty)
        #expect(try state.handle(.expire(graceSeconds: 30), now: 34).isEmpty)
        for event in try state.handle(.expire(graceSeconds: 30), now: 35) { state.apply(event) }
        #expect(state == .initial)
        // A user the owner knows with a socket is not suspected.
        var online = Presence.State.initial
        for event in try online.handle(.connect(node: "n2", socket: "s1"), now: 1) { online.apply(event) }
        #expect(try online.handle(.suspect(status: .busy, rich: [:]), now: 5).isEmpty)
    }

    @Test func onlyEventsOthersSeeAreVisible() throws {
        var state = Presence.State.initial
        let first = try state.handle(.connect(node: "n1", socket: "s1"), now: 1)
        #expect(first.map(\.isVisible) == [false, true])
        for event in first { state.apply(event) }
        let second = try state.handle(.connect(node: "n2", socket: "s2"), now: 2)
        #expect(second.map(\.isVisible) == [false], "another device: only the sockets change")
    }

    @Test func aDroppedConnectionShowsReconnectingUntilItsSocketIsResumedOrLetGo() throws {
        func run(_ state: inout Presence.State, _ command: Presence.State.Command, at now: Double) throws -> [Presence
            .Shown]
        {
            let events = try state.handle(command, now: now)
            for event in events { state.apply(event) }
            return events.contains(where: \.isVisible) ? [state.shown] : []
        }
        var state = Presence.State.initial
        _ = try run(&state, .connect(node: "n1", socket: "s1"), at: 1)
        _ = try run(&state, .set(status: .busy, rich: ["mode": "ranked"]), at: 2)
        // The connection drops: parked on n1, which still gets the user's pushes.
        #expect(try run(&state, .drop(node: "n1", socket: "s1"), at: 3) == [.reconnecting])
        #expect(state.nodes == ["n1"])
        // Resumed on n1: back as they were.
        #expect(try run(&state, .connect(node: "n1", socket: "s1"), at: 4) == [.busy])
        #expect(state.rich == ["mode": "ranked"] && state.parked.isEmpty)
        // Dropped again and resumed on n2: live there first, then let go on n1 — never offline.
        _ = try run(&state, .drop(node: "n1", socket: "s1"), at: 5)
        #expect(try run(&state, .connect(node: "n2", socket: "s1"), at: 6) == [.busy])
        #expect(try run(&state, .disconnect(node: "n1", socket: "s1"), at: 6).isEmpty)
        #expect(state.nodes == ["n2"])
        // Dropped, and its node is lost: still reconnecting, until the grace window ends.
        _ = try run(&state, .drop(node: "n2", socket: "s1"), at: 7)
        #expect(try run(&state, .nodeLost(node: "n2"), at: 8).isEmpty)
        #expect(state.shown == .reconnecting && state.nodes.isEmpty)
        #expect(try run(&state, .expire(graceSeconds: 30), at: 37) == [.offline])
        #expect(state == .initial)
        // Dropped and never resumed: letting the parked socket go shows offline.
        _ = try run(&state, .connect(node: "n1", socket: "s2"), at: 40)
        _ = try run(&state, .drop(node: "n1", socket: "s2"), at: 41)
        #expect(try run(&state, .disconnect(node: "n1", socket: "s2"), at: 70) == [.offline])
    }

    @Test func statusesSpellTheContractsNames() {
        #expect(
            Presence.Status.allCases.map(\.rawValue) == [
                "online", "away", "busy", "snooze", "looking_to_play", "looking_to_trade", "invisible",
            ]
        )
    }
}
