import ClusterCore
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
import WireProtocol

@testable import ClusterRuntime

/// What the runtime does with messages too large for one frame or one WAL record.
@Suite struct TransportLimitsTests {
    static func transport(
        _ id: String,
        frameBytesMax: Int,
        handshakeTimeout: Duration = TransportSettings().handshakeTimeout,
        configure: (inout TransportSettings) -> Void = { _ in }
    ) -> ClusterTransport {
        var settings = TransportSettings()
        settings.frameBytesMax = frameBytesMax
        settings.handshakeTimeout = handshakeTimeout
        configure(&settings)
        return ClusterTransport(
            credentials: .init(
                clusterName: "limits",
                nodeID: NodeID(id)!,
                clusterAddress: NodeAddress(host: "127.0.0.1", port: 1),
                secret: "s"
            ),
            settings: settings,
            group: MultiThreadedEventLoopGroup.singleton,
            logger: Logger(label: "test.limits"),
            onMessage: { _ in }
        )
    }

    @Test(.timeLimit(.minutes(1)))
    func anOversizedMessageFailsAloneAndTheConnectionStays() async throws {
        let server = Self.transport("server", frameBytesMax: 1 << 20)
        let client = Self.transport("client", frameBytesMax: 4096)
        let address = try await server.start(host: "127.0.0.1", port: 0)
        var small = ByteBuffer()
        small.writeRepeatingByte(1, count: 100)
        #expect(try await client.request(.echo(small), to: address) == .echo(small))

        var large = ByteBuffer()
        large.writeRepeatingByte(2, count: 10_000)
        await #expect(throws: TransportError.messageTooLarge(bytes: 10_000 + Wire.headerBytes, limit: 4096)) {
            _ = try await client.request(.echo(large), to: address, timeout: .seconds(5))
        }
        // The same connection still carries the next message.
        #expect(try await client.request(.echo(small), to: address) == .echo(small))
        await client.shutdown()
        await server.shutdown()
    }

    /// Before the handshake a frame may hold a few KiB: a stranger announcing a 1 MiB frame is
    /// cut off at its header, instead of the node buffering it. Once authenticated, peers send
    /// frames up to the node's limit.
    @Test(.timeLimit(.minutes(1)))
    func anUnauthenticatedPeerCannotSendLargeFrames() async throws {
        // A 60 s handshake timeout: only the frame limit can close the stranger's connection early.
        let server = Self.transport("server", frameBytesMax: 4 << 20, handshakeTimeout: .seconds(60))
        let address = try await server.start(host: "127.0.0.1", port: 0)

        let stranger = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: address.port).get()
        var header = ByteBuffer()
        header.writeInteger(Wire.magic)
        header.writeInteger(Wire.versionMajor)
        header.writeInteger(UInt8(1))  // hello
        header.writeInteger(UInt8(0))  // flags
        header.writeInteger(UInt8(0))  // reserved
        header.writeInteger(UInt64(0))  // correlation id
        header.writeInteger(UInt32(1 << 20))  // payload bytes
        header.writeInteger(UInt32(0))  // CRC32C
        try await stranger.writeAndFlush(header).get()
        // Closed at its header, long before the 60 s handshake timeout.
        let started = ContinuousClock.now
        try await stranger.closeFuture.get()
        #expect(ContinuousClock.now - started < .seconds(30), "the node waited for the announced megabyte")

        let client = Self.transport("client", frameBytesMax: 4 << 20)
        var large = ByteBuffer()
        large.writeRepeatingByte(3, count: 1 << 20)
        #expect(try await client.request(.echo(large), to: address, timeout: .seconds(20)) == .echo(large))
        await client.shutdown()
        await server.shutdown()
    }

    /// Connections that say nothing are capped per source address and in all: past the cap a
    /// new one is closed at once, while other addresses — and peers that do authenticate — get in.
    @Test(.timeLimit(.minutes(1)))
    func connectionsStillInTheirHandshakeAreCapped() async throws {
        let server = Self.transport("server", frameBytesMax: 1 << 20, handshakeTimeout: .seconds(60)) { settings in
            settings.handshakesPerAddressMax = 2
            settings.handshakesMax = 3
        }
        let address = try await server.start(host: "127.0.0.1", port: 0)
        func connect(from source: String) async throws -> any Channel {
            try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .bind(to: try SocketAddress(ipAddress: source, port: 0))
                .connect(host: "127.0.0.1", port: address.port).get()
        }
        /// Whether the server closes the connection within a second (polled: waiting on the
        /// close future could not be given up).
        func closedSoon(_ channel: any Channel) async -> Bool {
            for _ in 0..<20 {
                if !channel.isActive { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return !channel.isActive
        }
        let first = try await connect(from: "127.0.0.2")
        let second = try await connect(from: "127.0.0.2")
        let third = try await connect(from: "127.0.0.2")
        #expect(await closedSoon(third), "a third silent connection from one address stayed open")
        #expect(!(await closedSoon(first)) && first.isActive)
        #expect(second.isActive)
        let other = try await connect(from: "127.0.0.3")
        #expect(!(await closedSoon(other)), "another address was refused below the global cap")
        let fourth = try await connect(from: "127.0.0.4")
        #expect(await closedSoon(fourth), "the global cap let a fourth silent connection in")
        // A stranger that gives up frees its slot: a real peer from the same address gets in.
        try await first.close()
        try await Task.sleep(for: .milliseconds(200))
        let peer = Self.transport("peer", frameBytesMax: 1 << 20)
        var small = ByteBuffer()
        small.writeRepeatingByte(1, count: 10)
        #expect(try await peer.request(.echo(small), to: address, timeout: .seconds(10)) == .echo(small))
        for channel in [second, other] { try? await channel.close() }
        await peer.shutdown()
        await server.shutdown()
    }

    @Test func longRunsOfEntriesBecomeSeveralWALRecordsThatReplayTheSame() throws {
        let epoch = Replication.Epoch(number: 2, node: "n1")
        let entries = (1...3000).map {
            Replication.Entry(epoch: epoch, lsn: UInt64($0), payload: .command([UInt8](repeating: 7, count: 1000)))
        }
        let parts = ReplicationLog.walSized(.entries(entries))
        #expect(parts.count >= 3)
        var whole = Replication.Replica.Durable()
        whole.apply(.entries(entries))
        var split = Replication.Replica.Durable()
        for part in parts {
            guard case .entries(let chunk) = part else { Issue.record("not entries: \(part)"); continue }
            #expect(chunk.count * (64 + 1000) <= ReplicationLog.walEntriesBytesMax + 1064)
            split.apply(part)
        }
        #expect(split == whole)
        #expect(ReplicationLog.walSized(.committed(4)) == [.committed(4)])
    }

    /// A request handed to a connection that has just closed is failed at once, never left
    /// unanswered: after a kill -9 a forwarded write used to hang past every deadline (the
    /// closed channel dropped the command, and with it the only way to answer the caller).
    @Test(.timeLimit(.minutes(1)))
    func aRequestToAConnectionThatJustClosedFailsAtOnce() async throws {
        let transport = Self.transport("client", frameBytesMax: 1 << 20)
        let group = MultiThreadedEventLoopGroup.singleton
        // Never reaches a handler: the channel closed first.
        let listener = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let closed = try await ClientBootstrap(group: group).connect(to: listener.localAddress!).get()
        try await closed.close()
        try await listener.close()
        let lost = closed.eventLoop.makePromise(of: Wire.Message.self)
        ClusterTransport.write(.request(.echo(ByteBuffer()), lost, timeout: .seconds(30)), to: closed, flush: true)
        await #expect(throws: TransportError.connectionClosed) { _ = try await lost.futureResult.get() }
        // Reaches the connection's handler after it saw the connection close.
        let handler = PeerChannelHandler(
            transport: transport,
            dialedAddress: NodeAddress(host: "127.0.0.1", port: 1),
            nonce: [UInt8](repeating: 7, count: Wire.Handshake.nonceBytes),
            frameLimit: Wire.FrameLimit(4096)
        )
        let channel = EmbeddedChannel(handler: handler)
        channel.pipeline.fireChannelInactive()
        let late = channel.eventLoop.makePromise(of: Wire.Message.self)
        try channel.writeOutbound(PeerCommand.request(.echo(ByteBuffer()), late, timeout: .seconds(30)))
        await #expect(throws: TransportError.connectionClosed) { _ = try await late.futureResult.get() }
        await transport.shutdown()
    }
}
