import Foundation
import Persistence
import Synchronization
import Testing

@Suite struct WriteAheadLogTests {
    static let segmentBytes = 64 * 1024

    func record(_ index: Int, shard: UInt32 = 0, payloadBytes: Int = 24) -> WALRecord {
        WALRecord(
            shard: shard,
            epoch: 1,
            lsn: UInt64(index),
            type: 1,
            payload: Array("record-\(index)-".utf8) + [UInt8](repeating: UInt8(index & 0xFF), count: payloadBytes)
        )
    }

    func configuration(_ directory: TestDirectory, segmentBytes: Int = segmentBytes) -> WriteAheadLog.Configuration {
        var configuration = WriteAheadLog.Configuration(directory: directory.path + "/wal")
        configuration.segmentBytes = segmentBytes
        return configuration
    }

    func reopen(_ directory: TestDirectory, segmentBytes: Int = segmentBytes) throws -> (
        [WALRecord], WriteAheadLog, WriteAheadLog.RecoveryReport
    ) {
        var records: [WALRecord] = []
        let (log, report) = try WriteAheadLog.open(configuration(directory, segmentBytes: segmentBytes)) { record, _ in
            records.append(record)
        }
        return (records, log, report)
    }

    @Test func appendedRecordsReplayInOrder() async throws {
        let directory = TestDirectory()
        let (_, log, report) = try reopen(directory)
        #expect(report.records == 0)
        let written = (1...50).map { record($0) }
        for chunk in stride(from: 0, to: 50, by: 7) { try await log.append(Array(written[chunk..<min(chunk + 7, 50)])) }
        let (replayed, _, second) = try reopen(directory)
        #expect(replayed == written)
        #expect(second.tornTail == nil)
    }

    /// Recovery syncs every segment before it replays (and counts as durable) what it read: a
    /// segment that cannot be synced — here one that is really `/dev/null`, which refuses syncs —
    /// stops the recovery with the sync's error, naming the file.
    @Test func recoverySyncsWhatItReadsAndStopsWhenItCannot() throws {
        let directory = TestDirectory()
        let wal = directory.path + "/wal"
        try FileManager.default.createDirectory(atPath: wal, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: wal + "/wal-000000000001.seg",
            withDestinationPath: "/dev/null"
        )
        do {
            _ = try reopen(directory)
            Issue.record("recovered from a segment it could not sync")
        } catch let error as PersistenceError {
            #expect(error.description.contains("fsync"), "\(error)")
            #expect(error.description.contains("wal-000000000001.seg"), "\(error)")
        }
    }

