import ClusterCore
import Foundation
import Hummingbird
import Metrics
import NIOCore
import Synchronization

/// The HTTP edge's brakes, as ``AuthLimits`` describes them: one ``RateLimiter`` per client
/// address for sign-up, login and refresh; for failed logins one per login name *and* client
/// address (`login_failures_burst`, one back per `login_failure_refill_s`), and a looser one per
/// name alone (ten times the burst, refilling three times as fast) against guesses spread over
/// many addresses — so a stranger guessing at a name locks out only themselves; one per
/// signed-in user for writes. Shared by every request a node serves; each node keeps its own.
///
/// A login spends its failure tokens when it is admitted, not when it fails, so concurrent
/// guesses cannot all pass the check before the first failure is counted; a success or an
/// answer that is not about the password gives them back.
public final class AuthThrottle: Sendable {
    public let limits: AuthLimits
    private let clients: Mutex<RateLimiter>
    private let loginFailures: Mutex<RateLimiter>
    private let nameFailures: Mutex<RateLimiter>
    private let userWrites: Mutex<RateLimiter>
    /// The client-address header's name, lowercased (as HTTP field names compare).
    private let header: String?
    /// Requests answered 429, by code (`plume_auth_refused_total{reason=rate_limited|too_many_failed_logins}`).
    private let refusedByAddress = Counter(label: "plume_auth_refused_total", dimensions: [("reason", "rate_limited")])
    private let refusedByName = Counter(
        label: "plume_auth_refused_total",
        dimensions: [("reason", "too_many_failed_logins")]
    )
    /// Logins refused for a wrong password or an unknown name (`plume_login_failures_total`).
    private let loginFailuresCounted = Counter(label: "plume_login_failures_total")
    private let refusedWrites = Counter(label: "plume_auth_refused_total", dimensions: [("reason", "user_writes")])
    /// Seconds on a monotonic clock.
    private let clock: @Sendable () -> Double

    public init(limits: AuthLimits, clock: @escaping @Sendable () -> Double = AuthThrottle.monotonicSeconds) {
        self.limits = limits
        clients = Mutex(
            RateLimiter(
                rule: .init(burst: Double(limits.requestsBurst), refillPerSecond: Double(limits.requestsPerMinute) / 60)
            )
        )
        loginFailures = Mutex(
            RateLimiter(
                rule: .init(
                    burst: Double(limits.loginFailuresBurst),
                    refillPerSecond: 1e3 / max(1, limits.loginFailureRefill.milliseconds)
                )
            )
        )
        userWrites = Mutex(
            RateLimiter(
                rule: .init(
                    burst: Double(limits.userWritesBurst),
                    refillPerSecond: Double(limits.userWritesPerMinute) / 60
                )
            )
        )
        nameFailures = Mutex(
            RateLimiter(
                rule: .init(
                    burst: Double(limits.loginFailuresBurst * 10),
                    refillPerSecond: 3e3 / max(1, limits.loginFailureRefill.milliseconds)
                )
            )
        )
        header = limits.clientAddressHeader?.lowercased()
        self.clock = clock
    }

    private static let origin = ContinuousClock.now

    /// Seconds since this process first asked, on `ContinuousClock`.
    public static func monotonicSeconds() -> Double {
        Double((ContinuousClock.now - origin).nanosecondsClamped) / 1e9
    }

    /// Who is asking: the last entry of the configured client-address header (the address the
    /// proxy in front of the node saw; earlier entries are whatever the client claimed), else
    /// the TCP peer's address. An IPv6 client is its /64 (one subscriber's network: a client
    /// holds a whole /64 and could otherwise take a fresh bucket per address).
    public func clientAddress(headers: HTTPFields, peer: SocketAddress?) -> String {
        if let header, let field = headers.last(where: { $0.name.canonicalName == header }),
            case let last = field.value.split(separator: ",").last?.trimmingCharacters(in: .whitespaces) ?? "",
            !last.isEmpty
        {
            // An address is short (IPv6 at most 45 characters): anything longer shares one
            // bucket, so forged values cannot fill the table with large keys.
            return last.utf8.count <= 64 ? Self.clientKey(last) : "(malformed)"
        }
        return peer?.ipAddress.map(Self.clientKey) ?? "unknown"
    }

