import ClusterCore
import Hummingbird
import Testing

@testable import Gateway

/// The token buckets behind the authentication brakes, driven with a manual clock.
@Suite struct RateLimiterTests {
    @Test func aKeySpendsItsBurstThenWaitsForTheRefill() {
        var limiter = RateLimiter(rule: .init(burst: 3, refillPerSecond: 0.5))
        for _ in 0..<3 { #expect(limiter.take("a", now: 10) == .allowed) }
        #expect(limiter.take("a", now: 10) == .limited(retryAfterSeconds: 2))
        // Half a token back after one second: still not enough, and the refusal spent nothing.
        #expect(limiter.take("a", now: 11) == .limited(retryAfterSeconds: 1))
        #expect(limiter.take("a", now: 12) == .allowed)
        #expect(limiter.take("a", now: 12) == .limited(retryAfterSeconds: 2))
        // Another key has its own bucket.
        #expect(limiter.take("b", now: 12) == .allowed)
        // A long pause refills up to the burst, never beyond it.
        for _ in 0..<3 { #expect(limiter.take("a", now: 1_000) == .allowed) }
        #expect(limiter.take("a", now: 1_000) != .allowed)
    }

    @Test func checkDoesNotSpendAndResetGivesTheBurstBack() {
        var limiter = RateLimiter(rule: .init(burst: 2, refillPerSecond: 1.0 / 30))
        #expect(limiter.check("x", now: 0) == .allowed)
        #expect(limiter.check("x", now: 0) == .allowed)
        _ = limiter.take("x", now: 0)
        _ = limiter.take("x", now: 0)
        #expect(limiter.check("x", now: 0) == .limited(retryAfterSeconds: 30))
        #expect(limiter.check("x", now: 29) == .limited(retryAfterSeconds: 1))
        #expect(limiter.check("x", now: 30) == .allowed)
        limiter.reset("x")
        #expect(limiter.trackedKeys == 0)
        #expect(limiter.take("x", now: 30) == .allowed)
        #expect(limiter.take("x", now: 30) == .allowed)
    }

    @Test func theTableStaysWithinItsBoundAndDropsRefilledBucketsFirst() {
        var limiter = RateLimiter(rule: .init(burst: 2, refillPerSecond: 1), keysMax: 100)
        // An exhausted key, then 99 keys that spend one token each.
        _ = limiter.take("victim", now: 0)
        _ = limiter.take("victim", now: 0)
        for index in 0..<99 { _ = limiter.take("k\(index)", now: 0) }
        #expect(limiter.trackedKeys == 100)
        // A flood of new keys never grows the table past its bound.
        for index in 0..<1_000 { _ = limiter.take("flood\(index)", now: 0.5) }
        #expect(limiter.trackedKeys <= 100)
        // Once the old buckets have refilled, pruning drops them and keeps the busy ones.
        var fresh = RateLimiter(rule: .init(burst: 2, refillPerSecond: 1), keysMax: 3)
        _ = fresh.take("idle", now: 0)
        _ = fresh.take("busy", now: 5)
        _ = fresh.take("busy", now: 5)
        _ = fresh.take("other", now: 5)
        _ = fresh.take("new", now: 5)
        #expect(fresh.trackedKeys == 3)
        // "busy" kept its state: it is still out of tokens.
        #expect(fresh.check("busy", now: 5) == .limited(retryAfterSeconds: 1))
    }

    /// Keys a client writes are bounded before they reach a table: overlong login names and
    /// forged proxy addresses share one bucket each.
    @Test func clientWrittenKeysAreBounded() {
        var limits = ClusterCore.AuthLimits()
        limits.clientAddressHeader = "X-Forwarded-For"
        let throttle = AuthThrottle(limits: limits)
        let long = String(repeating: "a", count: 5_000)
        #expect(
            throttle.clientAddress(headers: [.init("X-Forwarded-For")!: "10.0.0.1, " + long], peer: nil)
                == "(malformed)"
        )
        #expect(
            throttle.clientAddress(headers: [.init("X-Forwarded-For")!: "10.0.0.1, 2001:db8::1"], peer: nil)
                == "2001:db8::1"
        )
        #expect(AuthThrottle.loginKey(long) == AuthThrottle.loginKey(long + "b"))
        #expect(AuthThrottle.loginKey("Ada@Example.com") == "ada@example.com")
    }
}
