import ClusterCore

/// The encoding of a shard's entity states (what a snapshot and a snapshot transfer carry):
///
/// ```
/// version u8 = 3 | count u32 | entries
/// entry: kind u32 | key length u16 | key (UTF-8) | state length u32 | state (the kind's schema)
/// ```
///
/// Integers are big-endian. The framing lets a node index entries by key without decoding a
/// single state (a restore only indexes), and each state is encoded by its kind's schema, so a
/// kind's state evolves without a new container version.
public enum ShardStateContainer {
    public static let version: UInt8 = 3
    public static let headerBytes = 5
    /// kind + key length + state length.
    static let entryOverheadBytes = 10

    /// An encoder that entries are appended to, then finished with their count.
    public struct Writer {
        private var bytes: [UInt8] = []
        private var count: UInt32 = 0

        public init(capacity: Int = 0) {
            bytes.reserveCapacity(capacity + ShardStateContainer.headerBytes)
            bytes.append(ShardStateContainer.version)
            bytes.append(contentsOf: [0, 0, 0, 0])
        }

        /// Appends an entry; returns where it sits in the finished bytes.
        @discardableResult
        public mutating func append(kind: UInt32, key: String, state: [UInt8]) -> Range<Int> {
            let start = bytes.count
            appendBigEndian(kind)
            let keyBytes = Array(key.utf8)
            precondition(keyBytes.count <= Int(UInt16.max), "an entity key of \(keyBytes.count) bytes")
            appendBigEndian(UInt16(keyBytes.count))
            bytes.append(contentsOf: keyBytes)
            appendBigEndian(UInt32(state.count))
            bytes.append(contentsOf: state)
            count += 1
            return start..<bytes.count
        }

        /// Appends an entry exactly as ``ShardStateContainer/index(_:)`` found it in another encoding.
        public mutating func append(raw entry: ArraySlice<UInt8>) {
            bytes.append(contentsOf: entry)
            count += 1
        }

        public mutating func finish() -> [UInt8] {
            withUnsafeBytes(of: count.bigEndian) { bytes.replaceSubrange(1..<5, with: $0) }
            return bytes
        }

        private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }
    }

    /// One entry of an encoding, found by ``index(_:)``.
    public struct Entry: Sendable, Equatable {
        public var kind: UInt32
        /// FNV-1a of the key's UTF-8 bytes.
        public var keyHash: UInt64
        /// The whole entry's bytes.
        public var range: Range<Int>

        public init(kind: UInt32, keyHash: UInt64, range: Range<Int>) {
            self.kind = kind
            self.keyHash = keyHash
            self.range = range
        }
    }

    /// The entries of an encoding. Checks the framing, not the states.
    public static func index(_ bytes: [UInt8]) throws(SchemaError) -> [Entry] {
        guard bytes.count >= headerBytes else { throw SchemaError("shard state: no header") }
        guard bytes[0] == version else {
            throw SchemaError("shard state: container version \(bytes[0]); this node reads version \(version)")
        }
        let count = Int(readUInt32(bytes, at: 1))
        // A count beyond what the payload could hold is damage, not a reason to allocate.
        guard count <= (bytes.count - headerBytes) / entryOverheadBytes else {
            throw SchemaError("shard state: \(count) entries cannot fit in \(bytes.count) bytes")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var cursor = headerBytes
        for _ in 0..<count {
            let start = cursor
            guard bytes.count - cursor >= 6 else { throw SchemaError("shard state: truncated entry") }
            let kind = readUInt32(bytes, at: cursor)
            let keyLength = Int(bytes[cursor + 4]) << 8 | Int(bytes[cursor + 5])
            cursor += 6
            guard bytes.count - cursor >= keyLength + 4 else { throw SchemaError("shard state: truncated key") }
            let keyHash = bytes.withUnsafeBytes {
                StableHash.fnv1a64(UnsafeRawBufferPointer(rebasing: $0[cursor..<(cursor + keyLength)]))
            }
            cursor += keyLength
            let stateLength = Int(readUInt32(bytes, at: cursor))
            cursor += 4
            guard bytes.count - cursor >= stateLength else { throw SchemaError("shard state: truncated state") }
            cursor += stateLength
            entries.append(Entry(kind: kind, keyHash: keyHash, range: start..<cursor))
        }
        guard cursor == bytes.count else {
            throw SchemaError("shard state: \(bytes.count - cursor) bytes after the entries")
        }
        return entries
    }

    /// The key and the state bytes of the entry at `range` (as ``index(_:)`` found it).
    public static func entry(in bytes: [UInt8], at range: Range<Int>) -> (
        kind: UInt32, key: String, state: ArraySlice<UInt8>
    ) {
        let kind = readUInt32(bytes, at: range.lowerBound)
        let keyLength = Int(bytes[range.lowerBound + 4]) << 8 | Int(bytes[range.lowerBound + 5])
        let keyStart = range.lowerBound + 6
        let key = String(decoding: bytes[keyStart..<(keyStart + keyLength)], as: UTF8.self)
        return (kind, key, bytes[(keyStart + keyLength + 4)..<range.upperBound])
    }

    /// Whether the entry at `range` is the one of `key` (compares the stored key's bytes).
    public static func entry(in bytes: [UInt8], at range: Range<Int>, hasKey key: String) -> Bool {
        var key = key
        return key.withUTF8 { wanted in
            let start = range.lowerBound + 6
            guard range.count >= 6 + wanted.count,
                Int(bytes[range.lowerBound + 4]) << 8 | Int(bytes[range.lowerBound + 5]) == wanted.count
            else { return false }
            return bytes[start..<(start + wanted.count)].elementsEqual(wanted)
        }
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }
}
