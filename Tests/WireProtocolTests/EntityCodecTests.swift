import GameDomain
import Testing
import WireProtocol

@Suite struct EntityCodecTests {
    static let commands: [EntityCodec.Command] = [
        .user(.create(id: "u1", username: "Ada", email: "ada@example.com", passwordHash: "scrypt$1$2$3$a$b")),
        .user(.updateProfile(.init(displayName: "A", bio: nil, avatarURL: .some(nil), country: .some("FR")))),
        .user(.updateProfile(.init())),
        .user(.updateProfileInSession(sessionID: "s1", .init(bio: "hello ✓", avatarURL: .some("https://x/y.png")))),
        .user(.openSession(id: "s1", refreshTokenHash: "abc", expiresAt: 1_795_000_000.25)),
        .user(.refresh(sessionID: "s1", presentedHash: "a", newHash: "b", expiresAt: 42)),
        .user(.closeSession(id: "s1")),
        .name(.reserve(userID: "u1")),
        .name(.confirm(userID: "u1")),
        .name(.release(userID: "u1")),
        .getUser,
        .getName,
    ]

    @Test(arguments: commands)
    func commandsRoundTrip(command: EntityCodec.Command) throws {
        let bytes = EntityCodec.encode(command)
        #expect(try EntityCodec.decodeCommand(bytes) == command)
        for length in 0..<bytes.count {
            #expect(throws: Wire.CodecError.self) { try EntityCodec.decodeCommand(Array(bytes.prefix(length))) }
        }
    }

    @Test func recordsRoundTrip() throws {
        let user: EntityCodec.Events = .user([
            .created(id: "u", username: "n", email: "e@x.io", passwordHash: "h", at: 1.5),
            .profileUpdated(User.Profile(displayName: "D", bio: "B", avatarURL: nil, country: "GB")),
            .sessionOpened(id: "s", refreshTokenHash: "r", expiresAt: 9),
            .refreshRotated(id: "s", refreshTokenHash: "r2", expiresAt: 10),
            .sessionRevoked(id: "s", reason: .refreshTokenReused),
            .sessionsForgotten(ids: ["a", "b"]),
            .sessionsForgotten(ids: []),
        ])
        let name: EntityCodec.Events = .name([.reserved(userID: "u", at: 3), .confirmed(userID: "u"), .released(userID: "u")])
        for events in [user, name] {
            let decoded = try EntityCodec.decodeRecord(EntityCodec.encodeRecord(key: "user/u", events: events))
            #expect(decoded.key == "user/u")
            #expect(decoded.events == events)
        }
        #expect(throws: Wire.CodecError.self) { try EntityCodec.decodeRecord([0, 1, 65, 9, 0, 0]) }
    }

    /// The largest profile the input rules allow is stored whole, in the command, the log record
    /// and the reply (strings used to be cut at 1 KiB, dropping the update on every replica).
    @Test func theLargestValidProfileRoundTripsWhole() throws {
        let profile = User.Profile(
            displayName: String(repeating: "🎮", count: 64),
            bio: String(repeating: "🎮", count: 512),
            avatarURL: "https://cdn.example.com/" + String(repeating: "a", count: Validation.urlBytesMax - 24),
            country: "FR"
        )
        try Validation.displayName(profile.displayName)
        try Validation.bio(profile.bio)
        try Validation.avatarURL(profile.avatarURL!)
        let change = User.ProfileChange(displayName: profile.displayName, bio: profile.bio, avatarURL: .some(profile.avatarURL))
        let command = EntityCodec.Command.user(.updateProfileInSession(sessionID: "s1", change))
        #expect(try EntityCodec.decodeCommand(EntityCodec.encode(command)) == command)
        let events = EntityCodec.Events.user([.profileUpdated(profile)])
        #expect(try EntityCodec.decodeRecord(EntityCodec.encodeRecord(key: "user/u", events: events)).events == events)
        var state = User.State.replay([.created(id: "u", username: "n", email: "e@x.io", passwordHash: "h", at: 2)])
        state.apply(.profileUpdated(profile))
        #expect(try EntityCodec.decodeReply(EntityCodec.encode(.user(state))) == .user(state))
    }

    @Test func repliesRoundTrip() throws {
        var state = User.State.replay([.created(id: "u", username: "n", email: "e@x.io", passwordHash: "h", at: 2)])
        state.apply(.sessionOpened(id: "s", refreshTokenHash: "r", expiresAt: 5))
        for reply in [EntityCodec.Reply.done, .user(state), .user(nil), .owner("u", confirmed: true), .owner(nil, confirmed: false),
                      .failure(code: "taken", message: "name/username/n is taken")] {
            #expect(try EntityCodec.decodeReply(EntityCodec.encode(reply)) == reply)
        }
    }
}
