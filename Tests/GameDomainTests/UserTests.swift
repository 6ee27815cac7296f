import GameDomain
import Testing

@Suite struct UserTests {
    func created() throws -> (User.State, [User.Event]) {
        let events = try User.State.initial.handle(
            .create(id: "u1", username: "Ada_L", email: "ada@Example.COM", passwordHash: "scrypt$hash"),
            now: 100
        )
        return (User.State.replay(events), events)
    }

    @Test func creationNormalisesTheEmailAndDefaultsTheDisplayName() throws {
        let (user, _) = try created()
        #expect(user.exists)
        #expect(user.username == "Ada_L")
        #expect(user.email == "ada@example.com")
        #expect(user.profile.displayName == "Ada_L")
        #expect(user.createdAt == 100)
        #expect(throws: User.Failure.alreadyExists) {
            try user.handle(.create(id: "u1", username: "Ada_L", email: "a@b.co", passwordHash: "x"), now: 1)
        }
    }

    @Test func aReplyViewCarriesNoSecrets() throws {
        var (user, _) = try created()
        for event in try user.handle(.openSession(id: "s1", refreshTokenHash: "h", expiresAt: 500), now: 101) {
            user.apply(event)
        }
        let view = user.withoutSecrets
        #expect(view.passwordHash.isEmpty && view.sessions.isEmpty)
        #expect(
            view.id == user.id && view.username == user.username && view.email == user.email
                && view.profile == user.profile
        )
        #expect(!user.sessions.isEmpty && user.passwordHash == "scrypt$hash")
    }

    @Test(arguments: ["ab", String(repeating: "a", count: 33), "has space", "émile", "semi;colon"])
    func badUsernamesAreRefused(username: String) {
        #expect(throws: User.Failure.self) {
            try User.State.initial.handle(
                .create(id: "u", username: username, email: "a@b.co", passwordHash: "h"),
                now: 0
            )
        }
    }

    @Test(arguments: ["plain", "a@b", "@b.co", "a@-b.co", "a b@c.co", "a@b.c", "a@@b.co"])
    func badEmailsAreRefused(email: String) {
        #expect(throws: User.Failure.invalid(field: "email", message: "is not a valid email address")) {
            try Validation.email(email)
        }
    }

    @Test func goodInputsPass() throws {
        try Validation.username("a.b-c_9")
        try Validation.email("first.last+tag@sub.example.org")
        try Validation.password("12345678")
        #expect(throws: User.Failure.self) { try Validation.password("1234567") }
        #expect(Validation.usernameKey("Ada_L") == Validation.usernameKey("ada_l"))
    }

    @Test func profileUpdatesAreValidatedAndPartial() throws {
        var (user, _) = try created()
        let events = try user.handle(.updateProfile(.init(bio: "hello", country: .some("fr"))), now: 1)
        for event in events { user.apply(event) }
        #expect(user.profile == User.Profile(displayName: "Ada_L", bio: "hello", avatarURL: nil, country: "FR"))
        #expect(try user.handle(.updateProfile(.init(bio: "hello")), now: 2).isEmpty)
        #expect(throws: User.Failure.self) {
            try user.handle(.updateProfile(.init(displayName: String(repeating: "x", count: 65))), now: 2)
        }
        #expect(throws: User.Failure.self) {
            try user.handle(.updateProfile(.init(bio: String(repeating: "x", count: 513))), now: 2)
        }
        #expect(throws: User.Failure.self) {
            try user.handle(.updateProfile(.init(avatarURL: .some("ftp://x/y"))), now: 2)
        }
        #expect(throws: User.Failure.self) { try user.handle(.updateProfile(.init(country: .some("FRA"))), now: 2) }
        #expect(throws: User.Failure.notFound) {
            try User.State.initial.handle(.updateProfile(.init(bio: "x")), now: 2)
        }
    }

    /// Limits count characters, as a player does, and bytes, which is what is stored: 64 emoji
    /// make a valid display name, one letter under 300 combining marks does not.
    @Test func profileLimitsCountCharactersAndBytes() throws {
        try Validation.displayName(String(repeating: "🎮", count: 64))
        try Validation.bio(String(repeating: "🎮", count: 512))
        #expect(throws: User.Failure.self) { try Validation.displayName(String(repeating: "🎮", count: 65)) }
        #expect(throws: User.Failure.self) { try Validation.bio(String(repeating: "é", count: 513)) }
        let stacked = "a" + String(repeating: "\u{0301}", count: 300)
        #expect(stacked.count == 1)
        #expect(throws: User.Failure.self) { try Validation.displayName(stacked) }
        #expect(throws: User.Failure.self) { try Validation.bio(String(repeating: stacked, count: 4)) }
        try Validation.avatarURL("https://cdn.example.com/" + String(repeating: "a", count: 2048 - 24))
        #expect(throws: User.Failure.self) {
            try Validation.avatarURL("https://cdn.example.com/" + String(repeating: "a", count: 2049 - 24))
        }
    }

    @Test func refreshTokensRotateAndAReusedOneRevokesTheSession() throws {
        var (user, _) = try created()
        func run(_ command: User.Command, now: Double = 10) throws -> [User.Event] {
            let events = try user.handle(command, now: now)
            for event in events { user.apply(event) }
            return events
        }
        _ = try run(.openSession(id: "s1", refreshTokenHash: "h1", expiresAt: 1000))
        // The token rotates; the session's lifetime, set at its login, is not stretched.
        #expect(
            try run(.refresh(sessionID: "s1", presentedHash: "h1", newHash: "h2", expiresAt: 2000)) == [
                .refreshRotated(id: "s1", refreshTokenHash: "h2", expiresAt: 1000)
            ]
        )
        #expect(user.sessions["s1"]?.expiresAt == 1000)
        // The old token again: the session is revoked, and the current token stops working too.
        #expect(
            try run(.refresh(sessionID: "s1", presentedHash: "h1", newHash: "h3", expiresAt: 3000)) == [
                .sessionRevoked(id: "s1", reason: .refreshTokenReused)
            ]
        )
        #expect(throws: User.Failure.sessionInvalid) {
            try run(.refresh(sessionID: "s1", presentedHash: "h2", newHash: "h4", expiresAt: 1))
        }
        // Expired sessions do not refresh.
        _ = try run(.openSession(id: "s2", refreshTokenHash: "k1", expiresAt: 50))
        #expect(throws: User.Failure.sessionInvalid) {
            try run(.refresh(sessionID: "s2", presentedHash: "k1", newHash: "k2", expiresAt: 90), now: 60)
        }
        #expect(try run(.closeSession(id: "s2")) == [.sessionRevoked(id: "s2", reason: .logout)])
        #expect(try run(.closeSession(id: "s2")).isEmpty)
    }

    /// Only a token the session rotated away from revokes it: a stranger who built a token from
    /// the ids an access token shows (user, session) cannot sign the player out.
    @Test func aTokenTheSessionNeverIssuedDoesNotRevokeIt() throws {
        var (user, _) = try created()
        func run(_ command: User.Command) throws -> [User.Event] {
            let events = try user.handle(command, now: 10)
            for event in events { user.apply(event) }
            return events
        }
        _ = try run(.openSession(id: "s1", refreshTokenHash: "h1", expiresAt: 1000))
        #expect(throws: User.Failure.sessionInvalid) {
            try run(.refresh(sessionID: "s1", presentedHash: "forged", newHash: "x", expiresAt: 1000))
        }
        #expect(user.sessions["s1"]?.isRevoked == false)
        // The session goes on rotating; it remembers the tokens it rotated away from, the last 16.
        var current = "h1"
        for index in 2...20 {
            _ = try run(.refresh(sessionID: "s1", presentedHash: current, newHash: "h\(index)", expiresAt: 1000))
            current = "h\(index)"
        }
        #expect(user.sessions["s1"]?.previousRefreshTokenHashes == (4...19).map { "h\($0)" })
        #expect(throws: User.Failure.sessionInvalid) {
            try run(.refresh(sessionID: "s1", presentedHash: "forged", newHash: "y", expiresAt: 1000))
        }
        #expect(
            try run(.refresh(sessionID: "s1", presentedHash: "h7", newHash: "z", expiresAt: 1000)) == [
                .sessionRevoked(id: "s1", reason: .refreshTokenReused)
            ]
        )
    }

    @Test func sessionsAreBoundedAndEndedOnesAreForgotten() throws {
        var (user, events) = try created()
        func run(_ command: User.Command, now: Double) throws -> [User.Event] {
            let produced = try user.handle(command, now: now)
            for event in produced { user.apply(event) }
            events += produced
            return produced
        }
        // One login a second, each session valid for 1000 s; one is logged out, one expires.
        for index in 0..<(User.sessionsMax + 8) {
            let expiresAt = index == 3 ? 20 : Double(1000 + index)
            _ = try run(
                .openSession(id: "s\(index)", refreshTokenHash: "h\(index)", expiresAt: expiresAt),
                now: Double(index)
            )
            if index == 5 { _ = try run(.closeSession(id: "s5"), now: Double(index)) }
            #expect(user.sessions.count <= User.sessionsMax, "after login \(index)")
        }
        #expect(user.sessions.count == User.sessionsMax)
        // The ended sessions went first, then the ones expiring first; the newest all remain.
        #expect(user.sessions["s3"] == nil && user.sessions["s5"] == nil)
        #expect(user.sessions["s0"] == nil)
        #expect((8..<(User.sessionsMax + 8)).allSatisfy { user.sessions["s\($0)"] != nil })
        #expect(throws: User.Failure.sessionInvalid) {
            try run(.refresh(sessionID: "s0", presentedHash: "h0", newHash: "x", expiresAt: 2000), now: 50)
        }
        #expect(user == User.State.replay(events))
    }

    /// The events each command produces and the state they replay to, both written out by hand
    /// (not computed by the aggregate): a change to `handle` or `apply` that alters either fails.
    @Test func commandsProduceTheseEventsAndReplayToThisState() throws {
        var (user, events) = try created()
        let steps: [(User.Command, [User.Event])] = [
            (
                .updateProfile(.init(displayName: "Ada", bio: "b")),
                [.profileUpdated(User.Profile(displayName: "Ada", bio: "b"))]
            ),
            (
                .openSession(id: "s1", refreshTokenHash: "a", expiresAt: 500),
                [.sessionOpened(id: "s1", refreshTokenHash: "a", expiresAt: 500)]
            ),
            (
                .refresh(sessionID: "s1", presentedHash: "a", newHash: "b", expiresAt: 600),  // never past the login's 500
                [.refreshRotated(id: "s1", refreshTokenHash: "b", expiresAt: 500)]
            ),
            (
                .updateProfile(.init(avatarURL: .some("https://cdn.example/a.png"))),
                [.profileUpdated(User.Profile(displayName: "Ada", bio: "b", avatarURL: "https://cdn.example/a.png"))]
            ),
            (.closeSession(id: "s1"), [.sessionRevoked(id: "s1", reason: .logout)]),
            // Nothing changes: no event.
            (.updateProfile(.init(bio: "b")), []),
        ]
        for (index, (command, expected)) in steps.enumerated() {
            let produced = try user.handle(command, now: Double(200 + index))
            #expect(produced == expected, "step \(index)")
            for event in produced { user.apply(event) }
            events += produced
        }
        var expected = User.State()
        expected.id = "u1"
        expected.username = "Ada_L"
        expected.email = "ada@example.com"
        expected.passwordHash = "scrypt$hash"
        expected.createdAt = 100
        expected.profile = User.Profile(displayName: "Ada", bio: "b", avatarURL: "https://cdn.example/a.png")
        expected.sessions["s1"] = User.Session(
            id: "s1",
            refreshTokenHash: "b",
            expiresAt: 500,
            isRevoked: true,
            previousRefreshTokenHashes: ["a"]
        )
        #expect(user == expected)
        #expect(User.State.replay(events) == expected)
    }
}

