import ClusterCore
import NIOCore
import Testing
import WireProtocol

@Suite struct MessageCodecTests {
    static func member(_ index: Int, status: SWIM.Status, http: Bool = true) -> SWIM.Member {
        SWIM.Member(
            id: NodeID("n\(index)")!,
            clusterAddress: NodeAddress(host: "127.0.0.\(index)", port: 7100 + index),
            httpAddress: http ? NodeAddress(host: "::1", port: 8100 + index) : nil,
            status: status,
            incarnation: UInt64(index) << 40
        )
    }

    static let gossip = [
        SWIM.Update(member: member(1, status: .alive)),
        SWIM.Update(member: member(2, status: .suspect), origin: NodeID("n3")!),
        SWIM.Update(member: member(4, status: .dead, http: false)),
        SWIM.Update(member: member(5, status: .left)),
    ]

    static let messages: [Wire.Message] = [
        .hello(
            Wire.Handshake.Hello(
                clusterName: "plume-local",
                nodeID: NodeID("n1")!,
                clusterAddress: NodeAddress(host: "127.0.0.1", port: 7101),
                nonce: Array(repeating: 7, count: 32)
            )
        ),
        .proof(Wire.Handshake.Proof(proof: Array(0..<32))),
        .challenge(
            Wire.Handshake.Challenge(
                versionMajor: Wire.versionMajor,
                versionMinor: 2,
                nodeID: NodeID("n2")!,
                clusterAddress: NodeAddress(host: "127.0.0.1", port: 7102),
                nonce: Array(repeating: 9, count: 32)
            )
        ),
        .accept(proof: Array(32..<64)),
        .reject(reason: "authentication failed"),
        .error(code: "unknown_type", message: "no handler for type 99 ✓"),
        .swim(.ping(sequence: .max, gossip: gossip)),
        .swim(.ping(sequence: 0, gossip: [])),
        .swim(
            .pingRequest(
                sequence: 42,
                target: NodeID("n2")!,
                targetAddress: NodeAddress(host: "h", port: 1),
                gossip: gossip
            )
        ),
        .swim(.ack(sequence: 43, from: NodeID("n9")!, gossip: gossip)),
        .swim(.nack(sequence: 44, gossip: [])),
        .swim(.pushPull(members: gossip.map(\.member), isReply: true)),
        .swim(.pushPull(members: [], isReply: false)),
        .echo(ByteBuffer(bytes: [0, 1, 2, 255])),
        .replication(shard: 7, .prepare(epoch: epoch, replicas: [NodeID("n1")!, NodeID("n2")!], fromLSN: 9)),
        .replication(
            shard: 65535,
            .promise(
                epoch: epoch,
                Replication.Promise(
                    from: NodeID("n2")!,
                    lastEpoch: .genesis,
                    lastLSN: 3,
                    latestConfig: Replication.Config(epoch: .genesis, replicas: [NodeID("n1")!]),
                    history: [Replication.Config(epoch: epoch, replicas: [NodeID("n3")!])],
                    committedStart: .genesis,
                    commitLSN: 2,
                    entries: entries
                )
            )
        ),
        .replication(shard: 1, .refuse(epoch: epoch, promised: Replication.Epoch(number: 9, node: "n3"))),
        .replication(shard: 2, .append(epoch: epoch, prevLSN: 1, prevEpoch: .genesis, entries: entries, commitLSN: 1)),
        .replication(shard: 3, .appendReply(epoch: epoch, success: true, lsn: 3)),
        .replication(shard: 3, .appendReply(epoch: epoch, success: false, lsn: 0)),
        .replication(shard: 4, .installSnapshot(epoch: epoch, base: base)),
        .replication(shard: 5, .readProbe(epoch: epoch, round: 7)),
        .replication(shard: 5, .readAck(epoch: epoch, round: .max)),
        .replication(shard: 5, .recover(nonce: 42)),
        .replication(
            shard: 5,
            .abstain(
                epoch: epoch,
                Replication.RecoveryReport(
                    from: NodeID("b1")!,
                    recovering: true,
                    promised: epoch,
                    primary: false,
                    lastLSN: 0,
                    latestConfig: Replication.Config(epoch: .genesis, replicas: [NodeID("b1")!]),
                    history: [],
                    committedStart: epoch
                )
            )
        ),
        .replication(
            shard: 5,
            .recoverReply(
                nonce: 42,
                Replication.RecoveryReport(
                    from: NodeID("b2")!,
                    recovering: true,
                    promised: epoch,
                    primary: false,
                    lastLSN: 17,
                    latestConfig: Replication.Config(epoch: epoch, replicas: [NodeID("b1")!, NodeID("b2")!]),
                    history: [Replication.Config(epoch: epoch, replicas: [NodeID("b3")!])],
                    committedStart: .genesis
                )
            )
        ),
        .replicationBatch([]),
        .replicationBatch([
            .init(shard: 0, message: .appendReply(epoch: epoch, success: true, lsn: 9)),
            .init(
                shard: 255,
                message: .append(epoch: epoch, prevLSN: 1, prevEpoch: .genesis, entries: entries, commitLSN: 1)
            ),
        ]),
        .replication(
            shard: 5,
            .promise(
                epoch: epoch,
                Replication.Promise(
                    from: NodeID("n3")!,
                    lastEpoch: epoch,
                    lastLSN: 3,
                    latestConfig: base.config,
                    history: [],
                    committedStart: base.config.epoch,
                    commitLSN: 3,
                    base: base,
                    entries: [entries[1]]
                )
            )
        ),
        .entityRequest(shard: 12, key: "user/42", timeoutMillis: 4_500, command: [1, 2, 3]),
        .entityReply([]),
        .entityReply([9, 8, 7]),
        .realtime([]),
        .realtime([1, 2, 3]),
    ]

