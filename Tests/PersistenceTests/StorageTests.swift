import ClusterCore
import Foundation
import Persistence
import Testing

/// A tiny key-value state machine per shard, to check that snapshot + tail replay equals full replay.
struct KeyValueState: Equatable {
    var shards: [UInt32: [String: String]] = [:]
    var lastLSN: [UInt32: UInt64] = [:]

    static func payload(_ key: String, _ value: String) -> [UInt8] { Array("\(key)=\(value)".utf8) }

    mutating func apply(_ record: WALRecord) {
        let text = String(decoding: record.payload, as: UTF8.self)
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        shards[record.shard, default: [:]][parts[0]] = parts[1]
        lastLSN[record.shard] = record.lsn
    }

    func snapshot(of shard: UInt32, walSegment: Int) -> SnapshotStore.Snapshot {
        let entries = (shards[shard] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return .init(shard: shard, walSegment: walSegment, lsn: lastLSN[shard] ?? 0, state: Array(entries.joined(separator: "\n").utf8))
    }

    /// Seals the WAL and snapshots every shard at that point, as a node's checkpoint does.
    func checkpoint(_ storage: Storage) async throws {
        let segment = try await storage.log.sealCurrentSegment()
        try await storage.checkpoint((0..<3).map { snapshot(of: $0, walSegment: segment) })
    }

    mutating func restore(_ snapshot: SnapshotStore.Snapshot) {
        var entries: [String: String] = [:]
        for line in String(decoding: snapshot.state, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            entries[parts[0]] = parts[1]
        }
        shards[snapshot.shard] = entries
        lastLSN[snapshot.shard] = snapshot.lsn
    }
}

@Suite struct StorageTests {
    static let segmentBytes = 8192

    func open(_ directory: TestDirectory) throws -> (Storage, KeyValueState) {
        var state = KeyValueState()
        let storage = try Storage.open(
            directory: directory.path,
            segmentBytes: Self.segmentBytes,
            restore: { state.restore($0) },
            apply: { state.apply($0) }
        )
        return (storage, state)
    }

    /// Writes `count` updates spread over 3 shards and 40 keys, continuing each shard's LSN.
    func write(_ count: Int, from start: Int, to storage: Storage, state: inout KeyValueState) async throws {
        for index in start..<(start + count) {
            let shard = UInt32(index % 3)
            let record = WALRecord(
                shard: shard,
                epoch: 1,
                lsn: (state.lastLSN[shard] ?? 0) + 1,
                type: 1,
                payload: KeyValueState.payload("key\(index % 40)", "value\(index)")
            )
            try await storage.log.append([record])
            state.apply(record)
        }
    }

    @Test func snapshotPlusTailReplayEqualsFullReplay() async throws {
        // The same history goes to two nodes' storage; one of them checkpoints half-way.
        let withSnapshots = TestDirectory()
        let walOnly = TestDirectory()
        var (checkpointed, live) = try open(withSnapshots)
        var (plain, mirror) = try open(walOnly)
        try await write(300, from: 0, to: checkpointed, state: &live)
        try await write(300, from: 0, to: plain, state: &mirror)
        try await live.checkpoint(checkpointed)
        try await write(200, from: 300, to: checkpointed, state: &live)
        try await write(200, from: 300, to: plain, state: &mirror)

        let (reopened, fromSnapshots) = try open(withSnapshots)
        let (_, fromFullReplay) = try open(walOnly)
        #expect(fromSnapshots == fromFullReplay)
        #expect(fromSnapshots == live)
        #expect(reopened.report.snapshotsLoaded == 3)
        #expect(reopened.report.recordsReplayed < 500)
    }

    @Test func aCheckpointDeletesCoveredSegments() async throws {
        let directory = TestDirectory()
        var (storage, live) = try open(directory)
        try await write(400, from: 0, to: storage, state: &live)
        let before = directory.files(in: "wal").count
        try await live.checkpoint(storage)
        let after = directory.files(in: "wal").count
        #expect(before > 2)
        #expect(after < before)
        let (_, recovered) = try open(directory)
        #expect(recovered == live)
    }

    @Test func aCrashBetweenSnapshotRenameAndWALDeletionRecovers() async throws {
        let directory = TestDirectory()
        var (storage, live) = try open(directory)
        try await write(250, from: 0, to: storage, state: &live)
        // The snapshots are in place but the covered segments were never deleted.
        let segment = try await storage.log.sealCurrentSegment()
        for shard in UInt32(0)..<3 { try storage.snapshots.write(live.snapshot(of: shard, walSegment: segment)) }
        try await write(50, from: 250, to: storage, state: &live)
        let (reopened, recovered) = try open(directory)
        #expect(recovered == live)
        #expect(reopened.report.recordsSkipped == 250)
        #expect(reopened.report.recordsReplayed == 50)
    }

