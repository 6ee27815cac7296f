import ClusterCore

/// Per-shard snapshots: the shard's state at a log position, zstd-compressed.
///
/// A snapshot is written to a temporary file, fsynced, renamed into place and the directory
/// fsynced, so a crash leaves either the old snapshot or the new one, never half of one. On
/// load the newest snapshot wins; a damaged one is corruption (the WAL segments it covered may
/// be gone), reported with its path rather than silently replaced by an older one.
///
/// File layout (big-endian): `"PLSN" | version u32 | shard u32 | WAL segment u64 | lsn u64 |
/// uncompressed bytes u64 | CRC32C u32 | zstd frame`. The CRC32C covers the header fields from
/// the version to the size and then the compressed bytes (version 2, still read, covered the
/// compressed bytes only), and the WAL segment must match the file's name: a flipped bit in the
/// header would otherwise make recovery skip or repeat WAL records.
public struct SnapshotStore: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var shard: UInt32
        /// The first WAL segment whose records of this shard the snapshot does not contain:
        /// recovery replays the shard's records from there on.
        public var walSegment: Int
        /// The shard's log position the state reflects (informational; the layer above's).
        public var lsn: UInt64
        public var state: [UInt8]

        public init(shard: UInt32, walSegment: Int, lsn: UInt64, state: [UInt8]) {
            self.shard = shard
            self.walSegment = walSegment
            self.lsn = lsn
            self.state = state
        }
    }

    /// The largest shard state a snapshot (or a peer) may hold, uncompressed: states live in
    /// memory, so this is already far past what a node could keep for each of its shards.
    public static let stateBytesMax = 1 << 32
    static let magic: [UInt8] = Array("PLSN".utf8)
    static let version: UInt32 = 3
    /// The previous version, read but no longer written: its CRC did not cover the header.
    static let versionCompressedCRC: UInt32 = 2
    /// The header bytes the CRC covers (version … uncompressed size).
    static let checkedHeader = 4..<36
    static let headerBytes = 4 + 4 + 4 + 8 + 8 + 8 + 4

    public let directory: String
    /// Snapshots kept per shard (the newest ones); older ones are deleted after a write.
    public var keep = 1
    public var compressionLevel: Int32 = 3

    public init(directory: String) throws(PersistenceError) {
        self.directory = directory
        try Directory.create(directory)
    }

    func fileName(shard: UInt32, walSegment: Int) -> String {
        let text = String(walSegment)
        return "shard-\(shard)-" + String(repeating: "0", count: max(0, 20 - text.count)) + text + ".snap"
    }

    /// Writes a snapshot durably, then prunes older ones of the same shard.
    public func write(_ snapshot: Snapshot) throws {
        try write([snapshot])
    }

    /// Writes snapshots durably (each file synced, then the directory once for all of them: a
    /// checkpoint of 256 shards costs 257 fsyncs, not 512), then prunes older ones of their
    /// shards.
    public func write(_ snapshots: [Snapshot]) throws {
        for snapshot in snapshots {
            let name = fileName(shard: snapshot.shard, walSegment: snapshot.walSegment)
            let temporary = directory + "/." + name + ".tmp"
            let file = try PosixFile.open(temporary, create: true)
            try file.truncate(0)
            try file.write(try encode(snapshot), at: 0)
            try file.sync()
            try Directory.rename(temporary, directory + "/" + name)
        }
        guard !snapshots.isEmpty else { return }
        try Directory.sync(directory)
        for snapshot in snapshots { try prune(shard: snapshot.shard) }
    }

    /// A snapshot file's bytes: the header, then the compressed state.
    private func encode(_ snapshot: Snapshot) throws -> [UInt8] {
        let compressed = try Zstd.compress(snapshot.state, level: compressionLevel)
        var bytes = Self.magic
        bytes.reserveCapacity(Self.headerBytes + compressed.count)
        bytes.appendBigEndian(Self.version)
        bytes.appendBigEndian(snapshot.shard)
        bytes.appendBigEndian(UInt64(snapshot.walSegment))
        bytes.appendBigEndian(snapshot.lsn)
        bytes.appendBigEndian(UInt64(snapshot.state.count))
        bytes.appendBigEndian(CRC32C.checksum(compressed, continuing: CRC32C.checksum(bytes[Self.checkedHeader])))
        bytes.append(contentsOf: compressed)
        return bytes
    }

    /// The newest snapshot of `shard`, if any; throws if it is damaged.
    public func latest(shard: UInt32) throws -> Snapshot? {
        guard let name = try names(shard: shard).last else { return nil }
        return try read(directory + "/" + name, shard: shard)
    }

    /// For every shard with a snapshot, the first WAL segment its newest snapshot does not cover
    /// (from the file names, which the writer derived from the content it checked).
    public func coverage() throws -> [UInt32: Int] {
        var covered: [UInt32: Int] = [:]
        for name in try Directory.list(directory) where name.hasPrefix("shard-") && name.hasSuffix(".snap") {
            let fields = name.dropFirst(6).dropLast(5).split(separator: "-")
            guard fields.count == 2, let shard = UInt32(fields[0]), let segment = Int(fields[1]) else { continue }
            covered[shard] = max(covered[shard] ?? 0, segment)
        }
        return covered
    }

    /// The shards that have at least one snapshot.
    public func shards() throws -> [UInt32] {
        let shards = try Directory.list(directory).compactMap { name -> UInt32? in
            guard name.hasPrefix("shard-"), name.hasSuffix(".snap") else { return nil }
            return UInt32(name.dropFirst(6).prefix { $0 != "-" })
        }
        return Array(Set(shards)).sorted()
    }

    func names(shard: UInt32) throws(PersistenceError) -> [String] {
        try Directory.list(directory).filter { $0.hasPrefix("shard-\(shard)-") && $0.hasSuffix(".snap") }.sorted()
    }

    func read(_ path: String, shard: UInt32) throws -> Snapshot {
        let bytes = try PosixFile.open(path, create: false).readAll()
        guard bytes.count >= Self.headerBytes, Array(bytes[0..<4]) == Self.magic else {
            throw PersistenceError(.invalid("not a snapshot"), path: path)
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return try bytes.withUnsafeBytes { raw in
            let version = raw.loadBigEndianUInt32(at: 4)
            guard version == Self.version || version == Self.versionCompressedCRC else {
                throw PersistenceError(.invalid("unknown snapshot version \(version)"), path: path)
            }
            let storedShard = raw.loadBigEndianUInt32(at: 8)
            let walSegment = raw.loadBigEndianUInt64(at: 12)
            let lsn = raw.loadBigEndianUInt64(at: 20)
            let size = Int(raw.loadBigEndianUInt64(at: 28))
            let crc = raw.loadBigEndianUInt32(at: 36)
            let compressed = Array(raw[Self.headerBytes...])
            let headerCRC = version == Self.version ? CRC32C.checksum(bytes[Self.checkedHeader]) : 0
            // Format 2's CRC leaves the header out: its size must also be the one the frame records
            // before anything is allocated for it.
            guard storedShard == shard, CRC32C.checksum(compressed, continuing: headerCRC) == crc,
                size <= Self.stateBytesMax, Zstd.contentSize(compressed) == size,
                walSegment <= UInt64(Int.max), name == fileName(shard: shard, walSegment: Int(walSegment))
            else {
                throw PersistenceError(.invalid("damaged snapshot: checksum or header mismatch"), path: path)
            }
            let state: [UInt8]
            do {
                state = try Zstd.decompress(compressed, expectedBytes: size)
            } catch {
                throw PersistenceError(.invalid("damaged snapshot: \(error)"), path: path)
            }
            return Snapshot(shard: shard, walSegment: Int(walSegment), lsn: lsn, state: state)
        }
    }

    private func prune(shard: UInt32) throws {
        let names = try names(shard: shard)
        for name in names.dropLast(keep) { try Directory.remove(directory + "/" + name) }
    }
}
