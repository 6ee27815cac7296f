import ClusterCore
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Testing

/// The authentication brakes as a client meets them: 429 with `Retry-After` past a client
/// address's allowance or an account's failed logins, and everyone else unaffected.
@Suite(.serialized) struct AuthThrottleRouteTests {
    typealias Routes = AccountsRouteTests

    static func login(_ client: any TestClientProtocol, _ name: String, _ password: String, from address: String? = nil)
        async throws -> TestResponse
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let address { headers[.init("X-Forwarded-For")!] = address }
        return try await client.execute(
            uri: "/v1/auth/login",
            method: .post,
            headers: headers,
            body: ByteBuffer(string: #"{"username":"\#(name)","password":"\#(password)"}"#)
        )
    }

    @Test(.timeLimit(.minutes(1)))
    func failedLoginsForOneAccountAreRefusedUntilItsRefillWhileOthersGoOn() async throws {
        var limits = AuthLimits()
        limits.loginFailuresBurst = 3
        limits.loginFailureRefill = .seconds(600)
        try await Routes.withNode(authLimits: limits) { client in
            for name in ["dora", "eve"] {
                let signup = try await Routes.post(
                    client,
                    "/v1/auth/signup",
                    #"{"username":"\#(name)","email":"\#(name)@example.com","password":"correct horse"}"#
                )
                #expect(signup.status == .created)
            }
            // Two failures, then the right password: a success clears the failures …
            for _ in 0..<2 { #expect(try await Self.login(client, "dora", "guess").status == .unauthorized) }
            #expect(try await Self.login(client, "dora", "correct horse").status == .ok)
            // … so three more guesses are answered as usual,
            for _ in 0..<3 { #expect(try await Self.login(client, "DORA", "guess").status == .unauthorized) }
            // and then the account refuses every attempt, the right password too, for a while.
            let refused = try await Self.login(client, "dora", "correct horse")
            #expect(refused.status == .tooManyRequests)
            #expect(try Routes.errorCode(refused) == "too_many_failed_logins")
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((550...600).contains(retryAfter))
            // Another account is untouched.
            #expect(try await Self.login(client, "eve", "correct horse").status == .ok)
            // With an empty username the email is the name: failures by eve's email brake that
            // email only, not every login that leaves the username empty.
            func byEmail(_ email: String, _ password: String) async throws -> TestResponse {
                try await Routes.post(
                    client,
                    "/v1/auth/login",
                    #"{"username":"","email":"\#(email)","password":"\#(password)"}"#
                )
            }
            for _ in 0..<3 { #expect(try await byEmail("eve@example.com", "a guess").status == .unauthorized) }
            #expect(try await byEmail("eve@example.com", "correct horse").status == .tooManyRequests)
            #expect(try await byEmail("dora@example.com", "correct horse").status == .ok)
            // Guesses at a name with no account are braked the same way (no hint that it is free).
            for _ in 0..<3 { #expect(try await Self.login(client, "nobody", "guess").status == .unauthorized) }
            #expect(try await Self.login(client, "nobody", "guess").status == .tooManyRequests)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aClientAddressPastItsBurstGets429AndOthersGoOn() async throws {
        var limits = AuthLimits()
        limits.requestsBurst = 3
        limits.requestsPerMinute = 1
        limits.clientAddressHeader = "X-Forwarded-For"
        try await Routes.withNode(authLimits: limits) { client in
            for _ in 0..<3 {
                #expect(try await Self.login(client, "someone", "guess", from: "203.0.113.7").status == .unauthorized)
            }
            let refused = try await Self.login(client, "someone", "guess", from: "203.0.113.7")
            #expect(refused.status == .tooManyRequests)
            #expect(try Routes.errorCode(refused) == "rate_limited")
            // One request a minute: the next is due a minute after the burst began (less the
            // time the four requests took).
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((45...60).contains(retryAfter))
            // A forged first entry does not help: the last entry is the address the proxy saw.
            let forged = try await Self.login(client, "someone", "guess", from: "198.51.100.1, 203.0.113.7")
            #expect(forged.status == .tooManyRequests)
            // Another client has its own allowance, and routes that need no password are not braked.
            #expect(try await Self.login(client, "someone", "guess", from: "203.0.113.8").status == .unauthorized)
            let health = try await client.execute(
                uri: "/health",
                method: .get,
                headers: [.init("X-Forwarded-For")!: "203.0.113.7"]
            )
            #expect(health.status == .ok)
        }
    }

    /// Over real TCP connections with no proxy header configured, the peer's address is the key.
    @Test(.timeLimit(.minutes(1)))
    func withoutAProxyHeaderTheConnectionsAddressIsTheKey() async throws {
        var limits = AuthLimits()
        limits.requestsBurst = 2
        limits.requestsPerMinute = 1
        try await Routes.withNode(authLimits: limits, testing: .live) { client in
            // The header is not trusted when it is not configured: every request is 127.0.0.1.
            #expect(try await Self.login(client, "someone", "guess", from: "203.0.113.1").status == .unauthorized)
            #expect(try await Self.login(client, "someone", "guess", from: "203.0.113.2").status == .unauthorized)
            let refused = try await Self.login(client, "someone", "guess", from: "203.0.113.3")
            #expect(refused.status == .tooManyRequests)
            #expect(try Routes.errorCode(refused) == "rate_limited")
        }
    }

    static func signup(_ client: any TestClientProtocol, _ name: String) async throws {
        let response = try await Routes.post(
            client,
            "/v1/auth/signup",
            #"{"username":"\#(name)","email":"\#(name)@example.com","password":"correct horse"}"#
        )
        #expect(response.status == .created)
    }

    static func failureLimits(burst: Int) -> AuthLimits {
        var limits = AuthLimits()
        limits.loginFailuresBurst = burst
        limits.loginFailureRefill = .seconds(600)
        limits.clientAddressHeader = "X-Forwarded-For"
        return limits
    }

    /// A stranger guessing at a player's name locks out only themselves: the player, from
    /// their own address, still logs in.
    @Test(.timeLimit(.minutes(1)))
    func aStrangersGuessesLockOutOnlyTheStranger() async throws {
        try await Routes.withNode(authLimits: Self.failureLimits(burst: 3)) { client in
            try await Self.signup(client, "dora")
            for _ in 0..<3 {
                #expect(try await Self.login(client, "dora", "guess", from: "198.51.100.9").status == .unauthorized)
            }
            let stranger = try await Self.login(client, "dora", "correct horse", from: "198.51.100.9")
            #expect(stranger.status == .tooManyRequests)
            #expect(try Routes.errorCode(stranger) == "too_many_failed_logins")
            #expect(try await Self.login(client, "dora", "correct horse", from: "203.0.113.7").status == .ok)
        }
    }

    /// Guesses spread over many addresses meet the looser brake per name: ten times the burst.
    @Test(.timeLimit(.minutes(1)))
    func guessesSpreadOverAddressesMeetTheBrakePerName() async throws {
        try await Routes.withNode(authLimits: Self.failureLimits(burst: 3)) { client in
            try await Self.signup(client, "erin")
            for address in 0..<10 {
                for _ in 0..<3 {
                    let guess = try await Self.login(client, "erin", "guess", from: "198.51.100.\(address)")
                    #expect(guess.status == .unauthorized, "address \(address)")
                }
            }
            let refused = try await Self.login(client, "erin", "correct horse", from: "203.0.113.7")
            #expect(refused.status == .tooManyRequests)
            #expect(try Routes.errorCode(refused) == "too_many_failed_logins")
        }
    }

    /// Failure tokens are spent at admission: guesses sent at once cannot all pass the check
    /// before the first failure is counted.
    @Test(.timeLimit(.minutes(1)))
    func concurrentGuessesCannotRacePastTheBrake() async throws {
        try await Routes.withNode(authLimits: Self.failureLimits(burst: 3)) { client in
            try await Self.signup(client, "finn")
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<12 {
                    group.addTask { try await Self.login(client, "finn", "guess", from: "198.51.100.1").status }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.count { $0 == .unauthorized } == 3, "\(statuses)")
            #expect(statuses.count { $0 == .tooManyRequests } == 9, "\(statuses)")
        }
    }

    /// A login for a name nobody has costs a password check too (against a dummy hash), and
    /// password checks past the node's bound are refused with 503 `overloaded`: with a bound of
    /// none, an unknown name is refused for load — it was about to be checked.
    @Test(.timeLimit(.minutes(1)))
    func unknownNamesCostACheckAndChecksAreBounded() async throws {
        try await Routes.withNode(hashesMax: 0) { client in
            let unknown = try await Self.login(client, "nobody_here", "guess")
            #expect(unknown.status == .serviceUnavailable)
            #expect(try Routes.errorCode(unknown) == "overloaded")
            #expect(unknown.headers[.retryAfter] == "1")
            let signup = try await Routes.post(
                client,
                "/v1/auth/signup",
                #"{"username":"gwen","email":"gwen@example.com","password":"correct horse"}"#
            )
            #expect(signup.status == .serviceUnavailable)
            #expect(try Routes.errorCode(signup) == "overloaded")
        }
    }
}
