import ClusterCore
import Logging
import NIOPosix
import Persistence
import Synchronization
import WireProtocol

/// Checkpoints (compacting logs into snapshots and deleting the WAL they cover) and the shard
/// states that bases and snapshot transfers carry.
extension ReplicationHost {
    // MARK: - Checkpoints

    public struct CheckpointReport: Sendable {
        public var shardsCompacted = 0
        public var snapshotsWritten = 0
        public var segmentsRemoved = 0
        /// The first WAL segment the snapshots do not cover.
        public var walSegment = 0
    }

    /// Compacts every shard's applied log into its state, snapshots every shard's durable state
    /// and deletes the WAL segments the snapshots cover. Returns nil if a checkpoint is already
    /// running.
    @discardableResult
    public func checkpoint() async throws -> CheckpointReport? {
        guard !checkpointing else { return nil }
        checkpointing = true
        defer { checkpointing = false }
        let started = ContinuousClock.now
        walBytesSinceCheckpoint = 0
        // The state machines of shards with newly applied entries, encoded off the actor (and off
        // the event loops and the concurrency pool: compressing a large state takes a while).
        let changed = slots.indices.compactMap { index in
            slots[index].appliedLSN > slots[index].replica.baseLSN
                ? (UInt32(index), machines[index], slots[index].appliedLSN) : nil
        }
        let states = try await Storage.offload {
            try changed.map { (shard: $0.0, state: try Self.encodeState($0.1), lsn: $0.2) }
        }
        var report = CheckpointReport()
        // From here to the seal request nothing suspends: the durable states below are exactly
        // what the WAL holds before the sealed segment.
        for (shard, state, lsn) in states where lsn <= slots[Int(shard)].replica.commitLSN {
            slots[Int(shard)].replica.compact(upTo: lsn, state: state)
            report.shardsCompacted += 1
        }
        let durables = slots.indices.map { (UInt32($0), slots[$0].replica.durable) }
        let segment = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            // Everything collected so far is queued before the seal; later changes after it.
            submitOutbox(includingCommitPositions: true)
            if halted {
                continuation.resume(throwing: ReplicationError.shutdown)
                return
            }
            log.seal { continuation.resume(with: $0) }
        }
        report.walSegment = segment
        let snapshots = try await Storage.offload {
            durables.map { shard, durable in
                SnapshotStore.Snapshot(
                    shard: shard,
                    walSegment: segment,
                    lsn: durable.base?.lsn ?? 0,
                    state: Wire.ReplicaSnapshot.encode(durable)
                )
            }
        }
        report.snapshotsWritten = snapshots.count
        report.segmentsRemoved = try await storage.checkpoint(snapshots)
        metrics.checkpoints.increment()
        checkpointsTaken += 1
        metrics.checkpointDuration.recordNanoseconds((ContinuousClock.now - started).nanosecondsClamped)
        logger.info(
            "checkpoint",
            metadata: [
                "compacted": "\(report.shardsCompacted)", "snapshots": "\(report.snapshotsWritten)",
                "segments-removed": "\(report.segmentsRemoved)", "wal-segment": "\(segment)",
            ]
        )
        return report
    }

    /// The base a message hands over, if any: a snapshot for a lagging follower, or a promiser's
    /// compacted log for a new primary.
    static func base(carriedBy message: Replication.Message) -> Replication.Base? {
        switch message {
        case .installSnapshot(_, let base): base
        case .promise(_, let promise): promise.base
        default: nil
        }
    }

    /// Whether the replica could install `base`: it reaches past the commit position (and, sent
    /// as a snapshot, comes from an epoch not older than the promised one). Retransmissions of
    /// one already installed are not.
    func mayInstall(_ base: Replication.Base, of message: Replication.Message, shard: UInt32) -> Bool {
        guard base.lsn > slots[Int(shard)].replica.commitLSN else { return false }
        if case .installSnapshot(let epoch, _) = message { return epoch >= slots[Int(shard)].replica.promised }
        return true
    }

    /// A shard's base state: its state machine's snapshot, zstd-compressed (what replicas keep
    /// in memory, send to lagging followers and write in WAL install records and snapshots).
    static func encodeState(_ machine: Machine) throws -> [UInt8] {
        let state = machine.snapshot()
        // Past the bound no node could read it back (nor this one restart from it).
        guard state.count <= SnapshotStore.stateBytesMax else {
            throw StateTooLarge(bytes: state.count)
        }
        return try Zstd.compress(state, level: 1)
    }

    struct StateTooLarge: Error, CustomStringConvertible {
        var bytes: Int
        var description: String { "a shard state of \(bytes) bytes exceeds \(SnapshotStore.stateBytesMax)" }
    }

    static func decodeState(_ state: [UInt8]) throws -> [UInt8] {
        try Zstd.decompress(state, bytesMax: SnapshotStore.stateBytesMax)
    }

    /// Starts no more automatic checkpoints and returns once the one running, if any, has
    /// finished: a node that stops lets it complete rather than leave it writing snapshots and
    /// deleting WAL segments after the node is gone (a restart in the same process would open
    /// that directory meanwhile).
    public func stopAutomaticCheckpoints() async {
        stoppingCheckpoints = true
        await automaticCheckpoint?.value
    }

    /// WAL bytes written since the last checkpoint started.
    public var walBytesSinceLastCheckpoint: Int { walBytesSinceCheckpoint }
}
