import NIOPosix
import Synchronization

/// The node's write-ahead log: preallocated segments of checksummed records, group commit,
/// and recovery that truncates a torn tail but refuses damaged committed data.
///
/// Appends queue up under a lock and the log's own thread writes everything queued in one
/// write and one `fdatasync` (group commit), then the next batch, without waiting for anyone
/// in between. ``submit(_:)`` queues records synchronously and returns their sequence number,
/// so records of one caller are written in the order it submitted them; the handler set with
/// ``onDurable(_:)`` hears, after each write, the highest sequence number on disk.
/// ``append(_:)`` returns only once its records are on disk.
///
/// - SeeAlso: Pillai et al., "All File Systems Are Not Created Equal" (ALICE, OSDI 2014), for
///   what a crash can leave at the end of an appended file.
public final class WriteAheadLog: Sendable {
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
    private let state: Mutex<State>

    /// One write of the log: everything submitted up to `sequence` is on disk.
    public struct Written: Sendable {
        public var sequence: UInt64
        public var records: Int
        public var bytes: Int
        /// Writing and syncing took this long.
        public var duration: Duration
    }

    /// Durability of submitted records: each write, or the error that stopped the log (nothing
    /// is written after a failed write).
    public typealias DurableHandler = @Sendable (Result<Written, any Error>) -> Void

    enum Queued {
        case records([WALRecord], sequence: UInt64)
        /// Start a new segment after everything queued before (see ``seal(_:)``).
        case seal(@Sendable (Result<Int, any Error>) -> Void)
        /// Someone waiting for a sequence number to be durable (``append(_:)``).
        case waiter(UInt64, CheckedContinuation<Void, any Error>)
    }