    @Test func concurrentAppendsAllBecomeDurable() async throws {
        let directory = TestDirectory()
        let (_, log, _) = try reopen(directory)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 1...200 {
                group.addTask { try await log.append([self.record(index, shard: UInt32(index % 4))]) }
            }
            try await group.waitForAll()
        }
        let (replayed, _, _) = try reopen(directory)
        #expect(Set(replayed.map(\.lsn)) == Set((1...200).map(UInt64.init)))
    }

    @Test func submissionsAndSealsKeepTheirOrderAndEveryWriteIsReported() async throws {
        let directory = TestDirectory()
        let (_, log, _) = try reopen(directory)
        let reported = Mutex<[UInt64]>([])
        log.onDurable { result in
            if case .success(let written) = result { reported.withLock { $0.append(written.sequence) } }
        }
        var sequences: [UInt64] = []
        for index in 1...20 { sequences.append(try log.submit([record(index)])) }
        // The seal is queued behind the 20 records: they stay in segment 1, later ones go to 2.
        let segment = try await withCheckedThrowingContinuation { continuation in
            log.seal { continuation.resume(with: $0) }
        }
        for index in 21...40 { sequences.append(try log.submit([record(index)])) }
        try await log.append([record(41)])
        #expect(segment == 2)
        #expect(sequences == sequences.sorted() && Set(sequences).count == 40)
        let seen = reported.withLock { $0 }
        #expect(seen == seen.sorted(), "reports arrive in write order")
        #expect((seen.last ?? 0) > sequences.last!, "the last write covers every submission")
        var segmentOf: [UInt64: Int] = [:]
        _ = try WriteAheadLog.open(configuration(directory)) { record, segment in segmentOf[record.lsn] = segment }
        #expect((1...20).allSatisfy { segmentOf[UInt64($0)] == 1 })
        #expect((21...41).allSatisfy { segmentOf[UInt64($0)] == 2 })
    }

    @Test func recordsRollOverIntoNewSegments() async throws {
        let directory = TestDirectory()
        let (_, log, _) = try reopen(directory, segmentBytes: 4096)
        let written = (1...300).map { record($0, payloadBytes: 100) }
        for item in written { try await log.append([item]) }
        #expect(log.segmentCount > 5)
        let (replayed, _, _) = try reopen(directory, segmentBytes: 4096)
        #expect(replayed == written)
    }

    @Test func oneAppendLargerThanASegmentSpreadsOverSegmentsFromTheFirst() async throws {
        let directory = TestDirectory()
        let (_, log, _) = try reopen(directory, segmentBytes: 4096)
        let written = (1...100).map { record($0, payloadBytes: 100) }  // ~15 KiB in one append
        try await log.append(written)
        var segmentOf: [UInt64: Int] = [:]
        let (reopened, _) = try WriteAheadLog.open(configuration(directory, segmentBytes: 4096)) { record, segment in
            segmentOf[record.lsn] = segment
        }
        #expect(segmentOf.count == 100)
        #expect(segmentOf[1] == 1, "the first segment is used, not skipped")
        #expect(reopened.segmentCount >= 4)
    }

    @Test func aRecordLargerThanTheLimitIsRefused() async throws {
        let directory = TestDirectory()
        let (_, log, _) = try reopen(directory, segmentBytes: 4096)
        await #expect(throws: PersistenceError.self) { try await log.append([record(1, payloadBytes: 5000)]) }
        try await log.append([record(2)])
        let (replayed, _, _) = try reopen(directory, segmentBytes: 4096)
        #expect(replayed == [record(2)])
    }

    /// Writes five records and returns the segment name and the byte range of the last one.
    func fiveRecords(_ directory: TestDirectory) async throws -> (segment: String, start: Int, end: Int) {
        let (_, log, _) = try reopen(directory)
        for index in 1...5 { try await log.append([record(index)]) }
        let segment = "wal/" + directory.files(in: "wal")[0]
        let end = (1...5).map { record($0).encodedBytes }.reduce(0, +)
        return (segment, end - record(5).encodedBytes, end)
    }

    @Test func aTornTailIsTruncatedAtEveryByteOffsetOfTheLastRecord() async throws {
        let original = TestDirectory()
        let (segment, start, end) = try await fiveRecords(original)
        for cut in start..<end {
            for garbage in [UInt8(0x00), 0xA5] {
                let directory = original.copy()
                var bytes = directory.bytes(segment)
                for index in cut..<end { bytes[index] = garbage }
                directory.write(bytes, to: segment)

                let (replayed, log, report) = try reopen(directory)
                #expect(replayed == (1...4).map { record($0) }, "cut at \(cut) with \(garbage)")
                #expect(report.records == 4)
                // Only a write that left some non-zero byte behind is visible as a torn tail;
                // a prefix of zeros is indistinguishable from nothing written at all.
                if garbage != 0 || original.bytes(segment)[start..<cut].contains(where: { $0 != 0 }) {
                    #expect(report.tornTail?.offset == start, "cut at \(cut) with \(garbage)")
                    #expect(report.tornTail?.path.hasSuffix(segment) == true)
                }
                // The log goes on after the truncation point, and what follows survives.
                try await log.append([record(6)])
                let (after, _, clean) = try reopen(directory)
                #expect(after == (1...4).map { record($0) } + [record(6)], "cut at \(cut) with \(garbage)")
                #expect(clean.tornTail == nil)
            }
        }
    }

    @Test func aFlippedBitBeforeValidRecordsIsRefusedNamingFileAndOffset() async throws {
        let directory = TestDirectory()
        let (segment, _, _) = try await fiveRecords(directory)
        let third = record(1).encodedBytes + record(2).encodedBytes
        var bytes = directory.bytes(segment)
        bytes[third + 15] ^= 0x04
        directory.write(bytes, to: segment)
        do {
            _ = try reopen(directory)
            Issue.record("a corrupt WAL was accepted")
        } catch let error as PersistenceError {
            #expect(error.kind == .corruption(offset: third))
            #expect(error.path.hasSuffix(segment))
            #expect(error.description.contains("offset \(third)"))
        }
    }

    /// A record intact on disk that its reader cannot replay (a payload it does not understand)
    /// stops the open with the file, the offset and the record named, not a bare decoding error.
    @Test func aRecordThatCannotBeReplayedIsNamedWithFileAndOffset() async throws {
        struct Unreadable: Error, CustomStringConvertible {
            var description: String { "payload ends inside entries.count" }
        }
        let directory = TestDirectory()
        let (segment, _, _) = try await fiveRecords(directory)
        let third = record(1).encodedBytes + record(2).encodedBytes
        do {
            _ = try WriteAheadLog.open(configuration(directory)) { record, _ in
                if record.lsn == 3 { throw Unreadable() }
            }
            Issue.record("a record that cannot be replayed was skipped")
        } catch let error as PersistenceError {
            #expect(error.path.hasSuffix(segment))
            #expect(error.description.contains("offset \(third)"), "\(error)")
            #expect(error.description.contains("LSN 3"), "\(error)")
            #expect(error.description.contains("payload ends inside entries.count"), "\(error)")
        }
    }

    /// A record whose header reads as zeros (a page of the write that never reached the disk)
    /// is not the end of the log when bytes follow it: before valid records it is corruption,
    /// and at the tail it is a torn tail, truncated and reported.
    @Test func aZeroedHeaderIsAHoleNotTheEndOfTheLog() async throws {
        let original = TestDirectory()
        let (segment, start, _) = try await fiveRecords(original)
        let third = record(1).encodedBytes + record(2).encodedBytes

        let middle = original.copy()
        var bytes = middle.bytes(segment)
        for index in third..<(third + 8) { bytes[index] = 0 }
        middle.write(bytes, to: segment)
        do {
            _ = try reopen(middle)
            Issue.record("a WAL with a hole before valid records was accepted")
        } catch let error as PersistenceError {
            #expect(error.kind == .corruption(offset: third))
            #expect(error.path.hasSuffix(segment))
        }

        let tail = original.copy()
        bytes = tail.bytes(segment)
        for index in start..<(start + 8) { bytes[index] = 0 }
        tail.write(bytes, to: segment)
        let (replayed, log, report) = try reopen(tail)
        #expect(replayed == (1...4).map { record($0) })
        #expect(report.tornTail?.offset == start)
        try await log.append([record(6)])
        let (after, _, clean) = try reopen(tail)
        #expect(after == (1...4).map { record($0) } + [record(6)])
        #expect(clean.tornTail == nil)
    }

    @Test func coveredSegmentsAreDeletedAndTheRestReplays() async throws {
        let directory = TestDirectory()
        let (_, log, _) = try reopen(directory, segmentBytes: 4096)
        for index in 1...200 { try await log.append([record(index, shard: UInt32(index % 2), payloadBytes: 100)]) }
        let before = log.segmentCount
        #expect(before > 4)
        // Nothing is deleted while a shard without a snapshot still has records there.
        #expect(try log.removeSegments(coveredBy: [0: 1000]) == 0)
        // Shard 0's snapshot covers segments before 4, shard 1's before 3: segments 1 and 2 go.
        let removed = try log.removeSegments(coveredBy: [0: 4, 1: 3])
        #expect(removed == 2)
        #expect(log.firstSegmentIndex == 3)
        let (replayed, _, _) = try reopen(directory, segmentBytes: 4096)
        #expect(replayed.last == record(200, shard: 0, payloadBytes: 100))
        #expect(!replayed.contains { $0.lsn == 1 })
    }
}
