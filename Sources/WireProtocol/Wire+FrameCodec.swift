import ClusterCore
import NIOCore
import Synchronization

extension Wire {
    /// Why a byte stream is not a valid frame stream. The connection is closed on any of them.
    public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
        case badMagic(UInt16)
        case unsupportedVersion(UInt8)
        case frameTooLarge(length: Int, limit: Int)
        case badChecksum(expected: UInt32, actual: UInt32)
        case unknownFlags(UInt8)

        /// A short label for metrics (`plume_frames_rejected_total{reason=…}`).
        public var reason: String {
            switch self {
            case .badMagic: "bad_magic"
            case .unsupportedVersion: "bad_version"
            case .frameTooLarge: "too_large"
            case .badChecksum: "bad_crc"
            case .unknownFlags: "bad_flags"
            }
        }

        public var description: String {
            switch self {
            case .badMagic(let magic): "bad magic 0x\(String(magic, radix: 16))"
            case .unsupportedVersion(let version): "unsupported wire version \(version)"
            case .frameTooLarge(let length, let limit): "frame of \(length) bytes exceeds the limit of \(limit)"
            case .badChecksum(let expected, let actual):
                "payload CRC32C 0x\(String(actual, radix: 16)) does not match header 0x\(String(expected, radix: 16))"
            case .unknownFlags(let flags): "unknown flag bits 0x\(String(flags, radix: 16))"
            }
        }
    }

    /// The largest payload a connection accepts now, shared by its decoder and its handler: small
    /// until the peer has authenticated, then the node's frame limit.
    public final class FrameLimit: Sendable {
        private let bytes: Atomic<Int>

        public init(_ bytes: Int) { self.bytes = Atomic(bytes) }

        public var current: Int { bytes.load(ordering: .relaxed) }

        public func set(_ bytes: Int) { self.bytes.store(bytes, ordering: .relaxed) }
    }

    /// Splits a byte stream into frames, checking the header before it waits for (or allocates)
    /// the payload, and the CRC once the payload is there.
    public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
        public typealias InboundOut = Frame

        public let limit: FrameLimit
        public var frameBytesMax: Int { limit.current }

        public init(frameBytesMax: Int = Wire.frameBytesMaxDefault) {
            self.init(limit: FrameLimit(frameBytesMax))
        }

        public init(limit: FrameLimit) {
            self.limit = limit
        }

        public mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
            guard buffer.readableBytes >= Wire.headerBytes else {
                // Reject garbage as early as the magic and version are visible.
                try checkPrefix(buffer)
                return nil
            }
            let start = buffer.readerIndex
            let magic = buffer.getInteger(at: start, as: UInt16.self)!
            guard magic == Wire.magic else { throw FrameError.badMagic(magic) }
            let version = buffer.getInteger(at: start + 2, as: UInt8.self)!
            guard version == Wire.versionMajor else { throw FrameError.unsupportedVersion(version) }
            let type = buffer.getInteger(at: start + 3, as: UInt8.self)!
            let flags = buffer.getInteger(at: start + 4, as: UInt8.self)!
            guard flags & ~Flags.known.rawValue == 0 else { throw FrameError.unknownFlags(flags) }
            let correlationID = buffer.getInteger(at: start + 6, as: UInt64.self)!
            let length = Int(buffer.getInteger(at: start + 14, as: UInt32.self)!)
            let frameBytesMax = limit.current
            guard length <= frameBytesMax else { throw FrameError.frameTooLarge(length: length, limit: frameBytesMax) }
            let expected = buffer.getInteger(at: start + 18, as: UInt32.self)!
            guard buffer.readableBytes >= Wire.headerBytes + length else { return nil }
            buffer.moveReaderIndex(forwardBy: Wire.headerBytes)
            let payload = buffer.readSlice(length: length)!
            let actual = payload.withUnsafeReadableBytes { CRC32C.checksum($0) }
            guard actual == expected else { throw FrameError.badChecksum(expected: expected, actual: actual) }
            return Frame(type: type, flags: Flags(rawValue: flags), correlationID: correlationID, payload: payload)
        }

        public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
            try decode(buffer: &buffer)
        }

        private func checkPrefix(_ buffer: ByteBuffer) throws {
            let start = buffer.readerIndex
            if buffer.readableBytes >= 1, buffer.getInteger(at: start, as: UInt8.self)! != UInt8(Wire.magic >> 8) {
                throw FrameError.badMagic(UInt16(buffer.getInteger(at: start, as: UInt8.self)!) << 8)
            }
            if buffer.readableBytes >= 2, let magic = buffer.getInteger(at: start, as: UInt16.self), magic != Wire.magic {
                throw FrameError.badMagic(magic)
            }
            if buffer.readableBytes >= 3, let version = buffer.getInteger(at: start + 2, as: UInt8.self),
                version != Wire.versionMajor
            {
                throw FrameError.unsupportedVersion(version)
            }
        }
    }

    /// Encodes a message as one whole frame in a single buffer: the header space is reserved,
    /// the payload encoded after it, then the header (length, CRC32C) filled in. No intermediate
    /// payload buffer, no copy.
    public static func encodeFrame(
        _ message: Message,
        flags: Flags = [],
        correlationID: UInt64 = 0,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 128)
        let start = buffer.writerIndex
        buffer.writeRepeatingByte(0, count: headerBytes)
        let type = message.encode(into: &buffer)
        fillHeader(of: &buffer, at: start, type: type.rawValue, flags: flags, correlationID: correlationID)
        return buffer
    }

    /// Appends the encoded frame to `buffer`.
    public static func write(_ frame: Frame, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: headerBytes + frame.payload.readableBytes)
        let start = buffer.writerIndex
        buffer.writeRepeatingByte(0, count: headerBytes)
        var payload = frame.payload
        buffer.writeBuffer(&payload)
        fillHeader(of: &buffer, at: start, type: frame.type, flags: frame.flags, correlationID: frame.correlationID)
    }

    /// Fills the header reserved at `start`; the payload is everything written after it.
    private static func fillHeader(of buffer: inout ByteBuffer, at start: Int, type: UInt8, flags: Flags, correlationID: UInt64) {
        let payloadStart = start + headerBytes
        let payloadBytes = buffer.writerIndex - payloadStart
        let crc = buffer.withUnsafeReadableBytes { raw in
            let offset = payloadStart - buffer.readerIndex
            return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + payloadBytes)]))
        }
        buffer.setInteger(magic, at: start)
        buffer.setInteger(versionMajor, at: start + 2)
        buffer.setInteger(type, at: start + 3)
        buffer.setInteger(flags.rawValue, at: start + 4)
        buffer.setInteger(UInt8(0), at: start + 5)
        buffer.setInteger(correlationID, at: start + 6)
        buffer.setInteger(UInt32(payloadBytes), at: start + 14)
        buffer.setInteger(crc, at: start + 18)
    }
}
