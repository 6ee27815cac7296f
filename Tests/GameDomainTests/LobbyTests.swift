import GameDomain
import Testing

@Suite struct LobbyTests {
    /// Runs commands on a lobby, keeping every event (for replay).
    struct Run {
        var state = Lobby.State()
        var events: [Lobby.Event] = []

        @discardableResult
        mutating func run(_ command: Lobby.Command, at now: Double = 0) throws(Lobby.Failure) -> [Lobby.Event] {
            let decided = try state.handle(command, now: now)
            for event in decided { state.apply(event) }
            events += decided
            return decided
        }
    }

    static func create(_ visibility: Lobby.Visibility = .public, max: Int = 4, data: [String: String] = [:])
        -> Lobby.Command
    {
        .create(
            id: "L",
            visibility: visibility,
            maxMembers: max,
            data: data,
            joinable: true,
            members: ["own"],
            matchID: nil
        )
    }

    @Test func theOwnerLeavingOrGoneHandsTheLobbyToTheLongestPresentMember() throws {
        var lobby = Run()
        try lobby.run(Self.create())
        try lobby.run(.join(user: "b", isOwnersFriend: false), at: 1)
        try lobby.run(.join(user: "c", isOwnersFriend: false), at: 2)
        let gone = try lobby.run(.ownerGone(user: "own"), at: 3)
        #expect(gone == [.ownerSet(user: "b")] && lobby.state.ownerID == "b")
        #expect(try lobby.run(.ownerGone(user: "own"), at: 4).isEmpty, "only the owner's absence moves it")
        try lobby.run(.leave(user: "b"), at: 5)
        #expect(lobby.state.ownerID == "own", "the longest-present member left")
        try lobby.run(.leave(user: "own"), at: 6)
        #expect(lobby.state.ownerID == "c" && lobby.state.members.map(\.userID) == ["c"])
        // Alone: no one to hand it to.
        #expect(try lobby.run(.ownerGone(user: "c"), at: 7).isEmpty)
    }

    @Test func visibilityDecidesWhoReadsJoinsAndFindsTheLobby() throws {
        for visibility in Lobby.Visibility.allCases {
            var lobby = Run()
            try lobby.run(Self.create(visibility))
            #expect(lobby.state.isVisible(to: "own"))
            #expect(lobby.state.isVisible(to: "stranger") == (visibility == .public))
            #expect(lobby.state.isListed(at: 0) == (visibility == .public || visibility == .invisible))
            let stranger = Result { () throws(Lobby.Failure) in try lobby.run(.join(user: "x", isOwnersFriend: false)) }
            let friend = Result { () throws(Lobby.Failure) in try lobby.run(.join(user: "f", isOwnersFriend: true)) }
            switch visibility {
            case .public, .invisible:
                #expect((try? stranger.get()) != nil && (try? friend.get()) != nil)
            case .friendsOnly:
                #expect(throws: Lobby.Failure.notInvited) { try stranger.get() }
                #expect((try? friend.get()) != nil)
            case .private:
                #expect(throws: Lobby.Failure.notInvited) { try stranger.get() }
                #expect(throws: Lobby.Failure.notInvited) { try friend.get() }
            }
        }
    }

    @Test func anInviteHoldsASeatUntilItsTimeThenAnyoneMayTakeIt() throws {
        var lobby = Run()
        try lobby.run(Self.create(.public, max: 2))
        try lobby.run(.invite(by: "own", user: "inv", holdUntil: 30), at: 0)
        #expect(lobby.state.freeSeats(at: 10) == 0 && !lobby.state.isListed(at: 10))
        #expect(throws: Lobby.Failure.full) { try lobby.run(.join(user: "x", isOwnersFriend: false), at: 10) }
        // The invitee takes their seat; once the hold ends, anyone may take it.
        var other = lobby
        try other.run(.join(user: "inv", isOwnersFriend: false), at: 10)
        #expect(other.state.members.map(\.userID) == ["own", "inv"])
        try lobby.run(.join(user: "x", isOwnersFriend: false), at: 30)
        #expect(lobby.state.members.map(\.userID) == ["own", "x"])
        #expect(throws: Lobby.Failure.notOwner) { try lobby.run(.invite(by: "x", user: "y", holdUntil: 99), at: 31) }
    }

