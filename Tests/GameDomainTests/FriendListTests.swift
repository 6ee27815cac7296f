import GameDomain
import Testing

/// Two users' lists driven as the friends workflow drives them: the actor's side, then the mirror.
private struct Pair {
    var lists: [String: FriendList.State] = [:]
    var now = 100.0

    mutating func run(_ command: FriendList.Command, on user: String) throws(FriendList.Failure) {
        var list = lists[user] ?? .initial
        for event in try list.handle(command, now: now) { list.apply(event) }
        lists[user] = list
        now += 1
    }

    /// `from` asks `to`: both sides, in order; a refused mirror step is undone on the first side.
    mutating func request(_ from: String, _ to: String) throws(FriendList.Failure) {
        try run(.request(from: from, to: to), on: from)
        do {
            try run(.requested(from: from, to: to), on: to)
        } catch {
            if lists[from]?.relationship(with: to)?.link == .requestSent { try run(.remove(to), on: from) }
            throw error
        }
    }

    func shown(_ user: String, _ other: String) -> String? { lists[user]?.relationship(with: other)?.shown }
}

@Suite struct FriendListTests {
    @Test func aRequestThenTheMirrorRequestMakesFriendsOnBothSides() throws {
        var pair = Pair()
        try pair.request("a", "b")
        #expect(pair.shown("a", "b") == "request_sent" && pair.shown("b", "a") == "request_received")
        // Asking again changes nothing (the workflow may run twice).
        try pair.request("a", "b")
        #expect(pair.shown("a", "b") == "request_sent")
        // b asking back accepts.
        try pair.request("b", "a")
        #expect(pair.shown("a", "b") == "friend" && pair.shown("b", "a") == "friend")
        #expect(pair.lists["a"]!.isFriend("b") && pair.lists["a"]!.friendCount == 1)
    }

    @Test func removingUnfriendsCancelsOrDeclinesOnBothSides() throws {
        var pair = Pair()
        try pair.request("a", "b")
        try pair.run(.remove("a"), on: "b")  // b declines
        try pair.run(.removed(by: "b"), on: "a")
        #expect(pair.shown("a", "b") == nil && pair.shown("b", "a") == nil)
        try pair.request("a", "b")
        try pair.request("b", "a")
        try pair.run(.remove("b"), on: "a")
        try pair.run(.removed(by: "a"), on: "b")
        try pair.run(.removed(by: "a"), on: "b")  // idempotent
        #expect(pair.lists["a"]!.relationships.isEmpty && pair.lists["b"]!.relationships.isEmpty)
    }

    @Test func aBlockEndsTheLinkRefusesRequestsBothWaysAndShowsOnlyToTheBlocker() throws {
        var pair = Pair()
        try pair.request("a", "b")
        try pair.request("b", "a")
        try pair.run(.block("b"), on: "a")
        try pair.run(.blocked(by: "a"), on: "b")
        #expect(pair.shown("a", "b") == "blocked")
        #expect(pair.shown("b", "a") == nil, "b is not told")
        #expect(!pair.lists["b"]!.isFriend("a"))
        #expect(throws: FriendList.Failure.blocked) { try pair.request("b", "a") }
        #expect(throws: FriendList.Failure.blocked) { try pair.request("a", "b") }
        // Unblocking leaves no link: they start over.
        try pair.run(.unblock("b"), on: "a")
        try pair.run(.unblocked(by: "a"), on: "b")
        #expect(pair.lists["a"]!.relationships.isEmpty && pair.lists["b"]!.relationships.isEmpty)
        try pair.request("b", "a")
        #expect(pair.shown("a", "b") == "request_received")
    }

    @Test func aRequestToSomeoneWhoBlocksIsUndoneOnTheRequestersSide() throws {
        var pair = Pair()
        try pair.run(.block("a"), on: "b")
        // a's list does not know (b's block reached a's list only if the workflow's mirror ran).
        #expect(throws: FriendList.Failure.blocked) { try pair.request("a", "b") }
        #expect(pair.shown("a", "b") == nil)
    }