    static let epoch = Replication.Epoch(number: 4, node: "n1")
    static let base = Replication.Base(
        lsn: 2,
        epoch: epoch,
        config: Replication.Config(epoch: epoch, replicas: [NodeID("n1")!, NodeID("n2")!]),
        state: [7, 0, 7, 255]
    )
    static let entries = [
        Replication.Entry(epoch: epoch, lsn: 2, payload: .start(replicas: [NodeID("n1")!, NodeID("n2")!])),
        Replication.Entry(epoch: epoch, lsn: 3, payload: .command([0, 255, 7])),
    ]

    @Test(arguments: messages)
    func everyMessageRoundTrips(message: Wire.Message) throws {
        let frame = Wire.Frame(message, correlationID: 5, allocator: ByteBufferAllocator())
        #expect(frame.type == message.type.rawValue)
        #expect(try frame.message() == message)
    }

    @Test(arguments: messages)
    func theSingleBufferEncoderWritesTheSameFrame(message: Wire.Message) {
        let allocator = ByteBufferAllocator()
        var expected = ByteBuffer()
        Wire.write(Wire.Frame(message, flags: .response, correlationID: 99, allocator: allocator), into: &expected)
        #expect(Wire.encodeFrame(message, flags: .response, correlationID: 99, allocator: allocator) == expected)
    }

    @Test(arguments: messages)
    func everyTruncationIsAnErrorNotACrash(message: Wire.Message) {
        var payload = ByteBuffer()
        let type = message.encode(into: &payload)
        guard payload.readableBytes > 0, type != .echo else { return }
        for length in 0..<payload.readableBytes {
            var prefix = payload.getSlice(at: 0, length: length)!
            #expect(throws: Wire.CodecError.self, "prefix of \(length) bytes of \(type)") {
                try Wire.Message.decode(type: type.rawValue, from: &prefix)
            }
        }
    }

    @Test func trailingBytesAreRefused() {
        var payload = ByteBuffer()
        let type = Wire.Message.accept(proof: [1, 2]).encode(into: &payload)
        payload.writeInteger(UInt8(1))
        #expect(throws: Wire.CodecError.trailingBytes(1)) {
            try Wire.Message.decode(type: type.rawValue, from: &payload)
        }
    }

    /// A peer's log positions are checked as they are read: an append's entries follow its
    /// previous position one by one, and no position is past ``Wire/Limits/lsnMax`` (the
    /// replicas' arithmetic on positions must not overflow).
    @Test func logPositionsFromAPeerAreChecked() throws {
        func decode(_ message: Replication.Message) throws(Wire.CodecError) -> Wire.Message {
            var payload = ByteBuffer()
            let type = Wire.Message.replication(shard: 0, message).encode(into: &payload)
            return try Wire.Message.decode(type: type.rawValue, from: &payload)
        }
        let gap = [Self.entries[0], Replication.Entry(epoch: Self.epoch, lsn: 9, payload: .command([1]))]
        #expect(throws: Wire.CodecError.self) {
            try decode(.append(epoch: Self.epoch, prevLSN: 1, prevEpoch: .genesis, entries: gap, commitLSN: 1))
        }
        // Entries 2 and 3 do not follow position 5.
        #expect(throws: Wire.CodecError.self) {
            try decode(.append(epoch: Self.epoch, prevLSN: 5, prevEpoch: .genesis, entries: Self.entries, commitLSN: 1))
        }
        #expect(throws: Wire.CodecError.self) {
            try decode(.appendReply(epoch: Self.epoch, success: true, lsn: .max))
        }
        #expect(throws: Wire.CodecError.self) {
            try decode(.append(epoch: Self.epoch, prevLSN: .max, prevEpoch: .genesis, entries: [], commitLSN: 1))
        }
        #expect(
            try decode(.appendReply(epoch: Self.epoch, success: true, lsn: Wire.Limits.lsnMax))
                == .replication(shard: 0, .appendReply(epoch: Self.epoch, success: true, lsn: Wire.Limits.lsnMax))
        )
    }

    @Test func anUnknownTypeIsAnError() {
        var payload = ByteBuffer()
        #expect(throws: Wire.CodecError.unknownType(200)) { try Wire.Message.decode(type: 200, from: &payload) }
    }

    @Test func aHugeCountIsRefusedBeforeAllocating() {
        var payload = ByteBuffer()
        payload.writeInteger(UInt64(1))
        payload.writeInteger(UInt16.max)
        #expect(throws: Wire.CodecError.tooLong(field: "gossip", count: 65535, limit: Wire.Limits.gossipMax)) {
            try Wire.Message.decode(type: Wire.MessageType.swimPing.rawValue, from: &payload)
        }
    }

    @Test func typeTagsAreAppendOnly() {
        // Changing any of these breaks every running cluster: add new numbers, never renumber.
        let tags = Dictionary(uniqueKeysWithValues: Wire.MessageType.allCases.map { ("\($0)", $0.rawValue) })
        #expect(
            tags == [
                "hello": 1, "challenge": 2, "proof": 3, "accept": 4, "reject": 5, "error": 6,
                "swimPing": 10, "swimPingRequest": 11, "swimAck": 12, "swimNack": 13, "swimPushPull": 14, "echo": 20,
                "replication": 30, "replicationBatch": 31, "entityRequest": 40, "entityReply": 41,
                "realtime": 50,
            ]
        )
    }
}