    @Test func limitsBansAndTheReadyCheck() throws {
        var lobby = Run()
        #expect(throws: Lobby.Failure.invalid(field: "max_members", message: "must be 2 to 250")) {
            try lobby.run(Self.create(max: 251))
        }
        #expect(throws: Lobby.Failure.self) {
            try lobby.run(Self.create(data: ["k": String(repeating: "v", count: 8192)]))
        }
        try lobby.run(Self.create(max: 3, data: ["k": String(repeating: "v", count: 8191)]))
        #expect(throws: Lobby.Failure.self) {
            try lobby.run(.update(by: "own", data: ["k2": "v"], visibility: nil, joinable: nil, maxMembers: nil))
        }
        try lobby.run(.join(user: "b", isOwnersFriend: false))
        #expect(throws: Lobby.Failure.notOwner) { try lobby.run(.kick(by: "b", user: "own")) }
        try lobby.run(.ban(by: "own", user: "b"))
        #expect(lobby.state.members.map(\.userID) == ["own"])
        #expect(throws: Lobby.Failure.banned) { try lobby.run(.join(user: "b", isOwnersFriend: true)) }
        try lobby.run(.join(user: "c", isOwnersFriend: false))
        try lobby.run(.join(user: "d", isOwnersFriend: false))
        #expect(throws: Lobby.Failure.invalid(field: "max_members", message: "is below the number of members")) {
            try lobby.run(.update(by: "own", data: ["k": ""], visibility: nil, joinable: nil, maxMembers: 2))
        }
        try lobby.run(.kick(by: "own", user: "d"))
        #expect(throws: Lobby.Failure.notReady) { try lobby.run(.start(by: "own", gameServer: "g:1", force: false)) }
        try lobby.run(.setMember(user: "own", data: nil, isReady: true))
        try lobby.run(.setMember(user: "c", data: ["team": "red"], isReady: true))
        try lobby.run(.start(by: "own", gameServer: "g:1", force: false))
        #expect(lobby.state.gameServer == "g:1")
        try lobby.run(.update(by: "own", data: nil, visibility: nil, joinable: false, maxMembers: nil))
        #expect(throws: Lobby.Failure.notJoinable) { try lobby.run(.join(user: "d", isOwnersFriend: false)) }
    }

    @Test func everyChangeMembersSeeGrowsTheVersionByOneAndReplayRebuildsTheLobby() throws {
        var lobby = Run()
        try lobby.run(Self.create(max: 5))
        var version = lobby.state.version
        let commands: [Lobby.Command] = [
            .join(user: "b", isOwnersFriend: false),
            .update(by: "own", data: ["map": "dust"], visibility: nil, joinable: nil, maxMembers: nil),
            .setMember(user: "b", data: ["team": "red"], isReady: nil),
            .transfer(by: "own", to: "b"),
            .leave(user: "b"),
        ]
        for command in commands {
            let events = try lobby.run(command, at: 1)
            #expect(events.count == 1 && lobby.state.version == version + 1, "\(command)")
            version = lobby.state.version
        }
        // Changes that change nothing are not changes.
        #expect(
            try lobby.run(.update(by: "own", data: ["map": "dust"], visibility: nil, joinable: nil, maxMembers: nil))
                .isEmpty
        )
        #expect(try lobby.run(.join(user: "own", isOwnersFriend: false)).isEmpty)
        // Empty, then expired after its TTL.
        try lobby.run(.leave(user: "own"), at: 10)
        #expect(lobby.state.emptySince == 10)
        #expect(try lobby.run(.expire(emptyBefore: 9), at: 20).isEmpty)
        #expect(Lobby.State.replay(lobby.events) == lobby.state)
        try lobby.run(.expire(emptyBefore: 10), at: 20)
        #expect(!lobby.state.exists)
        #expect(Lobby.State.replay(lobby.events) == lobby.state)
    }

    @Test func aMatchsLobbyIsCreatedOnceWhoeverRetriesIt() throws {
        var lobby = Run()
        let create = Lobby.Command.create(
            id: "q.m1",
            visibility: .private,
            maxMembers: 4,
            data: [:],
            joinable: false,
            members: ["a", "b"],
            matchID: "q.m1"
        )
        try lobby.run(create)
        #expect(try lobby.run(create, at: 5).isEmpty)
        #expect(lobby.state.members.map(\.userID) == ["a", "b"] && lobby.state.ownerID == "a")
        #expect(throws: Lobby.Failure.exists) { try lobby.run(Self.create()) }
    }

    @Test func searchListsOnlyJoinableOpenLobbiesAndSortsByDistance() {
        func lobby(_ id: String, _ visibility: Lobby.Visibility, level: String, members: Int = 1, joinable: Bool = true)
            -> Lobby.State
        {
            var state = Lobby.State()
            state.apply(
                .created(
                    id: id,
                    visibility: visibility,
                    maxMembers: 2,
                    data: ["level": level, "mode": "ctf"],
                    joinable: joinable,
                    members: (0..<members).map { Lobby.Member(userID: "u\($0)", joinedAt: 0) },
                    matchID: nil,
                    at: Double(id.count)
                )
            )
            return state
        }
        let lobbies = [
            lobby("a", .public, level: "5"), lobby("bb", .invisible, level: "12"), lobby("ccc", .private, level: "10"),
            lobby("dddd", .friendsOnly, level: "10"), lobby("eeeee", .public, level: "10", members: 2),
            lobby("f", .public, level: "10", joinable: false), lobby("g", .public, level: "x9"),
        ]
        let near = Lobby.Query(near: ("level", 10))
        #expect(near.run(lobbies, at: 0).lobbies.map(\.id) == ["bb", "a", "g"])
        let numeric = Lobby.Query(filters: [.init(key: "level", op: .lt, value: .number(9))])
        #expect(numeric.run(lobbies, at: 0).lobbies.map(\.id) == ["a"], "\"x9\" is no number; 5 < 9 is")
        let text = Lobby.Query(filters: [.init(key: "level", op: .lt, value: .string("6"))], limit: 1)
        let found = text.run(lobbies, at: 0)
        #expect(found.total == 2 && found.lobbies.count == 1, "\"12\" < \"6\" and \"5\" < \"6\" as text")
        #expect(
            Lobby.Query(filters: [.init(key: "missing", op: .ne, value: .string("x"))]).run(lobbies, at: 0).total == 3
        )
        #expect(Lobby.Query(slotsAvailable: 2).run(lobbies, at: 0).total == 0)
    }
}
