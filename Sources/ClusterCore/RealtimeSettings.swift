/// The real-time edge: WebSocket sessions, presence and chat (`[realtime]` in `cluster.conf`).
public struct RealtimeSettings: Sendable, Equatable {
    /// How long a user whose last socket's node was lost shows `reconnecting` before `offline`;
    /// a `resume_token` restores its session within it (`reconnect_grace_ms`).
    public var reconnectGrace: Duration = .milliseconds(30_000)
    /// The largest WebSocket frame a client may send; a larger one closes the socket with 1009
    /// (`max_frame_bytes`).
    public var maxFrameBytes = 65_536
    /// Frames queued for one socket; a client that lets more pile up is disconnected
    /// (`send_queue_max`).
    public var sendQueueMax = 1024
    /// How often the server pings an idle socket, and the keepalive it announces in `welcome`
    /// (`heartbeat_ms`).
    public var heartbeat: Duration = .milliseconds(15_000)
    /// Direct messages one user may send at once (REST and WebSocket together) …
    /// (`chat_burst`)
    public var chatBurst = 20
    /// … and how many more per minute after that (`chat_per_minute`).
    public var chatPerMinute = 120

    public init() {}

    public static let reconnectGraceMillisecondsRange = 1000...3_600_000
    public static let maxFrameBytesRange = 1024...16_777_216
    public static let sendQueueMaxRange = 16...1_000_000
    public static let heartbeatMillisecondsRange = 1000...600_000
    public static let chatBurstRange = 1...100_000
    public static let chatPerMinuteRange = 1...6_000_000
}
