/// The Protocol Buffers wire format for the few envelopes the runtime encodes by hand on its hot
/// path (``EntityRecord``). See https://protobuf.dev/programming-guides/encoding/.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func varintField(_ field: UInt64, _ value: UInt64) {
        varint(field << 3 | ProtobufReader.WireType.varint.rawValue)
        varint(value)
    }

    mutating func bytesField(_ field: UInt64, _ value: some Collection<UInt8>) {
        varint(field << 3 | ProtobufReader.WireType.lengthDelimited.rawValue)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }
}

/// Reads Protocol Buffers fields, checking every length against what is there.
struct ProtobufReader {
    enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    private let bytes: [UInt8]
    private var cursor = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The next field's number and wire type; nil at the end of the message.
    mutating func nextField() throws(SchemaError) -> (UInt64, WireType)? {
        guard cursor < bytes.count else { return nil }
        let tag = try varint()
        guard tag >> 3 != 0, let wireType = WireType(rawValue: tag & 7) else {
            throw SchemaError("protobuf: field tag \(tag) is not one this node reads")
        }
        return (tag >> 3, wireType)
    }

    mutating func varint() throws(SchemaError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard cursor < bytes.count else { throw SchemaError("protobuf: truncated varint") }
            let byte = bytes[cursor]
            cursor += 1
            guard shift < 64 else { throw SchemaError("protobuf: varint longer than 10 bytes") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    mutating func lengthDelimited() throws(SchemaError) -> ArraySlice<UInt8> {
        let length = try varint()
        guard length <= UInt64(bytes.count - cursor) else {
            throw SchemaError("protobuf: truncated length-delimited field")
        }
        let start = cursor
        cursor += Int(length)
        return bytes[start..<cursor]
    }

    mutating func skip(_ wireType: WireType) throws(SchemaError) {
        switch wireType {
        case .varint: _ = try varint()
        case .lengthDelimited: _ = try lengthDelimited()
        case .fixed64, .fixed32:
            let width = wireType == .fixed64 ? 8 : 4
            guard bytes.count - cursor >= width else { throw SchemaError("protobuf: truncated fixed field") }
            cursor += width
        }
    }
}
