import ClusterCore
import NIOCore

extension Wire {
    /// Every message a node sends to another, decoded.
    public enum Message: Sendable, Equatable {
        case hello(Handshake.Hello)
        case challenge(Handshake.Challenge)
        case proof(Handshake.Proof)
        /// The listener accepts the dialer's proof and proves the secret in turn.
        case accept(proof: [UInt8])
        case reject(reason: String)
        /// A request could not be served; `code` is snake_case, like the HTTP error codes.
        case error(code: String, message: String)
        case swim(SWIM.Message)
        /// Echoed back unchanged; used by `plume bench wire`.
        case echo(ByteBuffer)
        /// A replication message for one shard.
        case replication(shard: UInt32, Replication.Message)
        /// Replication messages for several shards to one peer in one frame: a node sends each
        /// peer one frame per WAL flush, however many shards have something for it.
        case replicationBatch([ShardMessage])
        /// A command for an entity, forwarded to the primary of its shard; answered with
        /// ``entityReply(_:)`` or ``error(code:message:)``. `timeoutMillis` is how long the
        /// caller still waits (its deadline, relative: the nodes' clocks need not agree): the
        /// primary does not start the command after that, nor wait for its commit longer.
        case entityRequest(shard: UInt32, key: String, timeoutMillis: UInt32, command: [UInt8])
        case entityReply([UInt8])
        /// Real-time deliveries for the sockets a node holds (pushes, presence changes, session
        /// revocations), batched per destination node; one way, never answered. The bytes are
        /// the real-time edge's own encoding.
        case realtime([UInt8])

        public var type: MessageType {
            switch self {
            case .hello: .hello
            case .challenge: .challenge
            case .proof: .proof
            case .accept: .accept
            case .reject: .reject
            case .error: .error
            case .swim(.ping): .swimPing
            case .swim(.pingRequest): .swimPingRequest
            case .swim(.ack): .swimAck
            case .swim(.nack): .swimNack
            case .swim(.pushPull): .swimPushPull
            case .echo: .echo
            case .replication: .replication
            case .replicationBatch: .replicationBatch
            case .entityRequest: .entityRequest
            case .entityReply: .entityReply
            case .realtime: .realtime
            }
        }
    }

    /// A replication message and the shard it is for.
    public struct ShardMessage: Sendable, Equatable {
        public var shard: UInt32
        public var message: Replication.Message

        public init(shard: UInt32, message: Replication.Message) {
            self.shard = shard
            self.message = message
        }
    }

    /// Why a payload does not decode as the message its type names.
    public enum CodecError: Error, Equatable, Sendable, CustomStringConvertible {
        case unknownType(UInt8)
        case truncated(field: String)
        case tooLong(field: String, count: Int, limit: Int)
        case invalid(field: String, reason: String)
        case trailingBytes(Int)

        public var description: String {
            switch self {
            case .unknownType(let type): "unknown message type \(type)"
            case .truncated(let field): "payload ends inside \(field)"
            case .tooLong(let field, let count, let limit): "\(field) has \(count) entries, more than \(limit)"
            case .invalid(let field, let reason): "\(field) is invalid: \(reason)"
            case .trailingBytes(let count): "\(count) unexpected bytes after the message"
            }
        }
    }

    /// Bounds on decoded collections, checked before anything is allocated.
    public enum Limits {
        /// The longest string a message or record carries: above every input rule (a bio of 512
        /// characters is at most 2048 bytes), so a valid value is never cut.
        public static let stringBytesMax = 4096
        public static let gossipMax = 256
        public static let membersMax = 16_384
        public static let digestBytesMax = 64
    }
}

