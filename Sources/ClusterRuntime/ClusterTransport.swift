import ClusterCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import WireProtocol

/// Why a message to a peer was not answered.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The peer could not be reached (connecting failed, or it is in reconnection backoff).
    case unreachable(NodeAddress)
    /// The outbound queue to the peer is full.
    case overloaded
    case timeout
    case connectionClosed
    case shutdown
    /// The peer answered with an error.
    case remote(code: String, message: String)
    case malformedResponse(String)
    /// The message would exceed the frame limit (`frameBytesMax`) and was not sent.
    case messageTooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .unreachable(let address): "peer \(address) is unreachable"
        case .overloaded: "the outbound queue to the peer is full"
        case .timeout: "the peer did not answer in time"
        case .connectionClosed: "the connection closed before the answer"
        case .shutdown: "the transport is shut down"
        case .remote(let code, let message): "peer error \(code): \(message)"
        case .malformedResponse(let detail): "malformed response: \(detail)"
        case .messageTooLarge(let bytes, let limit): "a message of \(bytes) bytes exceeds the frame limit of \(limit)"
        }
    }
}

/// A message received from an authenticated peer.
public struct InboundMessage: Sendable {
    public let message: Wire.Message
    public let from: SWIM.Peer
    /// Non-zero when the sender waits for an answer: pass it to ``ClusterTransport/respond(_:to:)``.
    public let correlationID: UInt64
    let channel: any Channel
}

/// The node-to-node transport: one authenticated, multiplexed TCP connection per peer pair.
///
/// Connections are opened on first use and keyed by the peer's cluster address. When both
/// sides dial at once, both keep the connection dialed by the node with the smaller id. A
/// peer whose connection fails is retried with exponential backoff; messages for it in the
/// meantime are dropped and counted (membership tolerates loss), and requests fail fast.
/// Every queue is bounded: messages waiting for a connection by `pendingMessagesMax`, bytes
/// buffered on a connection by `outboundBytesMax`.
public final class ClusterTransport: Sendable {
    let credentials: Wire.Handshake.Credentials
    let settings: TransportSettings
    let group: any EventLoopGroup
    let logger: Logger
    let metrics: ClusterMetrics
    private let onMessage: @Sendable (InboundMessage) -> Void
    private let state = NIOLockedValueBox(State())
    /// Per reason, when a refused connection may next be logged and how many were not since.
    private let refusalLog = NIOLockedValueBox([String: (next: NIODeadline, suppressed: Int)]())
    /// At most one warning per reason in this interval: a stranger knocking in a loop cannot
    /// flood the log (every refusal is still counted in the metrics).
    static let refusalLogInterval = TimeAmount.seconds(10)

    /// Whether a refusal for `reason` is logged now; if so, how many were left out before it.
    func refusalToLog(_ reason: String) -> Int? {
        let now = NIODeadline.now()
        return refusalLog.withLockedValue { log in
            if let entry = log[reason], entry.next > now {
                log[reason]!.suppressed += 1
                return nil
            }
            if log.count >= 64 { log.removeAll() }  // reasons are a fixed set; bounded anyway
            let suppressed = log[reason]?.suppressed ?? 0
            log[reason] = (now + Self.refusalLogInterval, 0)
            return suppressed
        }
    }

    struct State {
        var slots: [NodeAddress: Slot] = [:]
        var channels: [ObjectIdentifier: any Channel] = [:]
        /// Accepted connections still in their handshake, with their source address, and how
        /// many come from each address.
        var handshaking: [ObjectIdentifier: String] = [:]
        var handshakingFrom: [String: Int] = [:]
        var server: (any Channel)?
        var isShutdown = false
    }

    enum Slot {
        case connecting(pending: [PeerCommand], attempt: Int)
        case ready(any Channel, dialer: NodeID)
        case backoff(until: NIODeadline, attempt: Int)
    }

