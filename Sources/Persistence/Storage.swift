/// A node's durable storage: the write-ahead log plus per-shard snapshots.
///
/// Recovery is "newest intact snapshot of each shard, then every WAL record of that shard
/// after the snapshot's LSN". Records a snapshot already covers are skipped, so a crash
/// anywhere between writing a snapshot and deleting the WAL segments it covers recovers the
/// same state.
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

    /// Opens `<directory>/wal` and `<directory>/snapshots`, restoring through the two callbacks.
    public static func open(
        directory: String,
        segmentBytes: Int = 64 * 1024 * 1024,
        restore: (SnapshotStore.Snapshot) throws -> Void,
        apply: (WALRecord) throws -> Void
    ) throws -> Storage {
        let snapshots = try SnapshotStore(directory: directory + "/snapshots")
        var report = Report()
        var covered: [UInt32: UInt64] = [:]
        for shard in try snapshots.shards() {
            guard let snapshot = try snapshots.latest(shard: shard) else { continue }
            try restore(snapshot)
            covered[shard] = snapshot.lsn
            report.snapshotsLoaded += 1
        }
        var configuration = WriteAheadLog.Configuration(directory: directory + "/wal")
        configuration.segmentBytes = segmentBytes
        let (log, walReport) = try WriteAheadLog.open(configuration) { record in
            if let lsn = covered[record.shard], record.lsn <= lsn {
                report.recordsSkipped += 1
                return
            }
            try apply(record)
            report.recordsReplayed += 1
        }
        report.wal = walReport
        return Storage(log: log, snapshots: snapshots, report: report)
    }

    /// Writes snapshots, then deletes the WAL segments they cover.
    public func checkpoint(_ taken: [SnapshotStore.Snapshot]) async throws {
        try await log.sealCurrentSegment()
        for snapshot in taken { try snapshots.write(snapshot) }
        var covered: [UInt32: UInt64] = [:]
        for shard in try snapshots.shards() {
            if let latest = try snapshots.latest(shard: shard) { covered[shard] = latest.lsn }
        }
        try await log.removeSegments(coveredBy: covered)
    }
}