extension Wire.Message {
    /// Writes the payload and returns the type tag for the header.
    @discardableResult
    public func encode(into buffer: inout ByteBuffer) -> Wire.MessageType {
        switch self {
        case .hello(let hello):
            buffer.writeInteger(hello.versionMajor)
            buffer.writeInteger(hello.versionMinor)
            buffer.writeWireString(hello.clusterName)
            buffer.writeWireString(hello.nodeID.rawValue)
            buffer.writeWireAddress(hello.clusterAddress)
            buffer.writeWireBytes(hello.nonce)
        case .challenge(let challenge):
            buffer.writeInteger(challenge.versionMajor)
            buffer.writeInteger(challenge.versionMinor)
            buffer.writeWireString(challenge.nodeID.rawValue)
            buffer.writeWireAddress(challenge.clusterAddress)
            buffer.writeWireBytes(challenge.nonce)
        case .proof(let proof):
            buffer.writeWireBytes(proof.proof)
        case .accept(let proof):
            buffer.writeWireBytes(proof)
        case .reject(let reason):
            buffer.writeShortenedWireString(reason)
        case .error(let code, let message):
            buffer.writeWireString(code)
            buffer.writeShortenedWireString(message)
        case .swim(let message):
            switch message {
            case .ping(let sequence, let gossip):
                buffer.writeInteger(sequence)
                buffer.writeWireUpdates(gossip)
            case .pingRequest(let sequence, let target, let targetAddress, let gossip):
                buffer.writeInteger(sequence)
                buffer.writeWireString(target.rawValue)
                buffer.writeWireAddress(targetAddress)
                buffer.writeWireUpdates(gossip)
            case .ack(let sequence, let from, let gossip):
                buffer.writeInteger(sequence)
                buffer.writeWireString(from.rawValue)
                buffer.writeWireUpdates(gossip)
            case .nack(let sequence, let gossip):
                buffer.writeInteger(sequence)
                buffer.writeWireUpdates(gossip)
            case .pushPull(let members, let isReply):
                buffer.writeInteger(UInt8(isReply ? 1 : 0))
                buffer.writeInteger(UInt16(members.count))
                for member in members { buffer.writeWireMember(member) }
            }
        case .echo(var bytes):
            buffer.writeBuffer(&bytes)
        case .replication(let shard, let message):
            buffer.writeWireReplication(shard: shard, message)
        case .replicationBatch(let messages):
            buffer.writeInteger(UInt32(messages.count))
            for item in messages { buffer.writeWireReplication(shard: item.shard, item.message) }
        case .entityRequest(let shard, let key, let timeoutMillis, let command):
            buffer.writeInteger(shard)
            buffer.writeWireString(key)
            buffer.writeInteger(timeoutMillis)
            buffer.writeWireBlob(command)
        case .entityReply(let bytes), .realtime(let bytes):
            buffer.writeWireBlob(bytes)
        }
        return type
    }

    /// Decodes a payload of the given type tag; the whole payload must be consumed.
    public static func decode(type: UInt8, from buffer: inout ByteBuffer) throws(Wire.CodecError) -> Wire.Message {
        guard let type = Wire.MessageType(rawValue: type) else { throw .unknownType(type) }
        let message: Wire.Message
        switch type {
        case .hello:
            message = .hello(
                Wire.Handshake.Hello(
                    versionMajor: try buffer.readWireInteger("hello.version_major"),
                    versionMinor: try buffer.readWireInteger("hello.version_minor"),
                    clusterName: try buffer.readWireString("hello.cluster_name"),
                    nodeID: try buffer.readWireNodeID("hello.node_id"),
                    clusterAddress: try buffer.readWireAddress("hello.cluster_address"),
                    nonce: try buffer.readWireBytes("hello.nonce")
                )
            )
        case .challenge:
            message = .challenge(
                Wire.Handshake.Challenge(
                    versionMajor: try buffer.readWireInteger("challenge.version_major"),
                    versionMinor: try buffer.readWireInteger("challenge.version_minor"),
                    nodeID: try buffer.readWireNodeID("challenge.node_id"),
                    clusterAddress: try buffer.readWireAddress("challenge.cluster_address"),
                    nonce: try buffer.readWireBytes("challenge.nonce")
                )
            )
        case .proof:
            message = .proof(Wire.Handshake.Proof(proof: try buffer.readWireBytes("proof")))
        case .accept:
            message = .accept(proof: try buffer.readWireBytes("accept.proof"))
        case .reject:
            message = .reject(reason: try buffer.readWireString("reject.reason"))
        case .error:
            message = .error(
                code: try buffer.readWireString("error.code"),
                message: try buffer.readWireString("error.message")
            )
        case .swimPing:
            message = .swim(
                .ping(sequence: try buffer.readWireInteger("ping.sequence"), gossip: try buffer.readWireUpdates())
            )
        case .swimPingRequest:
            message = .swim(
                .pingRequest(
                    sequence: try buffer.readWireInteger("ping_request.sequence"),
                    target: try buffer.readWireNodeID("ping_request.target"),
                    targetAddress: try buffer.readWireAddress("ping_request.target_address"),
                    gossip: try buffer.readWireUpdates()
                )
            )
        case .swimAck:
            message = .swim(
                .ack(
                    sequence: try buffer.readWireInteger("ack.sequence"),
                    from: try buffer.readWireNodeID("ack.from"),
                    gossip: try buffer.readWireUpdates()
                )
            )
        case .swimNack:
            message = .swim(
                .nack(sequence: try buffer.readWireInteger("nack.sequence"), gossip: try buffer.readWireUpdates())
            )
        case .swimPushPull:
            let flag: UInt8 = try buffer.readWireInteger("push_pull.is_reply")
            guard flag <= 1 else { throw .invalid(field: "push_pull.is_reply", reason: "not 0 or 1") }
            let count = Int(try buffer.readWireInteger("push_pull.count") as UInt16)
            guard count <= Wire.Limits.membersMax else {
                throw .tooLong(field: "push_pull.members", count: count, limit: Wire.Limits.membersMax)
            }
            var members: [SWIM.Member] = []
            members.reserveCapacity(count)
            for _ in 0..<count { members.append(try buffer.readWireMember()) }
            message = .swim(.pushPull(members: members, isReply: flag == 1))
        case .echo:
            message = .echo(buffer.readSlice(length: buffer.readableBytes)!)
        case .replication:
            let (shard, replication) = try buffer.readWireReplication()
            message = .replication(shard: shard, replication)
        case .replicationBatch:
            let count = Int(try buffer.readWireInteger("replication_batch.count") as UInt32)
            // Each message takes more than 8 bytes: a count beyond that is damage, not a reason to allocate.
            guard count <= buffer.readableBytes / 8 else {
                throw .tooLong(field: "replication_batch", count: count, limit: buffer.readableBytes / 8)
            }
            var messages: [Wire.ShardMessage] = []
            messages.reserveCapacity(count)
            for _ in 0..<count {
                let (shard, replication) = try buffer.readWireReplication()
                messages.append(Wire.ShardMessage(shard: shard, message: replication))
            }
            message = .replicationBatch(messages)
        case .entityRequest:
            let shard: UInt32 = try buffer.readWireInteger("entity_request.shard")
            let key = try buffer.readWireString("entity_request.key")
            let timeoutMillis: UInt32 = try buffer.readWireInteger("entity_request.timeout_millis")
            message = .entityRequest(
                shard: shard,
                key: key,
                timeoutMillis: timeoutMillis,
                command: try buffer.readWireBlob("entity_request.command")
            )
        case .entityReply:
            message = .entityReply(try buffer.readWireBlob("entity_reply"))
        case .realtime:
            message = .realtime(try buffer.readWireBlob("realtime"))
        }
        guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
        return message
    }
}