@Suite struct NameReservationTests {
    @Test func onlyOneUserGetsAName() throws {
        var name = NameReservation.State.initial
        for event in try name.handle(.reserve(userID: "u1"), now: 0) { name.apply(event) }
        #expect(throws: NameReservation.Failure.taken) { try name.handle(.reserve(userID: "u2"), now: 1) }
        // Idempotent for the same user.
        #expect(try name.handle(.reserve(userID: "u1"), now: 1).isEmpty)
        for event in try name.handle(.confirm(userID: "u1"), now: 2) { name.apply(event) }
        #expect(throws: NameReservation.Failure.taken) { try name.handle(.reserve(userID: "u2"), now: 10_000) }
        // Only the owner's own signup can give the name up (its compensation step, even once
        // confirmed); anyone else's release changes nothing.
        #expect(try name.handle(.release(userID: "u2"), now: 3).isEmpty)
        #expect(try name.handle(.release(userID: "u1"), now: 3) == [.released(userID: "u1")])
    }

    @Test func anAbandonedReservationExpires() throws {
        var name = NameReservation.State.initial
        for event in try name.handle(.reserve(userID: "u1"), now: 0) { name.apply(event) }
        #expect(throws: NameReservation.Failure.taken) { try name.handle(.reserve(userID: "u2"), now: 30) }
        for event in try name.handle(.reserve(userID: "u2"), now: 61) { name.apply(event) }
        #expect(name.owner == "u2")
        #expect(throws: NameReservation.Failure.notReservedBy("u1")) {
            try name.handle(.confirm(userID: "u1"), now: 62)
        }
    }

    @Test func aFailedSignupReleasesItsReservation() throws {
        var events = try NameReservation.State.initial.handle(.reserve(userID: "u1"), now: 0)
        var name = NameReservation.State.replay(events)
        let released = try name.handle(.release(userID: "u1"), now: 1)
        for event in released { name.apply(event) }
        events += released
        #expect(name.owner == nil)
        #expect(name == NameReservation.State.replay(events))
        #expect(try name.handle(.reserve(userID: "u2"), now: 2) == [.reserved(userID: "u2", at: 2)])
    }
}

@Suite struct SessionBoundUpdateTests {
    @Test func anUpdateOnBehalfOfAClosedSessionIsRefused() throws {
        var user = User.State.replay(
            try User.State.initial.handle(
                .create(id: "u", username: "eve", email: "e@example.com", passwordHash: "h"),
                now: 0
            )
        )
        for event in try user.handle(.openSession(id: "s", refreshTokenHash: "r", expiresAt: 100), now: 1) {
            user.apply(event)
        }
        #expect(
            try user.handle(.updateProfileInSession(sessionID: "s", .init(bio: "x")), now: 2) == [
                .profileUpdated(User.Profile(displayName: "eve", bio: "x"))
            ]
        )
        for event in try user.handle(.closeSession(id: "s"), now: 3) { user.apply(event) }
        #expect(throws: User.Failure.sessionInvalid) {
            try user.handle(.updateProfileInSession(sessionID: "s", .init(bio: "y")), now: 4)
        }
        #expect(throws: User.Failure.sessionInvalid) {
            try user.handle(.updateProfileInSession(sessionID: "other", .init(bio: "y")), now: 4)
        }
    }
}
