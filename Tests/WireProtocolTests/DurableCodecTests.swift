import ClusterCore
import GameDomain
import Testing
import WireProtocol

/// The WAL payloads and shard snapshots a node reads back after a restart.
@Suite struct DurableCodecTests {
    static let epoch = Replication.Epoch(number: 3, node: "n2")
    static let config = Replication.Config(epoch: epoch, replicas: [NodeID("n2")!, NodeID("n1")!])
    static let base = Replication.Base(lsn: 10, epoch: epoch, config: config, state: Array(0...255))

    /// More entries than one replication message may carry: a log adopted by a new primary.
    static let longLog = (11...5010).map { Replication.Entry(epoch: epoch, lsn: UInt64($0), payload: .command([UInt8($0 % 256)])) }

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
            #expect(throws: Wire.CodecError.self) { try Wire.DurableRecord.decode(type: type, payload: Array(payload.prefix(length))) }
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

    @Test func aShardStateRoundTrips() throws {
        var user = User.State()
        for event in [
            User.Event.created(id: "u1", username: "Ada", email: "ada@example.com", passwordHash: "scrypt$x", at: 1_795_000_000),
            .profileUpdated(User.Profile(displayName: "Ada L.", bio: "first ✓", avatarURL: "https://x/a.png", country: "GB")),
        ] {
            user.apply(event)
        }
        user.sessions["s1"] = User.Session(id: "s1", refreshTokenHash: "h", expiresAt: 1_795_000_900.5, isRevoked: true)
        var name = NameReservation.State()
        name.owner = "u1"
        name.reservedAt = 1_795_000_000.25
        name.isConfirmed = true
        let entities: [String: EntityCodec.EntityState] = [
            "user/u1": .user(user), "user/u2": .user(User.State()),
            "name/username/ada": .name(name), "name/email/x": .name(NameReservation.State()),
        ]
        var writer = EntityCodec.ShardState.Writer()
        for (key, state) in entities { writer.append(key: key, state) }
        let bytes = writer.finish()
        #expect(try EntityCodec.ShardState.decodeAll(bytes) == entities)
        // The index finds each entry by key hash without decoding it.
        for (hash, range) in try EntityCodec.ShardState.index(bytes) {
            let (key, state) = try EntityCodec.ShardState.entry(in: bytes, at: range)
            #expect(StableHash.fnv1a64(key) == hash)
            #expect(EntityCodec.ShardState.entry(in: bytes, at: range, hasKey: key))
            #expect(!EntityCodec.ShardState.entry(in: bytes, at: range, hasKey: key + "x"))
            #expect(entities[key] == state)
        }
        for length in 0..<bytes.count {
            #expect(throws: Wire.CodecError.self) { try EntityCodec.ShardState.decodeAll(Array(bytes.prefix(length))) }
        }
        #expect(throws: Wire.CodecError.self) { try EntityCodec.ShardState.decodeAll(bytes + [0]) }
    }
}
