import EntityRuntime
import GameDomain
import Testing

@testable import PlatformServices

/// Profile reads ask the user's primary for the account without its secrets: what crosses the
/// cluster for them holds no password hash and no session.
@Suite struct UserReadsTests {
    static func account() throws -> User.State {
        var user = User.State()
        for event in try user.handle(
            .create(id: "u1", username: "ada", email: "ada@example.com", passwordHash: "scrypt$secret-hash"),
            now: 1
        ) { user.apply(event) }
        for event in try user.handle(.openSession(id: "s1", refreshTokenHash: "token-hash", expiresAt: 100), now: 2) {
            user.apply(event)
        }
        return user
    }

    @Test func profileReadsCarryNoSecrets() throws {
        let user = try Self.account()
        for read in [UserKind.Read.publicProfile, .inSession(sessionID: "s1")] {
            // What the primary sends back to the node that asked.
            let reply = UserKind.encode(reply: try UserKind.read(read, state: user))
            let text = String(decoding: reply, as: UTF8.self)
            #expect(!text.contains("secret-hash") && !text.contains("token-hash"), "\(read) sends a secret")
            #expect(try UserKind.decode(reply: reply).profile.displayName == "ada")
            // The read itself names no secret either, and survives the wire.
            #expect(try UserKind.decode(read: UserKind.encode(read: read)) == read)
        }
        #expect(throws: User.Failure.sessionInvalid) { try UserKind.read(.inSession(sessionID: "s9"), state: user) }
        #expect(throws: User.Failure.notFound) { try UserKind.read(.publicProfile, state: User.State()) }
        // Login still reads the whole account (the edge checks the password hash).
        #expect(try UserKind.read(.account, state: user).passwordHash == "scrypt$secret-hash")
    }
}
