/// Lobbies (`[lobbies]` in `cluster.conf`).
public struct LobbySettings: Sendable, Equatable {
    /// How long a lobby with no member is kept before it is deleted (`empty_ttl_ms`).
    public var emptyTTL: Duration = .milliseconds(60_000)
    /// How long an invite holds a seat for the invitee (`seat_hold_ms`).
    public var seatHold: Duration = .milliseconds(30_000)
    /// Where started lobbies' games run, `host:port`, handed out in turn (`game_servers`).
    public var gameServers: [String] = ["127.0.0.1:7777"]

    public init() {}

    public static let emptyTTLMillisecondsRange = 0...86_400_000
    public static let seatHoldMillisecondsRange = 1000...3_600_000
}

/// The matchmaker (`[matchmaking]` in `cluster.conf`).
public struct MatchmakingSettings: Sendable, Equatable {
    /// How long a ticket waits before it expires (`ticket_ttl_ms`).
    public var ticketTTL: Duration = .milliseconds(300_000)
    /// Tickets one queue holds at most; past it an enqueue is refused (`tickets_per_queue_max`).
    public var ticketsPerQueueMax = 100_000
    /// The skill difference two tickets may have when they start waiting (`skill_window_start`) …
    public var skillWindowStart = 100.0
    /// … and how much it widens per second of waiting (`skill_window_growth_per_s`).
    public var skillWindowGrowthPerSecond = 50.0
    /// How often each queue's primary runs a matching round (`interval_ms`); an enqueue runs one too.
    public var interval: Duration = .milliseconds(1000)

    public init() {}

    public static let ticketTTLMillisecondsRange = 1000...86_400_000
    public static let ticketsPerQueueMaxRange = 1...1_000_000
    public static let skillWindowRange = 0.0...1e9
    public static let intervalMillisecondsRange = 10...60_000
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
