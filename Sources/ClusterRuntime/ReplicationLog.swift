import ClusterCore
import Persistence
import WireProtocol

/// A node's replication records in its storage: reading every shard's durable state back at
/// start, and cutting long changes into WAL records of bounded size.
public enum ReplicationLog {
    /// Opens a node's storage and reads the durable state of every shard from it: each shard's
    /// snapshot, then its replication records after it.
    public static func openStorage(
        directory: String,
        segmentBytes: Int = 64 * 1024 * 1024
    ) throws -> (Storage, [UInt32: Replication.Replica.Durable]) {
        var durable: [UInt32: Replication.Replica.Durable] = [:]
        let storage = try Storage.open(
            directory: directory,
            segmentBytes: segmentBytes,
            restore: { snapshot in durable[snapshot.shard] = try Wire.ReplicaSnapshot.decode(snapshot.state) },
            apply: { record in
                durable[record.shard, default: .init()].apply(
                    try Wire.DurableRecord.decode(type: record.type, payload: record.payload)
                )
            }
        )
        return (storage, durable)
    }

    /// A change as WAL records of bounded size: a long run of entries (a log a new primary
    /// adopted, a follower catching up) becomes consecutive `.entries` records of at most about
    /// `walEntriesBytesMax` each, which replay to the same log (each continues where the last ended).
    public static func walSized(_ change: Replication.Replica.DurableChange) -> [Replication.Replica.DurableChange] {
        guard case .entries(let entries) = change else { return [change] }
        var parts: [Replication.Replica.DurableChange] = []
        var start = 0
        var bytes = 0
        for (index, entry) in entries.enumerated() {
            let size = if case .command(let command) = entry.payload { 64 + command.count } else { 256 }
            if index > start && bytes + size > walEntriesBytesMax {
                parts.append(.entries(Array(entries[start..<index])))
                start = index
                bytes = 0
            }
            bytes += size
        }
        parts.append(.entries(Array(entries[start...])))
        return parts
    }

    /// About how many bytes of entries one WAL record carries at most.
    public static let walEntriesBytesMax = 1 << 20
}
