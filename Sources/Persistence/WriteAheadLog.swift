import NIOPosix

/// The node's write-ahead log: preallocated segments of checksummed records, group commit,
/// and recovery that truncates a torn tail but refuses damaged committed data.
///
/// Appends that arrive while a write is in flight are batched into the next one, so concurrent
/// writers share one `fdatasync`. ``append(_:)`` returns only once its records are on disk.
///
/// - SeeAlso: Pillai et al., "All File Systems Are Not Created Equal" (ALICE, OSDI 2014), for
///   what a crash can leave at the end of an appended file.
public actor WriteAheadLog {
    public struct Configuration: Sendable {
        public var directory: String
        /// Each segment is preallocated to this size; a record must fit in one segment.
        public var segmentBytes = 64 * 1024 * 1024
        /// The largest record accepted.
        public var recordBytesMax = 16 * 1024 * 1024

        public init(directory: String) { self.directory = directory }
    }

    /// What recovery found.
    public struct RecoveryReport: Sendable, Equatable {
        public var segments = 0
        public var records = 0
        /// A partial or bad-CRC record at the very end, discarded: (file, offset, bytes discarded).
        public var tornTail: TornTail?
    }

    public struct TornTail: Sendable, Equatable {
        public var path: String
        public var offset: Int
        public var bytes: Int
    }

    struct Segment {
        let index: Int
        let path: String
        /// The shards with records in this segment: each needs a snapshot that covers the
        /// segment before it is deleted.
        var shards: Set<UInt32> = []
    }

    public let configuration: Configuration
    private let pool: NIOThreadPool
    private var segments: [Segment] = []
    private var file: PosixFile
    private var offset: Int
    private var pending: [(bytes: [UInt8], records: [WALRecord], continuation: CheckedContinuation<Void, any Error>)] = []
    private var flushing = false
    private var failure: (any Error)?

    /// Opens (or creates) the log, calling `replay` for every valid record in order, with the
    /// index of the segment that holds it.
    public static func open(
        _ configuration: Configuration,
        replay: (WALRecord, _ segment: Int) throws -> Void
    ) throws -> (WriteAheadLog, RecoveryReport) {
        try Directory.create(configuration.directory)
        var report = RecoveryReport()
        var segments: [Segment] = []
        let names = try Directory.list(configuration.directory).filter { $0.hasPrefix("wal-") && $0.hasSuffix(".seg") }
        var contents: [(Segment, [UInt8])] = []
        for name in names {
            guard let index = Int(name.dropFirst(4).dropLast(4)) else { continue }
            let path = configuration.directory + "/" + name
            contents.append((Segment(index: index, path: path), try PosixFile.open(path, create: false).readAll()))
        }
        contents.sort { $0.0.index < $1.0.index }

        var writeOffset = 0
        for position in contents.indices {
            var (segment, bytes) = contents[position]
            var cursor = 0
            var stop = false
            try bytes.withUnsafeBytes { (raw) throws in
                while cursor < raw.count && !stop {
                    switch WALRecord.decode(raw, at: cursor, recordBytesMax: configuration.recordBytesMax) {
                    case .record(let record, let next):
                        try replay(record, segment.index)
                        report.records += 1
                        segment.shards.insert(record.shard)
                        cursor = next
                    case .end:
                        stop = true
                    case .invalid:
                        // A bad record is a torn tail only if nothing valid follows it anywhere.
                        let later = ArraySlice(contents[(position + 1)...].map(\.1))
                        if Self.containsValidRecord(raw, after: cursor, orIn: later, recordBytesMax: configuration.recordBytesMax) {
                            throw PersistenceError(.corruption(offset: cursor), path: segment.path)
                        }
                        let garbageEnd = (raw.lastIndex(where: { $0 != 0 }) ?? cursor) + 1
                        report.tornTail = TornTail(path: segment.path, offset: cursor, bytes: max(0, garbageEnd - cursor))
                        let file = try PosixFile.open(segment.path, create: false)
                        try file.write([UInt8](repeating: 0, count: max(0, garbageEnd - cursor)), at: cursor)
                        try file.dataSync()
                        stop = true
                    }
                }
            }
            segments.append(segment)
            writeOffset = cursor
            if report.tornTail != nil {
                // Nothing valid follows: later (empty) segments are dropped so appends continue here.
                for (later, _) in contents[(position + 1)...] { try Directory.remove(later.path) }
                break
            }
        }
        report.segments = segments.count

        let file: PosixFile
        if let last = segments.last {
            file = try PosixFile.open(last.path, create: false)
            if try file.size() < configuration.segmentBytes { try file.preallocate(configuration.segmentBytes) }
        } else {
            let first = Segment(index: 1, path: Self.path(configuration.directory, 1))
            file = try Self.create(first.path, bytes: configuration.segmentBytes, directory: configuration.directory)
            segments.append(first)
            writeOffset = 0
        }
        let log = WriteAheadLog(configuration: configuration, segments: segments, file: file, offset: writeOffset)
        return (log, report)
    }

    private init(configuration: Configuration, segments: [Segment], file: PosixFile, offset: Int) {
        self.configuration = configuration
        self.segments = segments
        self.file = file
        self.offset = offset
        self.pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }

    static func path(_ directory: String, _ index: Int) -> String {
        let digits = String(index)
        return directory + "/wal-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits + ".seg"
    }

    static func create(_ path: String, bytes: Int, directory: String) throws(PersistenceError) -> PosixFile {
        let file = try PosixFile.open(path, create: true)
        try file.preallocate(bytes)
        try file.sync()
        try Directory.sync(directory)
        return file
    }

    /// Whether a valid record starts anywhere after `offset` in `bytes`, or in any later segment.
    static func containsValidRecord(
        _ bytes: UnsafeRawBufferPointer,
        after offset: Int,
        orIn later: ArraySlice<[UInt8]>,
        recordBytesMax: Int
    ) -> Bool {
        var candidate = offset + 1
        while candidate + WALRecord.prefixBytes <= bytes.count {
            if bytes[candidate] != 0 || bytes[candidate + 1] != 0 || bytes[candidate + 2] != 0 || bytes[candidate + 3] != 0,
                case .record = WALRecord.decode(bytes, at: candidate, recordBytesMax: recordBytesMax)
            {
                return true
            }
            candidate += 1
        }
        for segment in later {
            let found = segment.withUnsafeBytes { raw -> Bool in
                guard raw.count >= WALRecord.prefixBytes else { return false }
                if case .record = WALRecord.decode(raw, at: 0, recordBytesMax: recordBytesMax) { return true }
                return containsValidRecord(raw, after: 0, orIn: ArraySlice([]), recordBytesMax: recordBytesMax)
            }
            if found { return true }
        }
        return false
    }

    // MARK: - Appending

    /// Appends records and returns once they are durable (written and `fdatasync`ed).
    public func append(_ records: [WALRecord]) async throws {
        if let failure { throw failure }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records.reduce(0) { $0 + $1.encodedBytes })
        for record in records {
            guard record.encodedBytes <= configuration.recordBytesMax,
                record.encodedBytes <= configuration.segmentBytes
            else {
                throw PersistenceError(
                    .invalid("record of \(record.encodedBytes) bytes exceeds the limit of \(configuration.recordBytesMax)"),
                    path: configuration.directory
                )
            }
            record.encode(into: &bytes)
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            pending.append((bytes, records, continuation))
            if !flushing {
                flushing = true
                Task { await self.flushLoop() }
            }
        }
    }

    private func flushLoop() async {
        while !pending.isEmpty {
            let batch = pending
            pending.removeAll()
            do {
                try await writeDurably(batch.map { ($0.bytes, $0.records) })
                for entry in batch { entry.continuation.resume() }
            } catch {
                // After a failed write the log's state on disk is unknown: fail everything from now on.
                failure = error
                for entry in batch { entry.continuation.resume(throwing: error) }
                for entry in pending { entry.continuation.resume(throwing: error) }
                pending.removeAll()
            }
        }
        flushing = false
    }

    /// Writes the batch (rolling to new segments as needed), then `fdatasync`s once per segment touched.
    private func writeDurably(_ batch: [(bytes: [UInt8], records: [WALRecord])]) async throws {
        var chunk: [UInt8] = []
        for (bytes, records) in batch {
            if offset + chunk.count + bytes.count > configuration.segmentBytes {
                try await write(chunk)
                chunk.removeAll()
                try await rollover()
            }
            chunk.append(contentsOf: bytes)
            for record in records { segments[segments.count - 1].shards.insert(record.shard) }
        }
        try await write(chunk)
    }

    private func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        let file = self.file
        let at = offset
        try await pool.runIfActive {
            try file.write(bytes, at: at)
            try file.dataSync()
        }
        offset += bytes.count
    }

    private func rollover() async throws {
        let index = (segments.last?.index ?? 0) + 1
        let path = Self.path(configuration.directory, index)
        let bytes = configuration.segmentBytes
        let directory = configuration.directory
        file = try await pool.runIfActive { try Self.create(path, bytes: bytes, directory: directory) }
        segments.append(Segment(index: index, path: path))
        offset = 0
    }

    // MARK: - Reclaiming space

    /// Deletes the oldest segments whose every record is covered by a snapshot: `covered[shard]`
    /// is the first segment a shard's snapshot does not cover. The segment being written is
    /// never deleted. Returns how many went.
    @discardableResult
    public func removeSegments(coveredBy covered: [UInt32: Int]) throws -> Int {
        var removed = 0
        while segments.count > 1, segments[0].shards.allSatisfy({ covered[$0, default: 0] > segments[0].index }) {
            try Directory.remove(segments[0].path)
            segments.removeFirst()
            removed += 1
        }
        if removed > 0 { try Directory.sync(configuration.directory) }
        return removed
    }

    /// The number of segment files in use.
    public var segmentCount: Int { segments.count }

    /// The index of the oldest segment still on disk.
    public var firstSegmentIndex: Int { segments[0].index }

    /// Starts a new segment now (unless the current one is empty), so everything written so far
    /// can be reclaimed once covered. Returns the index of the segment later appends go to.
    @discardableResult
    public func sealCurrentSegment() async throws -> Int {
        if let failure { throw failure }
        if offset > 0 { try await rollover() }
        return segments[segments.count - 1].index
    }
}