    public init(
        credentials: Wire.Handshake.Credentials,
        settings: TransportSettings = TransportSettings(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        metrics: ClusterMetrics = ClusterMetrics(),
        onMessage: @escaping @Sendable (InboundMessage) -> Void
    ) {
        self.credentials = credentials
        self.settings = settings
        self.group = group
        self.logger = logger
        self.metrics = metrics
        self.onMessage = onMessage
    }

    // MARK: - Listening

    /// Binds the cluster port and starts accepting peers; returns the bound address.
    @discardableResult
    public func start(host: String, port: Int) async throws -> NodeAddress {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // TCP_NODELAY is a TCP-level option: `.socketOption(.tcp_nodelay)` would set SOL_SOCKET's
            // option 1, SO_DEBUG, which needs CAP_NET_ADMIN (refused to an unprivileged user).
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: waterMark)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.addHandlers(to: channel, dialedAddress: nil)
                }
            }
            .bind(host: host, port: port)
            .get()
        state.withLockedValue { $0.server = server }
        return NodeAddress(host: host, port: server.localAddress?.port ?? port)
    }

    /// Closes the listener and every connection; pending requests fail.
    public func shutdown() async {
        let (server, channels, waiting) = state.withLockedValue { state in
            state.isShutdown = true
            var waiting: [EventLoopPromise<Wire.Message>] = []
            for case .connecting(let pending, _) in state.slots.values {
                for case .request(_, let promise, _) in pending { waiting.append(promise) }
            }
            state.slots.removeAll()
            return (state.server, Array(state.channels.values), waiting)
        }
        // Failed outside the lock: a promise's callbacks may call back into the transport.
        for promise in waiting { promise.fail(TransportError.shutdown) }
        try? await server?.close()
        for channel in channels { try? await channel.close() }
    }

    private var waterMark: ChannelOptions.Types.WriteBufferWaterMark {
        .init(low: settings.outboundBytesMax / 2, high: settings.outboundBytesMax)
    }

    private func addHandlers(to channel: any Channel, dialedAddress: NodeAddress?) throws {
        var nonce = [UInt8](repeating: 0, count: Wire.Handshake.nonceBytes)
        var random = SystemRandomNumberGenerator()
        for index in nonce.indices { nonce[index] = random.next() }
        // Handshake-sized frames until the peer has authenticated (the handler raises it then).
        let frameLimit = Wire.FrameLimit(min(Wire.handshakeFrameBytesMax, settings.frameBytesMax))
        var handlers: [any ChannelHandler] = [
            ByteToMessageHandler(Wire.FrameDecoder(limit: frameLimit)),
            PeerChannelHandler(transport: self, dialedAddress: dialedAddress, nonce: nonce, frameLimit: frameLimit),
        ]
        if let tls = settings.tls {
            // TLS below the frames: nothing else is read or written until both sides have a
            // certificate from the cluster's CA (the peer's name is checked after the HMAC handshake).
            let handler: any ChannelHandler =
                dialedAddress == nil
                ? NIOSSLServerHandler(context: tls.server)
                : try NIOSSLClientHandler(context: tls.client, serverHostname: nil)
            handlers.insert(handler, at: 0)
        }
        try channel.pipeline.syncOperations.addHandlers(handlers)
        let source = channel.remoteAddress?.ipAddress ?? "unknown"
        let registered = state.withLockedValue { state -> Bool in
            guard !state.isShutdown else { return false }
            if dialedAddress == nil {
                guard state.handshaking.count < settings.handshakesMax,
                    state.handshakingFrom[source, default: 0] < settings.handshakesPerAddressMax
                else { return false }
                state.handshaking[ObjectIdentifier(channel)] = source
                state.handshakingFrom[source, default: 0] += 1
            }
            state.channels[ObjectIdentifier(channel)] = channel
            return true
        }
        if !registered {
            if dialedAddress == nil {
                metrics.framesRejected("handshakes_capped").increment()
            }
            channel.close(promise: nil)
        }
    }

    /// An accepted connection's handshake ended (it authenticated, or it closed): it no longer
    /// counts against the handshake caps.
    func handshakeEnded(_ channel: any Channel) {
        state.withLockedValue { state in
            guard let source = state.handshaking.removeValue(forKey: ObjectIdentifier(channel)) else { return }
            state.handshakingFrom[source, default: 1] -= 1
            if state.handshakingFrom[source] == 0 { state.handshakingFrom[source] = nil }
        }
    }

    // MARK: - Sending

    /// Sends a one-way message. Never blocks: if the peer is unreachable or its queue is full
    /// the message is dropped and counted.
    public func send(_ message: Wire.Message, to address: NodeAddress) {
        dispatch(.send(message), to: address)
    }

    /// Sends a request and waits for the response.
    public func request(_ message: Wire.Message, to address: NodeAddress, timeout: Duration? = nil) async throws
        -> Wire.Message
    {
        // Completed on the connection's event loop when there is one (no hop to another loop).
        try await requestFuture(message, to: address, on: eventLoop(of: address) ?? group.any(), timeout: timeout).get()
    }

    /// Sends a request; the future completes on `eventLoop`.
    public func requestFuture(
        _ message: Wire.Message,
        to address: NodeAddress,
        on eventLoop: any EventLoop,
        timeout: Duration? = nil
    ) -> EventLoopFuture<Wire.Message> {
        let promise = eventLoop.makePromise(of: Wire.Message.self)
        let amount = TimeAmount.nanoseconds((timeout ?? settings.requestTimeout).nanosecondsClamped)
        dispatch(.request(message, promise, timeout: amount), to: address)
        return promise.futureResult
    }

    /// Answers a request received in an ``InboundMessage``.
    public func respond(_ message: Wire.Message, to inbound: InboundMessage) {
        guard inbound.correlationID != 0 else { return }
        inbound.channel.writeAndFlush(PeerCommand.respond(message, correlationID: inbound.correlationID), promise: nil)
    }

    /// The event loop of the live connection to `address`, if there is one.
    public func eventLoop(of address: NodeAddress) -> (any EventLoop)? {
        state.withLockedValue { state in
            if case .ready(let channel, _)? = state.slots[address] { return channel.eventLoop }
            return nil
        }
    }

    private enum Route {
        case write(any Channel)
        case dial(attempt: Int)
        case drop(TransportError, reason: String)
        case queued
    }

    private func dispatch(_ command: PeerCommand, to address: NodeAddress) {
        let route = state.withLockedValue { state -> Route in
            guard !state.isShutdown else { return .drop(.shutdown, reason: "shutdown") }
            switch state.slots[address] {
            case .ready(let channel, _)?:
                return channel.isWritable ? .write(channel) : .drop(.overloaded, reason: "queue_full")
            case .connecting(var pending, let attempt)?:
                guard pending.count < settings.pendingMessagesMax else {
                    return .drop(.overloaded, reason: "queue_full")
                }
                pending.append(command)
                state.slots[address] = .connecting(pending: pending, attempt: attempt)
                return .queued
            case .backoff(let until, let attempt)?:
                guard NIODeadline.now() >= until else { return .drop(.unreachable(address), reason: "unreachable") }
                state.slots[address] = .connecting(pending: [command], attempt: attempt)
                return .dial(attempt: attempt)
            case nil:
                state.slots[address] = .connecting(pending: [command], attempt: 0)
                return .dial(attempt: 0)
            }
        }
        switch route {
        case .write(let channel):
            Self.write(command, to: channel, flush: true)
        case .queued:
            break
        case .drop(let error, let reason):
            metrics.messagesDropped(reason).increment()
            if case .request(_, let promise, _) = command { promise.fail(error) }
        case .dial(let attempt):
            dial(address, attempt: attempt)
        }
    }

    /// Hands a command to a connection. A connection that closed meanwhile never sees it (the
    /// write fails before it reaches the handler): a request is then failed here at once —
    /// otherwise nothing would ever answer it, and its caller would wait past every deadline
    /// (seen after a kill -9: a forwarded write hung for the client's whole timeout).
    static func write(_ command: PeerCommand, to channel: any Channel, flush: Bool) {
        guard case .request(_, let request, _) = command else {
            if flush { channel.writeAndFlush(command, promise: nil) } else { channel.write(command, promise: nil) }
            return
        }
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in request.fail(TransportError.connectionClosed) }
        if flush { channel.writeAndFlush(command, promise: written) } else { channel.write(command, promise: written) }
    }

    private func dial(_ address: NodeAddress, attempt: Int) {
        ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(settings.connectTimeout.nanosecondsClamped))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: waterMark)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.addHandlers(to: channel, dialedAddress: address) }
            }
            .connect(host: address.host, port: address.port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    // Hand over what queued up while connecting; the handler holds it until the handshake ends.
                    let pending = state.withLockedValue { state -> [PeerCommand] in
                        guard case .connecting(let pending, let attempt)? = state.slots[address] else { return [] }
                        state.slots[address] = .connecting(pending: [], attempt: attempt)
                        return pending
                    }
                    for command in pending { Self.write(command, to: channel, flush: false) }
                    channel.flush()
                case .failure(let error):
                    // A warning when a backoff cycle starts (attempt 0 for a new peer, 1 after a
                    // connection was lost), then every `failedDialsPerWarning` attempts (about 30 s
                    // at the default 3 s cap): a peer that stays down does not flood the log.
                    let level: Logger.Level =
                        attempt <= 1 || attempt % Self.failedDialsPerWarning == 0 ? .warning : .debug
                    logger.log(
                        level: level,
                        "cannot connect to peer",
                        metadata: [
                            "cluster/peer-address": "\(address)", "error": "\(error)",
                            "cluster/attempt": "\(attempt + 1)",
                        ]
                    )
                    failConnecting(address, attempt: attempt)
                }
            }
    }

    /// Failed dials to one address between two warnings.
    static let failedDialsPerWarning = 10

    /// Backoff after a failed attempt: `backoffMin · 2^attempt`, capped, with ±20% jitter.
    private func backoffDelay(attempt: Int) -> TimeAmount {
        let base = Double(settings.backoffMin.nanosecondsClamped) * Double(1 << min(attempt, 20))
        let capped = min(base, Double(settings.backoffMax.nanosecondsClamped))
        return .nanoseconds(Int64(capped * Double.random(in: 0.8...1.2)))
    }

    private func failConnecting(_ address: NodeAddress, attempt: Int) {
        let dropped = state.withLockedValue { state -> [PeerCommand] in
            guard case .connecting(let pending, _)? = state.slots[address] else { return [] }
            state.slots[address] = .backoff(until: .now() + backoffDelay(attempt: attempt), attempt: attempt + 1)
            return pending
        }
        for command in dropped {
            metrics.messagesDropped("unreachable").increment()
            if case .request(_, let promise, _) = command { promise.fail(TransportError.unreachable(address)) }
        }
    }

    // MARK: - Called by connections

    /// Registers an authenticated connection; returns `false` if it duplicates a connection to
    /// keep, in which case the caller closes it.
    func connectionEstablished(_ channel: any Channel, peer: Wire.Handshake.PeerIdentity, dialedAddress: NodeAddress?)
        -> Bool
    {
        let key = dialedAddress ?? peer.clusterAddress
        let dialer = dialedAddress != nil ? credentials.nodeID : peer.nodeID
        let (keep, pending, replaced) = state.withLockedValue { state -> (Bool, [PeerCommand], (any Channel)?) in
            switch state.slots[key] {
            case .ready(let existing, let existingDialer)? where existing !== channel:
                // Both sides dialed at once: both keep the one dialed by the smaller id.
                if dialer < existingDialer {
                    state.slots[key] = .ready(channel, dialer: dialer)
                    return (true, [], existing)
                }
                return (false, [], nil)
            case .connecting(let pending, _)?:
                state.slots[key] = .ready(channel, dialer: dialer)
                return (true, pending, nil)
            default:
                state.slots[key] = .ready(channel, dialer: dialer)
                return (true, [], nil)
            }
        }
        // Closed outside the lock: on the same event loop the close runs at once, and its
        // channelInactive takes the lock again.
        replaced?.close(promise: nil)
        logger.debug("peer connected", metadata: ["cluster/peer": "\(peer.nodeID)", "cluster/peer-address": "\(key)"])
        for command in pending { Self.write(command, to: channel, flush: false) }
        if !pending.isEmpty { channel.flush() }
        return keep
    }

    func connectionClosed(_ channel: any Channel, peer: Wire.Handshake.PeerIdentity?, dialedAddress: NodeAddress?) {
        let key = dialedAddress ?? peer?.clusterAddress
        let failedDial = state.withLockedValue { state -> (NodeAddress, Int)? in
            state.channels[ObjectIdentifier(channel)] = nil
            guard let key else { return nil }
            switch state.slots[key] {
            case .ready(let current, _)? where current === channel:
                // Dialed connections back off briefly so a dead peer is not hammered; accepted ones just go.
                state.slots[key] =
                    dialedAddress != nil ? .backoff(until: .now() + backoffDelay(attempt: 0), attempt: 1) : nil
                return nil
            case .connecting(_, let attempt)? where peer == nil && dialedAddress != nil:
                return (key, attempt)
            default:
                return nil
            }
        }
        if let (address, attempt) = failedDial { failConnecting(address, attempt: attempt) }
    }

    func deliver(
        _ message: Wire.Message,
        from peer: Wire.Handshake.PeerIdentity,
        correlationID: UInt64,
        channel: any Channel
    ) {
        onMessage(
            InboundMessage(
                message: message,
                from: SWIM.Peer(id: peer.nodeID, address: peer.clusterAddress),
                correlationID: correlationID,
                channel: channel
            )
        )
    }
}
