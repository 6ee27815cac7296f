import ClusterCore
import Logging
import NIOCore
import NIOSSL
import WireProtocol

/// What the transport asks a connection to do.
enum PeerCommand: Sendable {
    /// Send one-way.
    case send(Wire.Message)
    /// Send with a correlation id and complete the promise with the response (or an error).
    case request(Wire.Message, EventLoopPromise<Wire.Message>, timeout: TimeAmount)
    /// Answer a request received earlier.
    case respond(Wire.Message, correlationID: UInt64)
}

/// One connection to a peer: runs the handshake, then correlates requests with responses,
/// answers echoes, and hands every other message to the transport.
///
/// Writes made while a read batch is being processed are flushed once at the end of the
/// batch, and a flush asked for outside a read batch runs once the event loop is done with the
/// tasks already queued (messages sent from other threads arrive as such tasks), so pipelined
/// traffic costs one syscall per batch, not per message.
final class PeerChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = Wire.Frame
    typealias OutboundIn = PeerCommand
    typealias OutboundOut = ByteBuffer

    enum Handshake {
        case dialer(Wire.Handshake.Dialer)
        case listener(Wire.Handshake.Listener)
    }

    private let transport: ClusterTransport
    /// The address this side dialed, or `nil` for an accepted connection.
    let dialedAddress: NodeAddress?
    private var handshake: Handshake?
    private(set) var peer: Wire.Handshake.PeerIdentity?
    private var logger: Logger
    private var pending: [UInt64: (promise: EventLoopPromise<Wire.Message>, deadline: NIODeadline)] = [:]
    /// One periodic sweep fails overdue requests: cheaper than a timer per request.
    private var timeoutSweep: RepeatedTask?
    static let sweepInterval = TimeAmount.milliseconds(50)
    private var nextCorrelationID: UInt64 = 1
    private var queuedUntilEstablished: [PeerCommand] = []
    private var handshakeTimeout: Scheduled<Void>?
    private var inReadBatch = false
    /// Set at channelInactive: requests written after it are failed at once.
    private var isClosed = false
    private var flushPending = false
    private var flushScheduled = false
    private var context: ChannelHandlerContext?

    /// The decoder's frame limit: handshake-sized until the peer is established.
    private let frameLimit: Wire.FrameLimit

    init(transport: ClusterTransport, dialedAddress: NodeAddress?, nonce: [UInt8], frameLimit: Wire.FrameLimit) {
        self.transport = transport
        self.dialedAddress = dialedAddress
        self.frameLimit = frameLimit
        if dialedAddress != nil {
            handshake = .dialer(Wire.Handshake.Dialer(credentials: transport.credentials, nonce: nonce))
        } else {
            handshake = .listener(Wire.Handshake.Listener(credentials: transport.credentials, nonce: nonce))
        }
        logger = transport.logger
        if let dialedAddress { logger[metadataKey: "cluster/peer-address"] = "\(dialedAddress)" }
    }

    var isDialer: Bool { dialedAddress != nil }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeoutSweep?.cancel()
        self.context = nil
    }

    private func sweepTimeouts() {
        let now = NIODeadline.now()
        let overdue = pending.filter { $0.value.deadline <= now }
        for (correlationID, entry) in overdue {
            pending[correlationID] = nil
            entry.promise.fail(TransportError.timeout)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        let timeout = TimeAmount.nanoseconds(transport.settings.handshakeTimeout.nanosecondsClamped)
        handshakeTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard peer == nil, let context = self.context else { return }
            reject(
                context: context,
                reason: "handshake_timeout",
                "no handshake within \(transport.settings.handshakeTimeout)"
            )
        }
        if case .dialer(let dialer) = handshake {
            write(context: context, message: dialer.hello, correlationID: 0, flags: [])
            context.flush()
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        handshakeTimeout?.cancel()
        transport.handshakeEnded(context.channel)
        timeoutSweep?.cancel()
        let failed = pending
        pending.removeAll()
        for (_, entry) in failed { entry.promise.fail(TransportError.connectionClosed) }
        for case .request(_, let promise, _) in queuedUntilEstablished { promise.fail(TransportError.connectionClosed) }
        queuedUntilEstablished.removeAll()
        transport.connectionClosed(context.channel, peer: peer, dialedAddress: dialedAddress)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? Wire.FrameError {
            reject(context: context, reason: frameError.reason, "\(frameError)")
        } else if let decoderError = error as? ByteToMessageDecoderError {
            reject(context: context, reason: "decoder", "\(decoderError)")
        } else if error is NIOSSLError || error is BoringSSLError {
            // No certificate, one from another CA, not TLS 1.3, or not TLS at all.
            reject(context: context, reason: "tls", "\(error)")
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// Closes the connection for a protocol violation, logged and counted by reason.
    private func reject(context: ChannelHandlerContext, reason: String, _ detail: String) {
        transport.metrics.framesRejected(reason).increment()
        if let suppressed = transport.refusalToLog(reason) {
            logger.warning(
                "closing cluster connection",
                metadata: [
                    "reason": "\(reason)", "detail": "\(detail)",
                    "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
                    "not_logged_since": "\(suppressed)",
                ]
            )
        }
        context.close(promise: nil)
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadBatch = true
        let frame = unwrapInboundIn(data)
        if handshake != nil {
            handleHandshake(context: context, frame: frame)
        } else if frame.flags.contains(.response) {
            handleResponse(frame)
        } else {
            handleRequest(context: context, frame: frame)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBatch = false
        if flushPending {
            flushPending = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    private func handleHandshake(context: ChannelHandlerContext, frame: Wire.Frame) {
        let message: Wire.Message
        do {
            message = try frame.message()
        } catch {
            reject(context: context, reason: "bad_handshake", "\(error)")
            return
        }
        let action: Wire.Handshake.Action
        switch handshake {
        case .dialer(var dialer):
            action = dialer.receive(message)
            handshake = .dialer(dialer)
        case .listener(var listener):
            action = listener.receive(message)
            handshake = .listener(listener)
        case nil:
            return
        }
        switch action {
        case .send(let reply):
            write(context: context, message: reply, correlationID: 0, flags: [])
            markFlush(context: context)
        case .refuse(let reply, let reason):
            if let reply { write(context: context, message: reply, correlationID: 0, flags: []) }
            context.flush()
            transport.metrics.handshakesRefused(isDialer ? "dialer" : "listener").increment()
            transport.metrics.framesRejected("unauthenticated").increment()
            // The reason holds none of the peer's own strings (see `Wire.Handshake`).
            if let suppressed = transport.refusalToLog("handshake") {
                logger.warning(
                    "cluster handshake refused",
                    metadata: [
                        "reason": "\(reason)", "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
                        "not_logged_since": "\(suppressed)",
                    ]
                )
            }
            context.close(promise: nil)
        case .established(let identity, let reply):
            if transport.settings.tls != nil {
                // The certificate (from the cluster's CA, checked by TLS) must name the node the
                // peer claims to be: a node's key cannot speak for another node.
                let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
                let named = certificate.flatMap(ClusterTLS.nodeID(of:))
                guard named == identity.nodeID.rawValue else {
                    transport.metrics.handshakesRefused(isDialer ? "dialer" : "listener").increment()
                    reject(
                        context: context,
                        reason: "tls_identity",
                        "the peer's certificate names \(named ?? "no node"), not \(identity.nodeID)"
                    )
                    return
                }
            }
            if let reply { write(context: context, message: reply, correlationID: 0, flags: []) }
            markFlush(context: context)
            handshake = nil
            handshakeTimeout?.cancel()
            transport.handshakeEnded(context.channel)
            frameLimit.set(transport.settings.frameBytesMax)
            peer = identity
            logger[metadataKey: "cluster/peer"] = "\(identity.nodeID)"
            guard transport.connectionEstablished(context.channel, peer: identity, dialedAddress: dialedAddress) else {
                logger.debug("closing duplicate connection")
                context.close(promise: nil)
                return
            }
            let queued = queuedUntilEstablished
            queuedUntilEstablished.removeAll()
            for command in queued { perform(context: context, command: command) }
            markFlush(context: context)
        }
    }

    private func handleResponse(_ frame: Wire.Frame) {
        guard let entry = pending.removeValue(forKey: frame.correlationID) else { return }  // timed out already
        do {
            let message = try frame.message()
            if case .error(let code, let text) = message {
                entry.promise.fail(TransportError.remote(code: code, message: text))
            } else {
                entry.promise.succeed(message)
            }
        } catch {
            entry.promise.fail(TransportError.malformedResponse("\(error)"))
        }
    }

    private func handleRequest(context: ChannelHandlerContext, frame: Wire.Frame) {
        guard let peer else { return }
        let message: Wire.Message
        do {
            message = try frame.message()
        } catch {
            // A well-framed message this build cannot read: answer with an error, keep the connection.
            transport.metrics.framesRejected("bad_message").increment()
            logger.warning("undecodable message", metadata: ["type": "\(frame.type)", "error": "\(error)"])
            if frame.correlationID != 0 {
                write(
                    context: context,
                    message: .error(code: "bad_message", message: "\(error)"),
                    correlationID: frame.correlationID,
                    flags: .response
                )
                markFlush(context: context)
            }
            return
        }
        switch message {
        case .echo:
            let reply = Wire.Frame(
                type: frame.type,
                flags: .response,
                correlationID: frame.correlationID,
                payload: frame.payload
            )
            var bytes = context.channel.allocator.buffer(capacity: Wire.headerBytes + frame.payload.readableBytes)
            Wire.write(reply, into: &bytes)
            context.write(wrapOutboundOut(bytes), promise: nil)
            markFlush(context: context)
        case .hello, .challenge, .proof, .accept, .reject, .error:
            if frame.correlationID != 0 {
                write(
                    context: context,
                    message: .error(code: "unexpected_message", message: "\(message.type) after the handshake"),
                    correlationID: frame.correlationID,
                    flags: .response
                )
                markFlush(context: context)
            }
        case .swim, .replication, .replicationBatch, .entityRequest, .entityReply, .realtime:
            transport.deliver(message, from: peer, correlationID: frame.correlationID, channel: context.channel)
        }
    }

    // MARK: - Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        promise?.succeed(())
        guard !isClosed else {
            // After channelInactive nothing answers or times out a request here: fail it now.
            if case .request(_, let promise, _) = command { promise.fail(TransportError.connectionClosed) }
            return
        }
        guard handshake == nil else {
            if queuedUntilEstablished.count >= transport.settings.pendingMessagesMax {
                transport.metrics.messagesDropped("queue_full").increment()
                if case .request(_, let promise, _) = command { promise.fail(TransportError.overloaded) }
                return
            }
            queuedUntilEstablished.append(command)
            return
        }
        perform(context: context, command: command)
    }

    func flush(context: ChannelHandlerContext) {
        if inReadBatch {
            flushPending = true
            return
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute { [self] in
            flushScheduled = false
            self.context?.flush()
        }
    }

    private func perform(context: ChannelHandlerContext, command: PeerCommand) {
        switch command {
        case .send(let message):
            write(context: context, message: message, correlationID: 0, flags: [])
        case .respond(let message, let correlationID):
            write(context: context, message: message, correlationID: correlationID, flags: .response)
        case .request(let message, let promise, let timeout):
            let correlationID = nextCorrelationID
            nextCorrelationID &+= 1
            if nextCorrelationID == 0 { nextCorrelationID = 1 }
            if timeoutSweep == nil {
                let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
                timeoutSweep = context.eventLoop.scheduleRepeatedTask(
                    initialDelay: Self.sweepInterval,
                    delay: Self.sweepInterval
                ) { (_: RepeatedTask) in handler.value.sweepTimeouts() }
            }
            pending[correlationID] = (promise, NIODeadline.now() + timeout)
            write(context: context, message: message, correlationID: correlationID, flags: [])
        }
    }

    private func write(context: ChannelHandlerContext, message: Wire.Message, correlationID: UInt64, flags: Wire.Flags)
    {
        var bytes = Wire.encodeFrame(
            message,
            flags: flags,
            correlationID: correlationID,
            allocator: context.channel.allocator
        )
        if bytes.readableBytes - Wire.headerBytes > transport.settings.frameBytesMax {
            // The peer would refuse the frame and close the connection (and with it every other
            // message in flight): drop this one message instead, loudly.
            logger.error(
                "message too large to send; dropped",
                metadata: [
                    "type": "\(message.type)", "bytes": "\(bytes.readableBytes)",
                    "limit": "\(transport.settings.frameBytesMax)",
                ]
            )
            transport.metrics.messagesDropped("too_large").increment()
            guard flags.contains(.response) else {
                let error = TransportError.messageTooLarge(
                    bytes: bytes.readableBytes,
                    limit: transport.settings.frameBytesMax
                )
                pending.removeValue(forKey: correlationID)?.promise.fail(error)
                return
            }
            // The requester gets an error instead of waiting for its timeout.
            bytes = Wire.encodeFrame(
                .error(code: "too_large", message: "the reply exceeds the frame limit"),
                flags: flags,
                correlationID: correlationID,
                allocator: context.channel.allocator
            )
        }
        if case .swim = message {
            transport.metrics.gossipMessagesSent.increment()
            transport.metrics.gossipBytesSent.increment(by: bytes.readableBytes)
        }
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    /// Flushes now, or at the end of the current read batch.
    private func markFlush(context: ChannelHandlerContext) {
        if inReadBatch {
            flushPending = true
        } else {
            context.flush()
        }
    }
}
