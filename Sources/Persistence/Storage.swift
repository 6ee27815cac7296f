import NIOPosix

/// A node's durable storage: the write-ahead log plus per-shard snapshots.
///
/// Recovery is "newest snapshot of each shard, then that shard's WAL records from the segment
/// the snapshot names on". A checkpoint seals the current WAL segment, writes snapshots that
/// cover everything before it, and only then deletes the segments they cover, so a crash
/// anywhere in between recovers the same state.
public struct Storage: Sendable {
    public let log: WriteAheadLog
    public let snapshots: SnapshotStore
    public let report: Report

    public struct Report: Sendable, Equatable {
        public var snapshotsLoaded = 0
        public var recordsReplayed = 0
        public var recordsSkipped = 0
        public var wal = WriteAheadLog.RecoveryReport()
    }

    /// Opens `<directory>/wal` and `<directory>/snapshots`, restoring through the two callbacks:
    /// every shard's snapshot first, then the records that follow them, in log order. A directory
    /// of another ``DataFormat`` is refused before anything is read.
    public static func open(
        directory: String,
        segmentBytes: Int = 64 * 1024 * 1024,
        format: Int = DataFormat.current,
        restore: (SnapshotStore.Snapshot) throws -> Void,
        apply: (WALRecord) throws -> Void
    ) throws -> Storage {
        try DataFormat.check(directory: directory, version: format)
        let snapshots = try SnapshotStore(directory: directory + "/snapshots")
        var report = Report()
        var covered: [UInt32: Int] = [:]
        for shard in try snapshots.shards() {
            guard let snapshot = try snapshots.latest(shard: shard) else { continue }
            try restore(snapshot)
            covered[shard] = snapshot.walSegment
            report.snapshotsLoaded += 1
        }
        var configuration = WriteAheadLog.Configuration(directory: directory + "/wal")
        configuration.segmentBytes = segmentBytes
        var firstSegment: Int?
        let (log, walReport) = try WriteAheadLog.open(configuration) { record, segment in
            if firstSegment == nil { firstSegment = segment }
            if let start = covered[record.shard], segment < start {
                report.recordsSkipped += 1
                return
            }
            if covered[record.shard] == nil, let firstSegment, firstSegment > 1 {
                // Older segments were deleted because a snapshot covered them; this one is missing.
                throw PersistenceError(
                    .invalid(
                        "shard \(record.shard) has records but no snapshot, and WAL segments before \(firstSegment) are gone"
                    ),
                    path: directory + "/snapshots"
                )
            }
            try apply(record)
            report.recordsReplayed += 1
        }
        report.wal = walReport
        return Storage(log: log, snapshots: snapshots, report: report)
    }

    /// Writes snapshots (each covering the WAL before its `walSegment`, which the caller got from
    /// ``WriteAheadLog/sealCurrentSegment()`` when it took them), then deletes the segments
    /// every shard's newest snapshot covers. Returns how many segments went.
    @discardableResult
    public func checkpoint(_ taken: [SnapshotStore.Snapshot]) async throws -> Int {
        let snapshots = self.snapshots
        let log = self.log
        // Compression, fsyncs and deletions are blocking work: off the event loops and the
        // concurrency pool.
        return try await Self.offload {
            try snapshots.write(taken)
            return try log.removeSegments(coveredBy: try snapshots.coverage())
        }
    }

    /// Runs blocking work on the storage threads and waits for it. Not cancellable: a checkpoint
    /// at shutdown runs in a cancelled task and must still complete.
    public static func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any(), body).get()
    }

    /// The process's threads for checkpoint work (encoding, compressing, writing and fsyncing
    /// snapshots), apart from NIO's shared pool: password hashing runs there, and a burst of
    /// logins must not hold back a checkpoint (nor a long checkpoint the logins).
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()
}