// MARK: - Field codecs

extension ByteBuffer {
    /// Writes a string of at most ``Wire/Limits/stringBytesMax`` bytes. What writes one checks
    /// its length first (input rules, entity keys); a longer one — a programming error, caught by
    /// the assertion in tests — is cut at a character boundary, so it still decodes.
    mutating func writeWireString(_ text: String) {
        assert(
            text.utf8.count <= Wire.Limits.stringBytesMax,
            "a \(text.utf8.count)-byte string reached the wire unchecked"
        )
        writeShortenedWireString(text)
    }

    /// Writes at most the first ``Wire/Limits/stringBytesMax`` bytes of `text`, cut at a
    /// character boundary: for texts where a cut loses nothing that matters (error messages).
    mutating func writeShortenedWireString(_ text: String) {
        let utf8 = text.utf8
        var end =
            utf8.index(utf8.startIndex, offsetBy: Wire.Limits.stringBytesMax, limitedBy: utf8.endIndex) ?? utf8.endIndex
        while end != utf8.endIndex, end != utf8.startIndex, UTF8.isContinuation(utf8[end]) {
            end = utf8.index(before: end)
        }
        writeInteger(UInt16(utf8.distance(from: utf8.startIndex, to: end)))
        writeBytes(utf8[..<end])
    }

    mutating func writeWireBytes(_ bytes: [UInt8]) {
        writeInteger(UInt8(bytes.count))
        writeBytes(bytes)
    }

    mutating func writeWireAddress(_ address: NodeAddress) {
        writeWireString(address.host)
        writeInteger(UInt16(address.port))
    }

    mutating func writeWireMember(_ member: SWIM.Member) {
        writeWireString(member.id.rawValue)
        writeWireAddress(member.clusterAddress)
        if let http = member.httpAddress {
            writeInteger(UInt8(1))
            writeWireAddress(http)
        } else {
            writeInteger(UInt8(0))
        }
        writeInteger(member.status.rawValue)
        writeInteger(member.incarnation)
    }

    mutating func writeWireUpdates(_ updates: [SWIM.Update]) {
        writeInteger(UInt16(updates.count))
        for update in updates {
            writeWireMember(update.member)
            if let origin = update.origin {
                writeInteger(UInt8(1))
                writeWireString(origin.rawValue)
            } else {
                writeInteger(UInt8(0))
            }
        }
    }

