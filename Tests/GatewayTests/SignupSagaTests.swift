import ClusterCore
import ClusterRuntime
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
    typealias Ask = @Sendable (String, EntityCodec.Command) async throws -> EntityCodec.Reply

    /// Seconds added to the entities' clock, so a test can let reservations expire.
    final class ClockOffset: Sendable {
        let seconds = Mutex<Double>(0)
        func advance(_ delta: Double) { seconds.withLock { $0 += delta } }
        var now: Double { Date().timeIntervalSince1970 + seconds.withLock { $0 } }
    }

    static func withNode(_ body: @Sendable (_ ask: @escaping Ask, _ clock: ClockOffset) async throws -> Void)
        async throws
    {
        let clock = ClockOffset()
        try await StandaloneAccountsNode.with(clock: { clock.now }) { running in try await body(running.ask, clock) }
    }

    static func accounts(_ ask: @escaping Ask) async -> AccountService {
        await AccountService(tokenSecret: "saga", hasher: PasswordHasher(rounds: 1 << 10), ask: ask)
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
        try await Self.withNode { ask, clock in
            // The node never sees the confirmations; the signup's client gets `timeout`.
            let lossy = await Self.accounts { key, command in
                if case .name(.confirm) = command { throw AccountService.Failure.cluster(ReplicationError.timeout) }
                return try await ask(key, command)
            }
            let plain = await Self.accounts(ask)
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
        try await Self.withNode { ask, clock in
            let plain = await Self.accounts(ask)
            // Right after the slow signup creates its user, its reservations expire and another
            // signup takes the username.
            let slow = await Self.accounts { key, command in
                let reply = try await ask(key, command)
                if case .user(.create) = command {
                    clock.advance(NameReservation.reservationTTL + 1)
                    _ = try await plain.signup(
                        username: "grace",
                        email: "grace@example.org",
                        password: "the thief's password"
                    )
                }
                return reply
            }
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