    @Test func nobodyFriendsThemselves() {
        var pair = Pair()
        #expect(throws: FriendList.Failure.cannotFriendSelf) { try pair.request("a", "a") }
    }

    @Test func pendingRequestsAndFriendsAreCapped() throws {
        var pair = Pair()
        for index in 0..<FriendList.pendingMax { try pair.run(.request(from: "a", to: "u\(index)"), on: "a") }
        #expect(throws: FriendList.Failure.friendLimit) { try pair.run(.request(from: "a", to: "x"), on: "a") }
        // A full inbox refuses the mirror too (the requester's side is then undone).
        for index in 0..<FriendList.pendingMax { try pair.run(.requested(from: "r\(index)", to: "c"), on: "c") }
        #expect(throws: FriendList.Failure.friendLimit) { try pair.request("d", "c") }
        #expect(pair.shown("d", "c") == nil)
        // Accepting still works at the pending cap (it frees a pending slot), not at the friend cap.
        try pair.run(.requested(from: "u0", to: "a"), on: "a")
        #expect(pair.lists["a"]!.isFriend("u0"))
        var full = Pair()
        for index in 0..<FriendList.friendsMax {
            try full.run(.request(from: "f", to: "g\(index)"), on: "f")
            try full.run(.requested(from: "g\(index)", to: "f"), on: "f")
        }
        #expect(full.lists["f"]!.friendCount == FriendList.friendsMax)
        #expect(throws: FriendList.Failure.friendLimit) { try full.run(.request(from: "f", to: "h"), on: "f") }
    }

    @Test func replayingTheEventsRebuildsTheList() throws {
        var list = FriendList.State.initial
        var events: [FriendList.Event] = []
        let commands: [FriendList.Command] = [
            .request(from: "a", to: "b"), .requested(from: "c", to: "a"), .request(from: "a", to: "c"),
            .block("d"), .blocked(by: "e"), .remove("b"), .unblock("d"),
        ]
        for (index, command) in commands.enumerated() {
            let produced = try list.handle(command, now: Double(index))
            for event in produced { list.apply(event) }
            events += produced
        }
        #expect(FriendList.State.replay(events) == list)
        #expect(list.isFriend("c") && list.relationship(with: "e")?.shown == nil && list.relationship(with: "e") != nil)
        #expect(list.relationship(with: "b") == nil && list.relationship(with: "d") == nil)
    }

    /// A change on the acting side owes its mirror until settled: a workflow cut off between the
    /// two sides is finished from the list alone (the mirror's command, built from what is owed).
    @Test func aChangeOwesItsMirrorUntilSettled() throws {
        var pair = Pair()
        try pair.run(.request(from: "a", to: "b"), on: "a")
        #expect(pair.lists["a"]!.owed == ["b": .requested])
        #expect(pair.lists["a"]!.only("b").owed == ["b": .requested])
        // The edge died here; whoever touches a's list next runs what it owes, then settles it.
        let mirror = try #require(pair.lists["a"]!.owed["b"]).command(me: "a", other: "b")
        #expect(mirror == .requested(from: "a", to: "b"))
        try pair.run(mirror, on: "b")
        try pair.run(.settle(other: "b", .requested), on: "a")
        #expect(pair.lists["a"]!.owed.isEmpty && pair.shown("b", "a") == "request_received")
        // A settle for an older mirror leaves a newer one owed.
        try pair.run(.block("b"), on: "a")
        try pair.run(.settle(other: "b", .requested), on: "a")
        #expect(pair.lists["a"]!.owed == ["b": .blocked])
        // A change that changes nothing owes nothing new; mirror sides never owe.
        try pair.run(.settle(other: "b", .blocked), on: "a")
        try pair.run(.block("b"), on: "a")
        try pair.run(.blocked(by: "a"), on: "b")
        #expect(pair.lists["a"]!.owed.isEmpty && pair.lists["b"]!.owed.isEmpty)
        #expect(
            FriendList.Mirror.allCases.map { $0.command(me: "a", other: "b") } == [
                .requested(from: "a", to: "b"), .removed(by: "a"), .blocked(by: "a"), .unblocked(by: "a"),
            ]
        )
    }
}