    /// An IPv4 address as it is; an IPv6 address as its /64 (`2001:db8:1:2::/64`); anything
    /// else as it is.
    static func clientKey(_ address: String) -> String {
        guard address.contains(":") else { return address }
        var bytes = in6_addr()
        guard inet_pton(AF_INET6, address, &bytes) == 1 else { return address }
        let prefix = withUnsafeBytes(of: bytes) { raw in
            (0..<4).map { String(UInt16(raw[2 * $0]) << 8 | UInt16(raw[2 * $0 + 1]), radix: 16) }
        }
        return prefix.joined(separator: ":") + "::/64"
    }

    /// Spends one of `client`'s sign-up, login and refresh requests, or refuses with 429.
    public func admit(client: String) throws(APIError) {
        try Self.refuse(
            clients.withLock { $0.take(client, now: clock()) },
            code: "rate_limited",
            reason: "too many sign-up, login or refresh requests from this address",
            counting: refusedByAddress
        )
    }

    /// Spends one of the signed-in user's writes, or refuses with 429.
    public func admit(writeBy userID: String) throws(APIError) {
        try Self.refuse(
            userWrites.withLock { $0.take(userID, now: clock()) },
            code: "rate_limited",
            reason: "too many writes by this user",
            counting: refusedWrites
        )
    }

    /// Admits a login for `name` from `client`, spending one failure token of the pair and one
    /// of the name in advance; refuses with 429 when either has none left.
    public func admitLogin(name: String, client: String) throws(APIError) {
        let now = clock()
        let pair = Self.pairKey(name, client)
        var decision = loginFailures.withLock { $0.take(pair, now: now) }
        if decision == .allowed {
            decision = nameFailures.withLock { $0.take(Self.loginKey(name), now: now) }
            if decision != .allowed { loginFailures.withLock { $0.refund(pair, now: now) } }
        }
        try Self.refuse(
            decision,
            code: "too_many_failed_logins",
            reason: "too many failed logins for this account",
            counting: refusedByName
        )
    }

    /// A limited decision as the 429 a client sees, with `Retry-After`.
    private static func refuse(
        _ decision: RateLimiter.Decision,
        code: String,
        reason: String,
        counting counter: Counter
    )
        throws(APIError)
    {
        guard case .limited(let seconds) = decision else { return }
        counter.increment()
        throw APIError(
            .tooManyRequests,
            code: code,
            message: "\(reason); retry in \(seconds) s",
            retryAfterSeconds: seconds
        )
    }

    /// A failed login (wrong password or unknown name): the tokens admission took stay spent.
    public func loginFailed() {
        loginFailuresCounted.increment()
    }

    /// A successful login clears the failures of `name` from `client`, and gives back the
    /// name's token.
    public func loginSucceeded(name: String, client: String) {
        loginFailures.withLock { $0.reset(Self.pairKey(name, client)) }
        nameFailures.withLock { $0.refund(Self.loginKey(name), now: clock()) }
    }

    /// A login that ended without a verdict on the password (the cluster could not answer, the
    /// body was refused): both tokens come back.
    public func loginUndecided(name: String, client: String) {
        let now = clock()
        loginFailures.withLock { $0.refund(Self.pairKey(name, client), now: now) }
        nameFailures.withLock { $0.refund(Self.loginKey(name), now: now) }
    }

    static func pairKey(_ name: String, _ client: String) -> String { loginKey(name) + "\u{0}" + client }

    /// Login names compare as the accounts service compares them: case-insensitively.
    /// Names longer than any username or email share one bucket (no account has them), so
    /// guesses cannot fill the table with large keys.
    static func loginKey(_ name: String) -> String { name.utf8.count <= 320 ? name.lowercased() : "(too long)" }
}