    struct State {
        var segments: [Segment]
        var file: PosixFile
        var offset: Int
        var queue: [Queued] = []
        var writing = false
        var failure: (any Error)?
        var nextSequence: UInt64 = 1
        var durableSequence: UInt64 = 0
        var handler: DurableHandler?
    }

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
            let file = try PosixFile.open(path, create: false)
            // What a crashed process wrote may be in the page cache only: read back, it would be
            // taken for durable (and promised to others) though a power cut could still lose it.
            // Synced first, it is durable before anything counts on it; a sync that fails stops
            // the recovery (never retried: the kernel may have dropped the pages it failed on).
            try file.sync()
            contents.append((Segment(index: index, path: path), try file.readAll()))
        }
        // The segments' names (a crash may have come between a segment's creation and the
        // directory's sync).
        try Directory.sync(configuration.directory)
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
                        do {
                            try replay(record, segment.index)
                        } catch let error as PersistenceError {
                            throw error
                        } catch {
                            // Intact on disk (its CRC holds) but not understood: name where it is.
                            throw PersistenceError(
                                .invalid(
                                    "the record at offset \(cursor) (shard \(record.shard), LSN \(record.lsn), type \(record.type)) cannot be replayed: \(error)"
                                ),
                                path: segment.path
                            )
                        }
                        report.records += 1
                        segment.shards.insert(record.shard)
                        cursor = next
                    case .end where Self.isZero(raw, from: cursor):
                        stop = true
                    case .end, .invalid:
                        // A zeroed header with bytes after it is a hole, not the end: like a bad
                        // record, it is a torn tail only if nothing valid follows it anywhere.
                        let later = ArraySlice(contents[(position + 1)...].map(\.1))
                        if Self.containsValidRecord(
                            raw,
                            after: cursor,
                            orIn: later,
                            recordBytesMax: configuration.recordBytesMax
                        ) {
                            throw PersistenceError(.corruption(offset: cursor), path: segment.path)
                        }
                        let garbageEnd = (raw.lastIndex(where: { $0 != 0 }) ?? cursor) + 1
                        report.tornTail = TornTail(
                            path: segment.path,
                            offset: cursor,
                            bytes: max(0, garbageEnd - cursor)
                        )
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
        self.state = Mutex(State(segments: segments, file: file, offset: offset))
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

    /// Whether every byte of `bytes` from `offset` on is zero (word by word: segments are large).
    static func isZero(_ bytes: UnsafeRawBufferPointer, from offset: Int) -> Bool {
        var index = offset
        while index < bytes.count && index % 8 != 0 {
            if bytes[index] != 0 { return false }
            index += 1
        }
        while index + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        while index < bytes.count {
            if bytes[index] != 0 { return false }
            index += 1
        }
        return true
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
            if bytes[candidate] != 0 || bytes[candidate + 1] != 0 || bytes[candidate + 2] != 0
                || bytes[candidate + 3] != 0,
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

    /// Sets who hears about durability (once, before the first ``submit(_:)``).
    public func onDurable(_ handler: @escaping DurableHandler) {
        state.withLock { $0.handler = handler }
    }

    /// Queues records for the next write and returns their sequence number: they are durable
    /// once the ``onDurable(_:)`` handler reports that number (or a higher one). Throws, without
    /// queueing anything, if the log has failed or a record exceeds the limits.
    @discardableResult
    public func submit(_ records: [WALRecord]) throws -> UInt64 {
        for record in records {
            guard record.encodedBytes <= configuration.recordBytesMax, record.encodedBytes <= configuration.segmentBytes
            else {
                throw PersistenceError(
                    .invalid(
                        "record of \(record.encodedBytes) bytes exceeds the limit of \(configuration.recordBytesMax)"
                    ),
                    path: configuration.directory
                )
            }
        }
        return try state.withLock { state throws -> UInt64 in
            if let failure = state.failure { throw failure }
            let sequence = state.nextSequence
            state.nextSequence += 1
            state.queue.append(.records(records, sequence: sequence))
            startWriting(&state)
            return sequence
        }
    }

    /// Starts a new segment right after everything submitted so far (unless the current segment
    /// is empty), so it can all be reclaimed once covered; `completion` gets the index of the
    /// segment later records go to. Queued in order with ``submit(_:)``.
    public func seal(_ completion: @escaping @Sendable (Result<Int, any Error>) -> Void) {
        let failure = state.withLock { state -> (any Error)? in
            if let failure = state.failure { return failure }
            state.queue.append(.seal(completion))
            startWriting(&state)
            return nil
        }
        if let failure { completion(.failure(failure)) }
    }

    /// Appends records and returns once they are durable (written and `fdatasync`ed).
    public func append(_ records: [WALRecord]) async throws {
        let sequence = try submit(records)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let now = state.withLock { state -> Result<Void, any Error>? in
                if let failure = state.failure { return .failure(failure) }
                if state.durableSequence >= sequence { return .success(()) }
                state.queue.append(.waiter(sequence, continuation))
                startWriting(&state)
                return nil
            }
            if let now { continuation.resume(with: now) }
        }
    }

    /// ``seal(_:)``, awaited.
    @discardableResult
    public func sealCurrentSegment() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in seal { continuation.resume(with: $0) } }
    }

    private func startWriting(_ state: inout State) {
        guard !state.writing else { return }
        state.writing = true
        pool.submit { [self] _ in writeLoop() }
    }

    /// On the log's thread: writes whatever is queued, one write and one `fdatasync` per batch
    /// (and per segment touched), until the queue is empty.
    private func writeLoop() {
        while true {
            let (batch, current, start) = state.withLock { state -> ([Queued], PosixFile?, Int) in
                if state.queue.isEmpty || state.failure != nil {
                    state.writing = false
                    return ([], nil, 0)
                }
                let batch = state.queue
                state.queue.removeAll(keepingCapacity: true)
                return (batch, state.file, state.offset)
            }
            guard var file = current else { return }
            var offset = start
            var chunk: [UInt8] = []
            var written: UInt64 = 0
            var recordCount = 0
            var byteCount = 0
            let started = ContinuousClock.now
            var shards: Set<UInt32> = []
            var sealed: [(@Sendable (Result<Int, any Error>) -> Void, Int)] = []
            var waiters: [(UInt64, CheckedContinuation<Void, any Error>)] = []
            do {
                func writeChunk() throws {
                    guard !chunk.isEmpty else { return }
                    try file.write(chunk, at: offset)
                    try file.dataSync()
                    offset += chunk.count
                    byteCount += chunk.count
                    chunk.removeAll(keepingCapacity: true)
                    let touched = shards
                    shards.removeAll()
                    state.withLock { state in
                        state.offset = offset
                        for shard in touched { state.segments[state.segments.count - 1].shards.insert(shard) }
                    }
                }
                func rollover() throws {
                    try writeChunk()
                    let index = state.withLock { ($0.segments.last?.index ?? 0) + 1 }
                    let path = Self.path(configuration.directory, index)
                    file = try Self.create(path, bytes: configuration.segmentBytes, directory: configuration.directory)
                    offset = 0
                    state.withLock { state in
                        state.segments.append(Segment(index: index, path: path))
                        state.file = file
                        state.offset = 0
                    }
                }
                for item in batch {
                    switch item {
                    case .records(let records, let sequence):
                        for record in records {
                            // A record never straddles segments, and a segment is never left empty.
                            if offset + chunk.count > 0,
                                offset + chunk.count + record.encodedBytes > configuration.segmentBytes
                            {
                                try rollover()
                            }
                            record.encode(into: &chunk)
                            shards.insert(record.shard)
                        }
                        recordCount += records.count
                        written = sequence
                    case .seal(let completion):
                        if offset + chunk.count > 0 { try rollover() }
                        sealed.append((completion, state.withLock { $0.segments[$0.segments.count - 1].index }))
                    case .waiter(let sequence, let continuation):
                        waiters.append((sequence, continuation))
                    }
                }
                try writeChunk()
            } catch {
                // After a failed write the log's state on disk is unknown: fail everything from now on.
                let (handler, queued) = state.withLock { state in
                    state.failure = error
                    state.writing = false
                    let queued = state.queue
                    state.queue.removeAll()
                    return (state.handler, queued)
                }
                handler?(.failure(error))
                for item in batch + queued {
                    switch item {
                    case .seal(let completion): completion(.failure(error))
                    case .waiter(_, let continuation): continuation.resume(throwing: error)
                    case .records: break
                    }
                }
                return
            }
            let (handler, durable) = state.withLock { state in
                state.durableSequence = max(state.durableSequence, written)
                return (state.handler, state.durableSequence)
            }
            if written > 0 {
                handler?(
                    .success(
                        Written(
                            sequence: durable,
                            records: recordCount,
                            bytes: byteCount,
                            duration: ContinuousClock.now - started
                        )
                    )
                )
            }
            for (completion, segment) in sealed { completion(.success(segment)) }
            for (sequence, continuation) in waiters {
                if sequence <= durable {
                    continuation.resume()
                } else {
                    // Queued before its records' batch was written: wait for the next one.
                    state.withLock { $0.queue.append(.waiter(sequence, continuation)) }
                }
            }
        }
    }

    // MARK: - Reclaiming space

    /// Deletes the oldest segments whose every record is covered by a snapshot: `covered[shard]`
    /// is the first segment a shard's snapshot does not cover. The segment being written is
    /// never deleted. Returns how many went.
    @discardableResult
    public func removeSegments(coveredBy covered: [UInt32: Int]) throws -> Int {
        // Decided under the lock (the writer adds shards to the last segment only, never removed);
        // the files go outside it.
        let doomed = state.withLock { state -> [Segment] in
            var doomed: [Segment] = []
            while state.segments.count > 1,
                state.segments[0].shards.allSatisfy({ covered[$0, default: 0] > state.segments[0].index })
            {
                doomed.append(state.segments.removeFirst())
            }
            return doomed
        }
        for segment in doomed { try Directory.remove(segment.path) }
        if !doomed.isEmpty { try Directory.sync(configuration.directory) }
        return doomed.count
    }

    /// The number of segment files in use.
    public var segmentCount: Int { state.withLock { $0.segments.count } }

    /// The index of the oldest segment still on disk.
    public var firstSegmentIndex: Int { state.withLock { $0.segments[0].index } }
}
