import ClusterCore

/// One record of the write-ahead log.
///
/// On disk, big-endian:
///
/// ```
/// | body bytes u32 | CRC32C of body u32 | shard u32 | epoch u64 | lsn u64 | type u8 | payload … |
///                                       ^------------------ body ------------------------------^
/// ```
///
/// The CRC is computed when the record is encoded and checked again when it is read back.
/// A zero length marks the end of the written part of a preallocated segment.
public struct WALRecord: Sendable, Equatable {
    public var shard: UInt32
    public var epoch: UInt64
    /// The record's position in its shard's log.
    public var lsn: UInt64
    /// What the payload is; the meaning belongs to the layer above.
    public var type: UInt8
    public var payload: [UInt8]

    public init(shard: UInt32, epoch: UInt64, lsn: UInt64, type: UInt8, payload: [UInt8]) {
        self.shard = shard
        self.epoch = epoch
        self.lsn = lsn
        self.type = type
        self.payload = payload
    }

    static let prefixBytes = 8
    static let fixedBodyBytes = 4 + 8 + 8 + 1

    /// The encoded size of this record.
    public var encodedBytes: Int { Self.prefixBytes + Self.fixedBodyBytes + payload.count }

    func encode(into bytes: inout [UInt8]) {
        let bodyStart = bytes.count + Self.prefixBytes
        let bodyBytes = Self.fixedBodyBytes + payload.count
        bytes.appendBigEndian(UInt32(bodyBytes))
        bytes.appendBigEndian(UInt32(0))  // CRC, filled in below
        bytes.appendBigEndian(shard)
        bytes.appendBigEndian(epoch)
        bytes.appendBigEndian(lsn)
        bytes.append(type)
        bytes.append(contentsOf: payload)
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[bodyStart...])) }
        bytes.setBigEndian(crc, at: bodyStart - 4)
    }

    enum DecodeResult {
        case record(WALRecord, next: Int)
        /// Zeros: nothing was ever written here.
        case end
        /// Not a valid record (partial, out of bounds or bad CRC).
        case invalid
    }

    /// Decodes the record at `offset`, checking bounds and the CRC.
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, recordBytesMax: Int) -> DecodeResult {
        guard bytes.count - offset >= prefixBytes else {
            return bytes[offset...].allSatisfy { $0 == 0 } ? .end : .invalid
        }
        let bodyBytes = Int(bytes.loadBigEndianUInt32(at: offset))
        let crc = bytes.loadBigEndianUInt32(at: offset + 4)
        if bodyBytes == 0 && crc == 0 { return .end }
        guard bodyBytes >= fixedBodyBytes, bodyBytes <= recordBytesMax, offset + prefixBytes + bodyBytes <= bytes.count else {
            return .invalid
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + prefixBytes)..<(offset + prefixBytes + bodyBytes)])
        guard CRC32C.checksum(body) == crc else { return .invalid }
        let record = WALRecord(
            shard: body.loadBigEndianUInt32(at: 0),
            epoch: body.loadBigEndianUInt64(at: 4),
            lsn: body.loadBigEndianUInt64(at: 12),
            type: body[20],
            payload: Array(body[21...])
        )
        return .record(record, next: offset + prefixBytes + bodyBytes)
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    mutating func setBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.bigEndian) { raw in
            for (index, byte) in raw.enumerated() { self[offset + index] = byte }
        }
    }
}

extension UnsafeRawBufferPointer {
    func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func loadBigEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
