import ClusterCore
import EntityRuntime
import GameDomain
import PlatformServices
import Synchronization
import Testing

/// The friends workflow when a step goes wrong, against a real standalone node: a change whose
/// mirror never reached the other list (the edge died, or the answer was lost) is finished by
/// the next read of the list, and a mirror the other side refuses undoes the change.
@Suite(.serialized) struct FriendsSagaTests {
    typealias Hooked = SignupSagaTests.HookedTransport

    static func users(_ accounts: AccountService, _ names: String...) async throws -> [String] {
        var ids: [String] = []
        for name in names {
            let tokens = try await accounts.signup(
                username: name,
                email: "\(name)@example.com",
                password: "correct horse"
            )
            ids.append(try #require(tokens.user.id))
        }
        return ids
    }

    static func shown(_ social: SocialService, _ user: String) async throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try await social.friends(user).map { ($0.user.id ?? "", $0.state) })
    }

    @Test func aMirrorThatNeverRanIsFinishedByTheNextReadOfTheList() async throws {
        try await SignupSagaTests.withNode { transport, _ in
            let accounts = await SignupSagaTests.accounts(transport)
            let ids = try await Self.users(accounts, "ann", "bob")
            let (a, b) = (ids[0], ids[1])
            // Every command to b's list is lost on the way (the node running the workflow dies).
            let cut = Mutex(true)
            var hooked = Hooked(inner: transport)
            hooked.before = { key, _ in
                key == FriendListKind.key(b) && cut.withLock { $0 }
                    ? ClusterFailure(kind: .timeout, message: "the edge died") : nil
            }
            let social = SocialService(entities: Entities(hooked), accounts: accounts)
            let failed = await SignupSagaTests.kind { _ = try await social.request(a, b) }
            #expect(failed == .timeout)
            let direct = SocialService(entities: Entities(transport), accounts: accounts)
            #expect(try await Self.shown(direct, b).isEmpty, "b's list was never reached")
            let owed = try await Entities(transport).ref(FriendListKind.self, a).read(.all).owed
            #expect(owed == [b: .requested], "a's list records the mirror it owes")
            // The network is back; a's next look at the list finishes the request on b's side.
            cut.withLock { $0 = false }
            #expect(try await Self.shown(social, a) == [b: "request_sent"])
            #expect(try await Self.shown(social, b) == [a: "request_received"])
            #expect(try await Entities(transport).ref(FriendListKind.self, a).read(.all).owed.isEmpty)
            // Same for a block cut off halfway: b's list learns it, and no request is left there.
            cut.withLock { $0 = true }
            _ = await SignupSagaTests.kind { try await social.block(a, b) }
            cut.withLock { $0 = false }
            #expect(try await Self.shown(social, a) == [b: "blocked"])
            #expect(try await Self.shown(social, b).isEmpty)
            let failure = await SignupSagaTests.kind { _ = try await social.request(b, a) }
            #expect(failure == .conflict(code: "blocked"))
        }
    }

    @Test func aMirrorTheOtherSideRefusesUndoesTheChange() async throws {
        try await SignupSagaTests.withNode { transport, _ in
            let accounts = await SignupSagaTests.accounts(transport)
            let ids = try await Self.users(accounts, "cat", "dog")
            let (c, d) = (ids[0], ids[1])
            let entities = Entities(transport)
            // d blocks c, but the mirror of it has not reached c's list yet.
            _ = try await entities.ref(FriendListKind.self, d).ask(.block(c))
            let social = SocialService(entities: entities, accounts: accounts)
            let failure = await SignupSagaTests.kind { _ = try await social.request(c, d) }
            #expect(failure == .conflict(code: "blocked"))
            let list = try await entities.ref(FriendListKind.self, c).read(.all)
            #expect(list.relationship(with: d)?.link == nil, "c's request was undone")
            #expect(list.owed.isEmpty, "and what the undo owed was settled")
            #expect(try await Self.shown(social, d) == [c: "blocked"])
            // d's list owes c the block: d's next read delivers it, and c is refused from then on.
            #expect(try await Self.shown(social, d) == [c: "blocked"])
            #expect(try await entities.ref(FriendListKind.self, c).read(.all).relationship(with: d)?.blockedBy == true)
        }
    }

    /// A friend whose profile the cluster cannot read fails the list (503), rather than leaving
    /// the friend out as if the friendship were gone.
    @Test func aProfileTheClusterCannotReadFailsTheListInsteadOfShorteningIt() async throws {
        try await SignupSagaTests.withNode { transport, _ in
            let accounts = await SignupSagaTests.accounts(transport)
            let ids = try await Self.users(accounts, "eve", "fay")
            let (e, f) = (ids[0], ids[1])
            let direct = SocialService(entities: Entities(transport), accounts: accounts)
            _ = try await direct.request(e, f)
            var hooked = Hooked(inner: transport)
            hooked.before = { key, _ in
                key == UserKind.key(f) ? ClusterFailure(kind: .unavailable, message: "no primary") : nil
            }
            let cut = await AccountService(
                tokenSecret: "saga",
                hasher: PasswordHasher(rounds: 1 << 10),
                entities: Entities(hooked)
            )
            let social = SocialService(entities: Entities(transport), accounts: cut)
            let failure = await SignupSagaTests.kind { _ = try await social.friends(e) }
            #expect(failure == .unavailable)
            #expect(try await Self.shown(direct, e) == [f: "request_sent"])
        }
    }
}
