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

    @Test func aRefundGivesOneTokenBackUpToTheBurst() {
        var limiter = RateLimiter(rule: .init(burst: 2, refillPerSecond: 1.0 / 60))
        _ = limiter.take("k", now: 0)
        _ = limiter.take("k", now: 0)
        #expect(limiter.take("k", now: 0) != .allowed)
        limiter.refund("k", now: 0)
        #expect(limiter.take("k", now: 0) == .allowed)
        #expect(limiter.take("k", now: 0) != .allowed)
        // Never past the burst: a full bucket is no bucket.
        limiter.refund("k", now: 0)
        limiter.refund("k", now: 0)
        limiter.refund("k", now: 0)
        #expect(limiter.trackedKeys == 0)
    }

    /// When every bucket is in use, the one spent from longest ago goes — not a key that is
    /// being braked right now.
    @Test func aFullTableForgetsTheBucketSpentFromLongestAgo() {
        var limiter = RateLimiter(rule: .init(burst: 3, refillPerSecond: 1.0 / 3600), keysMax: 3)
        _ = limiter.take("old", now: 0)
        _ = limiter.take("braked", now: 1)
        _ = limiter.take("braked", now: 1)
        _ = limiter.take("middle", now: 2)
        _ = limiter.take("braked", now: 3)  // out of tokens, and the most recently spent
        _ = limiter.take("new", now: 4)
        #expect(limiter.trackedKeys == 3)
        #expect(limiter.check("braked", now: 4) != .allowed, "the braked key was forgotten")
        #expect(limiter.check("middle", now: 4) == .allowed)
        // "old" went: it has its whole burst again (three takes allowed).
        for _ in 0..<3 { #expect(limiter.take("old", now: 5) == .allowed) }
        // … which made room by forgetting "middle", spent from longest ago now.
        #expect(limiter.check("braked", now: 5) != .allowed)
        // Many rounds never grow the order list past a few times the table.
        for round in 0..<5_000 { _ = limiter.take("k\(round % 7)", now: 10 + Double(round)) }
        #expect(limiter.trackedKeys <= 3)
    }

    /// IPv6 clients are keyed by their /64; IPv4 and malformed text as they are.
    @Test func ipv6ClientsAreTheirSlash64() {
        #expect(AuthThrottle.clientKey("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64")
        #expect(AuthThrottle.clientKey("2001:0db8:0001:0002:bbbb:cccc:dddd:eeee") == "2001:db8:1:2::/64")
        #expect(AuthThrottle.clientKey("2001:db8:1:3::1") == "2001:db8:1:3::/64")
        #expect(AuthThrottle.clientKey("::1") == "0:0:0:0::/64")
        #expect(AuthThrottle.clientKey("203.0.113.7") == "203.0.113.7")
        #expect(AuthThrottle.clientKey("not:an:address") == "not:an:address")
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
                == "2001:db8:0:0::/64"
        )
        #expect(AuthThrottle.loginKey(long) == AuthThrottle.loginKey(long + "b"))
        #expect(AuthThrottle.loginKey("Ada@Example.com") == "ada@example.com")
    }
}
