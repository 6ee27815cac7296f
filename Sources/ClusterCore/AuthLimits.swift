/// How much the HTTP edge of a node accepts from one client: `[gateway]` in `cluster.conf`.
///
/// Three brakes, each a token bucket (a burst, then a steady refill):
/// - per **client address**, on sign-up, login and refresh: each of them costs a scrypt hash
///   (tens of milliseconds of CPU by design) or mints tokens, so one client cannot take a
///   node's cores;
/// - per **login name** (the username or email as typed, case-insensitively), on *failed*
///   logins only: password guessing against one account slows to the refill rate, while other
///   accounts and the account's own successful login (which clears its failures) are untouched;
/// - per **signed-in user**, on every request that writes (all but GET, HEAD and OPTIONS): one
///   user's client cannot flood the cluster with commands.
///
/// All are kept by each node for itself: a client that spreads its attempts over `n` nodes
/// gets `n` allowances.
public struct AuthLimits: Sendable, Equatable {
    /// Sign-up, login and refresh requests one client address may make at once …
    public var requestsBurst = 30
    /// … and how many more it may make per minute after that.
    public var requestsPerMinute = 300
    /// Failed logins one login name may collect before further attempts for it answer 429 …
    public var loginFailuresBurst = 10
    /// … and how often it may fail once more after that.
    public var loginFailureRefill: Duration = .seconds(30)
    /// The request header that names the client when nodes sit behind a proxy or load balancer
    /// (e.g. `X-Forwarded-For`, whose first entry is the client); `nil`: the TCP peer's address.
    public var clientAddressHeader: String?
    /// Writes (every request but GET, HEAD and OPTIONS) one signed-in user may make at once …
    public var userWritesBurst = 60
    /// … and how many more per minute after that.
    public var userWritesPerMinute = 600

    public init() {}

    /// `gateway.auth_burst`.
    public static let requestsBurstRange = 1...100_000
    /// `gateway.auth_per_minute`.
    public static let requestsPerMinuteRange = 1...6_000_000
    /// `gateway.login_failures_burst`.
    public static let loginFailuresBurstRange = 1...10_000
    /// `gateway.login_failure_refill_s`.
    public static let loginFailureRefillSecondsRange = 1...86_400
    /// `gateway.user_writes_burst`.
    public static let userWritesBurstRange = 1...100_000
    /// `gateway.user_writes_per_minute`.
    public static let userWritesPerMinuteRange = 1...6_000_000

    /// Whether `name` can be an HTTP header name (an RFC 9110 token).
    public static func isHeaderName(_ name: String) -> Bool {
        let allowed = Set("!#$%&'*+-.^_`|~".utf8)
        return !name.isEmpty && name.utf8.count <= 256
            && name.utf8.allSatisfy {
                allowed.contains($0) || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0)
                    || (0x61...0x7A).contains($0)
            }
    }
}