    mutating func readWireInteger<T: FixedWidthInteger>(_ field: String) throws(Wire.CodecError) -> T {
        guard let value = readInteger(as: T.self) else { throw .truncated(field: field) }
        return value
    }

    mutating func readWireString(_ field: String) throws(Wire.CodecError) -> String {
        let length = Int(try readWireInteger(field) as UInt16)
        guard length <= Wire.Limits.stringBytesMax else {
            throw .tooLong(field: field, count: length, limit: Wire.Limits.stringBytesMax)
        }
        guard readableBytes >= length else { throw .truncated(field: field) }
        // Validated straight from the buffer: no intermediate array.
        let text = withUnsafeReadableBytes { raw in
            String(validating: UnsafeRawBufferPointer(rebasing: raw[..<length]), as: UTF8.self)
        }
        guard let text else { throw .invalid(field: field, reason: "not UTF-8") }
        moveReaderIndex(forwardBy: length)
        return text
    }

    mutating func readWireBytes(_ field: String) throws(Wire.CodecError) -> [UInt8] {
        let length = Int(try readWireInteger(field) as UInt8)
        guard length <= Wire.Limits.digestBytesMax else {
            throw .tooLong(field: field, count: length, limit: Wire.Limits.digestBytesMax)
        }
        guard let bytes = readBytes(length: length) else { throw .truncated(field: field) }
        return bytes
    }

    mutating func writeWireBlob(_ bytes: [UInt8]) {
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }

    mutating func readWireBlob(_ field: String) throws(Wire.CodecError) -> [UInt8] {
        let length = Int(try readWireInteger("\(field).length") as UInt32)
        guard length <= Wire.Limits.payloadBytesMax else {
            throw .tooLong(field: field, count: length, limit: Wire.Limits.payloadBytesMax)
        }
        guard let bytes = readBytes(length: length) else { throw .truncated(field: field) }
        return bytes
    }

    mutating func readWireNodeID(_ field: String) throws(Wire.CodecError) -> NodeID {
        let text = try readWireString(field)
        guard let id = NodeID(text) else { throw .invalid(field: field, reason: "not a node id") }
        return id
    }

    mutating func readWireAddress(_ field: String) throws(Wire.CodecError) -> NodeAddress {
        let host = try readWireString("\(field).host")
        let port = Int(try readWireInteger("\(field).port") as UInt16)
        guard !host.isEmpty, port > 0 else { throw .invalid(field: field, reason: "empty host or port 0") }
        return NodeAddress(host: host, port: port)
    }

    mutating func readWireMember() throws(Wire.CodecError) -> SWIM.Member {
        let id = try readWireNodeID("member.id")
        let clusterAddress = try readWireAddress("member.cluster_address")
        let hasHTTP: UInt8 = try readWireInteger("member.has_http")
        let httpAddress: NodeAddress?
        switch hasHTTP {
        case 0: httpAddress = nil
        case 1: httpAddress = try readWireAddress("member.http_address")
        default: throw .invalid(field: "member.has_http", reason: "not 0 or 1")
        }
        let rawStatus: UInt8 = try readWireInteger("member.status")
        guard let status = SWIM.Status(rawValue: rawStatus) else {
            throw .invalid(field: "member.status", reason: "unknown status \(rawStatus)")
        }
        let incarnation: UInt64 = try readWireInteger("member.incarnation")
        return SWIM.Member(
            id: id,
            clusterAddress: clusterAddress,
            httpAddress: httpAddress,
            status: status,
            incarnation: incarnation
        )
    }

    mutating func readWireUpdates() throws(Wire.CodecError) -> [SWIM.Update] {
        let count = Int(try readWireInteger("gossip.count") as UInt16)
        guard count <= Wire.Limits.gossipMax else {
            throw .tooLong(field: "gossip", count: count, limit: Wire.Limits.gossipMax)
        }
        var updates: [SWIM.Update] = []
        updates.reserveCapacity(count)
        for _ in 0..<count {
            let member = try readWireMember()
            let hasOrigin: UInt8 = try readWireInteger("gossip.has_origin")
            switch hasOrigin {
            case 0: updates.append(SWIM.Update(member: member))
            case 1: updates.append(SWIM.Update(member: member, origin: try readWireNodeID("gossip.origin")))
            default: throw .invalid(field: "gossip.has_origin", reason: "not 0 or 1")
            }
        }
        return updates
    }
}
