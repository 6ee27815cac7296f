import ClusterCore
import NIOCore

/// The binary framed protocol that nodes speak to each other over TCP.
///
/// Every frame is a fixed 22-byte header followed by the payload:
///
/// ```
/// 0      2        3       4       5        6               14              18          22
/// | magic | version | type | flags | reserved | correlation id | payload bytes | CRC32C |
///   "PL"     u8        u8     u8      u8 = 0     u64 BE           u32 BE          u32 BE
/// ```
///
/// The CRC covers the payload. Integers are big-endian. Type tags are append-only: a number,
/// once given to a message, is never reused.
public enum Wire {
    /// `"PL"`, the first two bytes of every frame.
    public static let magic: UInt16 = 0x504C
    /// The wire version in every frame header. Peers must agree on it exactly. (2: an entity
    /// request carries the caller's remaining time; 3: entity requests and replies are Protocol
    /// Buffers envelopes, see the EntityRuntime module; 4: the dialer proves the cluster secret
    /// first, and `accept` carries the listener's proof; 5: read rounds, `read_probe` and
    /// `read_ack` replication messages; 6: recovery of a node that lost its state, `recover`
    /// and `recover_reply`.)
    public static let versionMajor: UInt8 = 6
    /// Minor revisions stay compatible: the handshake accepts a peer of the same major version
    /// and any minor one, so a cluster is upgraded one node at a time. A minor revision may add
    /// fields to the entity schemas (older nodes keep and pass on what they do not know); a
    /// change an older node would misread takes a new major version.
    public static let versionMinor: UInt8 = 0
    public static let headerBytes = 22
    /// The default bound on one frame's payload.
    public static let frameBytesMaxDefault = 16 * 1024 * 1024
    /// The bound on a frame before the peer has authenticated: the handshake's messages are a
    /// few hundred bytes, and a stranger must not make a connection buffer megabytes.
    public static let handshakeFrameBytesMax = 16 * 1024

    /// Frame flags.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The payload is zstd-compressed.
        public static let compressed = Flags(rawValue: 1 << 0)
        /// The frame answers the request with the same correlation id.
        public static let response = Flags(rawValue: 1 << 1)

        static let known: Flags = [.compressed, .response]
    }

    /// The type tag of a frame. **Append-only**: never renumber, never reuse a retired number.
    public enum MessageType: UInt8, Sendable, CaseIterable {
        case hello = 1
        case challenge = 2
        case proof = 3
        case accept = 4
        case reject = 5
        case error = 6
        case swimPing = 10
        case swimPingRequest = 11
        case swimAck = 12
        case swimNack = 13
        case swimPushPull = 14
        case echo = 20
        case replication = 30
        case replicationBatch = 31
        case entityRequest = 40
        case entityReply = 41
        case realtime = 50
    }

    /// One frame: header fields and the payload bytes.
    public struct Frame: Sendable, Equatable {
        /// The raw type tag; a tag this build does not know is reported when the payload is decoded.
        public var type: UInt8
        public var flags: Flags
        public var correlationID: UInt64
        public var payload: ByteBuffer

        public init(type: UInt8, flags: Flags = [], correlationID: UInt64 = 0, payload: ByteBuffer) {
            self.type = type
            self.flags = flags
            self.correlationID = correlationID
            self.payload = payload
        }

        public init(_ message: Message, flags: Flags = [], correlationID: UInt64 = 0, allocator: ByteBufferAllocator) {
            var payload = allocator.buffer(capacity: 64)
            let type = message.encode(into: &payload)
            self.init(type: type.rawValue, flags: flags, correlationID: correlationID, payload: payload)
        }

        /// Decodes the payload as the message its type tag names.
        public func message() throws(Wire.CodecError) -> Message {
            var payload = self.payload
            return try Message.decode(type: type, from: &payload)
        }
    }
}
