import ClusterCore
import ClusterRuntime
import EntityRuntime
import Foundation
import GameDomain
import Logging
import PlatformServices
import ServiceLifecycle
import Synchronization
import Testing
import WireProtocol

/// The two-step signup when a step goes wrong, against a real standalone node: a signup whose
/// confirmations got no answer is finished by the next login with its password, and a signup
/// that lost a reservation answers `…_taken` and gives its other name back.
@Suite(.serialized) struct SignupSagaTests {
    /// The node's entity transport with a hook around every request: `before` may fail a request
    /// (it never reaches the node), `after` runs once the node has answered it.
    struct HookedTransport: EntityTransport {
        let inner: any EntityTransport
        var before: @Sendable (_ key: String, _ request: any Sendable) async -> ClusterFailure? = { _, _ in nil }
        var after: @Sendable (_ key: String, _ request: any Sendable) async -> Void = { _, _ in }

        func ask<K: EntityKind>(_ kind: K.Type, key: String, _ request: EntityRequest<K>)
            async throws(EntityFailure<K.Failure>) -> K.Reply
        {
            if let failure = await before(key, request) { throw .cluster(failure) }
            let reply = try await inner.ask(K.self, key: key, request)
            await after(key, request)
            return reply
        }
    }

    /// Seconds added to the entities' clock, so a test can let reservations expire.
    final class ClockOffset: Sendable {
        let seconds = Mutex<Double>(0)
        func advance(_ delta: Double) { seconds.withLock { $0 += delta } }
        var now: Double { Date().timeIntervalSince1970 + seconds.withLock { $0 } }
    }

    static func withNode(
        _ body: @Sendable (_ transport: NodeEntityTransport, _ clock: ClockOffset) async throws -> Void
    ) async throws {
        let clock = ClockOffset()
        try await StandaloneAccountsNode.with(clock: { clock.now }) { running in
            try await body(running.transport, clock)
        }
    }

    static func accounts(_ transport: any EntityTransport) async -> AccountService {
        await AccountService(
            tokenSecret: "saga",
            hasher: PasswordHasher(rounds: 1 << 10),
            entities: Entities(transport)
        )
    }

    static func kind(of body: () async throws -> Void) async -> AccountService.Failure.Kind? {
        do {
            try await body()
            return nil
        } catch let failure as AccountService.Failure {
            return failure.kind
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aSignupWhoseConfirmationsGotNoAnswerIsFinishedByTheNextLogin() async throws {
        try await Self.withNode { transport, clock in
            // The node never sees the confirmations; the signup's client gets `timeout`.
            var hooked = HookedTransport(inner: transport)
            hooked.before = { _, request in
                guard let request = request as? EntityRequest<NameReservationKind>, case .command(.confirm) = request
                else {
                    return nil
                }
                return ClusterFailure(ReplicationError.timeout)
            }
            let lossy = await Self.accounts(hooked)
            let plain = await Self.accounts(transport)
            let signup = await Self.kind {
                _ = try await lossy.signup(username: "frank", email: "frank@example.com", password: "frank's password")
            }
            #expect(signup == .timeout)
            // The wrong password finishes nothing.
            let wrong = await Self.kind {
                _ = try await plain.login(username: "frank", email: nil, password: "a guess!")
            }
            #expect(wrong == .badCredentials)
            // The right one logs in, and the account is now whole: by email too, and its names
            // stay taken after the reservation time-to-live.
            let tokens = try await plain.login(username: "frank", email: nil, password: "frank's password")
            #expect(tokens.user.username == "frank")
            clock.advance(NameReservation.reservationTTL * 2)
            let byEmail = try await plain.login(username: nil, email: "frank@example.com", password: "frank's password")
            #expect(byEmail.user.id == tokens.user.id)
            let thief = await Self.kind {
                _ = try await plain.signup(username: "Frank", email: "thief@example.com", password: "another password")
            }
            #expect(thief == .usernameTaken)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aSignupThatLostItsReservationAnswersTakenAndGivesItsOtherNameBack() async throws {
        try await Self.withNode { transport, clock in
            let plain = await Self.accounts(transport)
            // Right after the slow signup creates its user, its reservations expire and another
            // signup takes the username.
            var hooked = HookedTransport(inner: transport)
            hooked.after = { _, request in
                guard let request = request as? EntityRequest<UserKind>, case .command(.create) = request else {
                    return
                }
                clock.advance(NameReservation.reservationTTL + 1)
                _ = try? await plain.signup(
                    username: "grace",
                    email: "grace@example.org",
                    password: "the thief's password"
                )
            }
            let slow = await Self.accounts(hooked)
            let signup = await Self.kind {
                _ = try await slow.signup(username: "grace", email: "grace@example.com", password: "grace's password")
            }
            #expect(signup == .usernameTaken)
            // The name belongs to the one account that was acknowledged …
            let winner = try await plain.login(username: "GRACE", email: nil, password: "the thief's password")
            #expect(winner.user.email == "grace@example.org")
            let loser = await Self.kind {
                _ = try await plain.login(username: "grace", email: nil, password: "grace's password")
            }
            #expect(loser == .badCredentials)
            // … and the failed signup's email (confirmed before it lost the username) is free again.
            let again = try await plain.signup(
                username: "grace2",
                email: "grace@example.com",
                password: "grace's password"
            )
            #expect(again.user.username == "grace2")
        }
    }
}