    @Test func aDamagedSnapshotIsRefusedNamingTheFile() async throws {
        let directory = TestDirectory()
        var (storage, live) = try open(directory)
        try await write(60, from: 0, to: storage, state: &live)
        try await live.checkpoint(storage)
        try await write(60, from: 60, to: storage, state: &live)
        try await live.checkpoint(storage)
        let names = directory.files(in: "snapshots").filter { $0.hasPrefix("shard-0-") }
        #expect(names.count == 1, "older snapshots are pruned: \(names)")
        var newest = directory.bytes("snapshots/" + names[0])
        newest[newest.count - 3] ^= 0xFF
        directory.write(newest, to: "snapshots/" + names[0])
        // The segments it covered are gone: starting from anything else would lose data.
        do {
            _ = try open(directory)
            Issue.record("a damaged snapshot was accepted")
        } catch let error as PersistenceError {
            #expect(error.path.hasSuffix(names[0]))
            #expect(error.description.contains("damaged snapshot"))
        }
    }

    /// The header is checked too: a flipped bit in the log position or the WAL segment, or a
    /// snapshot file renamed to another segment, is refused rather than replaying the wrong
    /// records; a snapshot of the previous format (CRC over the compressed bytes) still loads.
    @Test func aSnapshotHeaderIsCheckedAndThePreviousFormatStillLoads() throws {
        let directory = TestDirectory()
        let store = try SnapshotStore(directory: directory.path + "/snapshots")
        let snapshot = SnapshotStore.Snapshot(shard: 7, walSegment: 3, lsn: 41, state: Array("k=v\n".utf8))
        try store.write(snapshot)
        #expect(try store.latest(shard: 7) == snapshot)
        let name = "snapshots/" + directory.files(in: "snapshots")[0]
        let good = directory.bytes(name)

        for offset in [23, 19] {  // inside the lsn field, inside the WAL segment field
            var bytes = good
            bytes[offset] ^= 0x01
            directory.write(bytes, to: name)
            #expect(throws: PersistenceError.self, "bit flipped at \(offset)") { try store.latest(shard: 7) }
        }
        directory.write(good, to: name)
        try FileManager.default.moveItem(
            atPath: directory.path + "/" + name,
            toPath: directory.path + "/" + name.replacingOccurrences(of: "00003.snap", with: "00004.snap")
        )
        #expect(throws: PersistenceError.self) { try store.latest(shard: 7) }
        try FileManager.default.removeItem(atPath: directory.path + "/" + name.replacingOccurrences(of: "00003.snap", with: "00004.snap"))

        // Version 2: the same layout with the CRC over the compressed bytes only.
        var previous = good
        previous[7] = 2
        let crc = CRC32C.checksum(previous[40...])
        for (index, byte) in withUnsafeBytes(of: crc.bigEndian, Array.init).enumerated() { previous[36 + index] = byte }
        directory.write(previous, to: name)
        #expect(try store.latest(shard: 7) == snapshot)
        // Its CRC leaves the header's size out: a flipped bit there (1 GiB more) is refused
        // because the frame records another size, before anything is allocated for it.
        previous[32] ^= 0x40
        directory.write(previous, to: name)
        let error = #expect(throws: PersistenceError.self) { try store.latest(shard: 7) }
        #expect(error?.description.contains("header mismatch") == true, "\(String(describing: error))")
    }

    @Test func recordsOfAShardWithoutSnapshotAfterDeletedSegmentsAreRefused() async throws {
        let directory = TestDirectory()
        var (storage, live) = try open(directory)
        try await write(300, from: 0, to: storage, state: &live)
        try await live.checkpoint(storage)
        try await write(30, from: 300, to: storage, state: &live)
        // Someone deletes shard 1's snapshot: its early records are gone with the deleted segments.
        for name in directory.files(in: "snapshots") where name.hasPrefix("shard-1-") {
            try FileManager.default.removeItem(atPath: directory.path + "/snapshots/" + name)
        }
        #expect(throws: PersistenceError.self) { _ = try open(directory) }
    }

    @Test func zstdRoundTripsAndShrinksRepetitiveState() throws {
        let state = Array(String(repeating: "player:42 gold=100 level=7\n", count: 1000).utf8)
        let compressed = try Zstd.compress(state)
        #expect(compressed.count < state.count / 10)
        #expect(try Zstd.decompress(compressed, expectedBytes: state.count) == state)
        #expect(throws: Zstd.Error.self) { try Zstd.decompress(Array(compressed.dropLast(4)), expectedBytes: state.count) }
        // The frame records its size: no need to know it, only a bound.
        #expect(try Zstd.decompress(compressed, bytesMax: state.count) == state)
        #expect(throws: Zstd.Error.self) { try Zstd.decompress(compressed, bytesMax: state.count - 1) }
        #expect(throws: Zstd.Error.self) { try Zstd.decompress(Array("not zstd".utf8), bytesMax: 1 << 20) }
    }
}
