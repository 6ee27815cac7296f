import ClusterCore
import Testing
import WireProtocol

/// The WAL payloads and shard snapshots a node reads back after a restart.
@Suite struct DurableCodecTests {
    static let epoch = Replication.Epoch(number: 3, node: "n2")
    static let config = Replication.Config(epoch: epoch, replicas: [NodeID("n2")!, NodeID("n1")!])
    static let base = Replication.Base(lsn: 10, epoch: epoch, config: config, state: Array(0...255))

    /// More entries than one replication message may carry: a log adopted by a new primary.
    static let longLog = (11...5010).map {
        Replication.Entry(epoch: epoch, lsn: UInt64($0), payload: .command([UInt8($0 % 256)]))
    }

    static let changes: [Replication.Replica.DurableChange] = [
        .promised(config),
        .promisedEpoch(epoch),
        .entries(Array(longLog.prefix(3))),
        .entries(longLog),
        .committed(42),
        .installed(base),
        .forgot([epoch, Replication.Epoch(number: 9, node: "n1")]),
        .forgot([]),
    ]

    @Test(arguments: changes)
    func everyChangeRoundTripsAndEveryTruncationIsRefused(change: Replication.Replica.DurableChange) throws {
        let (type, payload) = Wire.DurableRecord.encode(change)
        #expect(try Wire.DurableRecord.decode(type: type, payload: payload) == change)
        for length in stride(from: 0, to: payload.count, by: max(1, payload.count / 200)) {
            #expect(throws: Wire.CodecError.self) {
                try Wire.DurableRecord.decode(type: type, payload: Array(payload.prefix(length)))
            }
        }
        #expect(throws: Wire.CodecError.self) { try Wire.DurableRecord.decode(type: type, payload: payload + [0]) }
    }

    @Test func aReplicaSnapshotRoundTrips() throws {
        var durable = Replication.Replica.Durable()
        durable.promised = Replication.Epoch(number: 4, node: "n1")
        durable.history = [Self.config, Replication.Config(epoch: durable.promised, replicas: [NodeID("n1")!])]
        durable.base = Self.base
        durable.log = Self.longLog
        durable.commitLSN = 4000
        let bytes = Wire.ReplicaSnapshot.encode(durable)
        #expect(try Wire.ReplicaSnapshot.decode(bytes) == durable)
        #expect(try Wire.ReplicaSnapshot.decode(Wire.ReplicaSnapshot.encode(.init())) == .init())
        #expect(throws: Wire.CodecError.self) { try Wire.ReplicaSnapshot.decode(Array(bytes.dropLast())) }
        // A log that does not continue the base is damage, not something to start from.
        durable.log = Array(Self.longLog.dropFirst())
        #expect(throws: Wire.CodecError.self) { try Wire.ReplicaSnapshot.decode(Wire.ReplicaSnapshot.encode(durable)) }
    }
}
