/// Token buckets by key: each key may spend `burst` tokens at once, and they refill at
/// `refillPerSecond`.
///
/// A pure value: time comes in as `now` (seconds on any monotonic clock). The table is bounded
/// by `keysMax`: a full bucket is the same as no bucket, so full ones are dropped first; if
/// every bucket is in use, the one spent from longest ago is forgotten (that key starts afresh)
/// rather than the table growing — never a busy key an attacker is being braked on.
public struct RateLimiter: Sendable {
    /// The allowance of each key.
    public struct Rule: Sendable, Equatable {
        /// Tokens a key may spend at once (a bucket's capacity).
        public var burst: Double
        /// Tokens added per second, up to `burst`.
        public var refillPerSecond: Double

        public init(burst: Double, refillPerSecond: Double) {
            precondition(
                burst >= 1 && refillPerSecond > 0,
                "a rate limit needs a burst of at least 1 and a positive refill"
            )
            self.burst = burst
            self.refillPerSecond = refillPerSecond
        }
    }

    /// Whether a key may go on.
    public enum Decision: Sendable, Equatable {
        case allowed
        /// Not now: one token will be back in this many seconds (at least 1).
        case limited(retryAfterSeconds: Int)
    }

    struct Bucket: Sendable {
        var tokens: Double
        var updatedAt: Double
    }

    public let rule: Rule
    public let keysMax: Int
    private var buckets: [String: Bucket] = [:]
    private var prunedAt = -Double.infinity
    /// Keys in the order their buckets were last spent from, oldest first, from `head` on
    /// (an entry is stale once its key was spent from again, or dropped: its bucket's
    /// `updatedAt` no longer matches). Compacted when stale entries outnumber the buckets.
    private var order: [(key: String, at: Double)] = []
    private var head = 0

    public init(rule: Rule, keysMax: Int = 100_000) {
        precondition(keysMax >= 1, "a rate limiter tracks at least one key")
        self.rule = rule
        self.keysMax = keysMax
    }

    /// How many keys have a bucket that is not full.
    public var trackedKeys: Int { buckets.count }

    /// Whether `key` has a token now, without spending it.
    public func check(_ key: String, now: Double) -> Decision {
        decision(tokens: tokens(of: key, now: now))
    }

    /// Spends one token of `key` if it has one.
    public mutating func take(_ key: String, now: Double) -> Decision {
        let available = tokens(of: key, now: now)
        guard available >= 1 else { return decision(tokens: available) }
        if buckets[key] == nil { makeRoom(now: now) }
        buckets[key] = Bucket(tokens: available - 1, updatedAt: now)
        noteSpent(key, at: now)
        return .allowed
    }

    /// Gives one token back to `key` (a request admitted in advance that turned out not to
    /// count), up to its burst.
    public mutating func refund(_ key: String, now: Double) {
        guard buckets[key] != nil else { return }
        let tokens = min(rule.burst, tokens(of: key, now: now) + 1)
        buckets[key] = tokens >= rule.burst ? nil : Bucket(tokens: tokens, updatedAt: now)
        if buckets[key] != nil { noteSpent(key, at: now) }
    }

    /// Gives `key` its whole burst again.
    public mutating func reset(_ key: String) {
        buckets[key] = nil
    }

    // MARK: - Internals

    func tokens(of key: String, now: Double) -> Double {
        guard let bucket = buckets[key] else { return rule.burst }
        let elapsed = max(0, now - bucket.updatedAt)
        return min(rule.burst, bucket.tokens + elapsed * rule.refillPerSecond)
    }

    func decision(tokens: Double) -> Decision {
        if tokens >= 1 { return .allowed }
        let seconds = ((1 - tokens) / rule.refillPerSecond).rounded(.up)
        return .limited(retryAfterSeconds: max(1, Int(min(seconds, 86_400 * 365))))
    }

    /// Keeps the table under `keysMax` before a key is added: drops the buckets that have
    /// refilled (at most once a second, so a flood of new keys does not rescan the table on
    /// every request), then, if still full, one arbitrary bucket.
    mutating func makeRoom(now: Double) {
        guard buckets.count >= keysMax else { return }
        if now - prunedAt >= 1 {
            prunedAt = now
            let rule = rule
            buckets = buckets.filter { _, bucket in
                bucket.tokens + max(0, now - bucket.updatedAt) * rule.refillPerSecond < rule.burst
            }
        }
        // Forget the bucket spent from longest ago.
        while buckets.count >= keysMax, head < order.count {
            let (key, at) = order[head]
            head += 1
            if buckets[key]?.updatedAt == at { buckets[key] = nil }
        }
    }

    private mutating func noteSpent(_ key: String, at now: Double) {
        order.append((key, now))
        if order.count > 2 * max(buckets.count, 1024) {
            // Keep only the live entries, still oldest first.
            let buckets = buckets
            order = order[head...].filter { buckets[$0.key]?.updatedAt == $0.at }
            head = 0
        }
    }
}
