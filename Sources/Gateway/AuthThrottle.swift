import ClusterCore
import Foundation
import Hummingbird
import Metrics
import NIOCore
import Synchronization

/// The HTTP edge's brakes, as ``AuthLimits`` describes them: one ``RateLimiter`` per client
/// address for sign-up, login and refresh, one per login name for failed logins, one per
/// signed-in user for writes. Shared by every request a node serves; each node keeps its own.
public final class AuthThrottle: Sendable {
    public let limits: AuthLimits
    private let clients: Mutex<RateLimiter>
    private let loginFailures: Mutex<RateLimiter>
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
    /// the TCP peer's address.
    public func clientAddress(headers: HTTPFields, peer: SocketAddress?) -> String {
        if let header, let field = headers.last(where: { $0.name.canonicalName == header }),
            case let last = field.value.split(separator: ",").last?.trimmingCharacters(in: .whitespaces) ?? "",
            !last.isEmpty
        {
            // An address is short (IPv6 at most 45 characters): anything longer shares one
            // bucket, so forged values cannot fill the table with large keys.
            return last.utf8.count <= 64 ? last : "(malformed)"
        }
        return peer?.ipAddress ?? "unknown"
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

    /// Refuses with 429 a login for `name` that has used up its failures.
    public func admitLogin(name: String) throws(APIError) {
        try Self.refuse(
            loginFailures.withLock { $0.check(Self.loginKey(name), now: clock()) },
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

    /// Counts a failed login (wrong password or unknown name) against `name`.
    public func loginFailed(name: String) {
        loginFailuresCounted.increment()
        _ = loginFailures.withLock { $0.take(Self.loginKey(name), now: clock()) }
    }

    /// A successful login clears `name`'s failures.
    public func loginSucceeded(name: String) {
        loginFailures.withLock { $0.reset(Self.loginKey(name)) }
    }

    /// Login names compare as the accounts service compares them: case-insensitively.
    /// Names longer than any username or email share one bucket (no account has them), so
    /// guesses cannot fill the table with large keys.
    static func loginKey(_ name: String) -> String { name.utf8.count <= 320 ? name.lowercased() : "(too long)" }
}
