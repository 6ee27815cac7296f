import ClusterCore
import GameDomain
import PlatformServices
import Testing
import WireProtocol

/// The shard state machine: events build entities; snapshots restore them passive; activation
/// and passivation never change what the state is.
@Suite struct EntityStoreTests {
    static func created(_ index: Int) -> [UInt8] {
        EntityCodec.encodeRecord(
            key: EntityKey.user("u\(index)"),
            events: .user([.created(id: "u\(index)", username: "player\(index)", email: "p\(index)@example.com", passwordHash: "h", at: 1)])
        )
    }

    static func renamed(_ index: Int, _ name: String) -> [UInt8] {
        EntityCodec.encodeRecord(key: EntityKey.user("u\(index)"), events: .user([.profileUpdated(User.Profile(displayName: name))]))
    }

    static func reserved(_ name: String, by user: String) -> [UInt8] {
        EntityCodec.encodeRecord(key: EntityKey.username(name), events: .name([.reserved(userID: user, at: 2)]))
    }

    /// Every entity's state, read through the public accessors.
    static func contents(_ store: EntityStore, users: Range<Int>, names: [String]) -> [String: EntityCodec.EntityState] {
        var result: [String: EntityCodec.EntityState] = [:]
        for index in users { if let user = store.user(EntityKey.user("u\(index)")) { result["u\(index)"] = .user(user) } }
        for name in names { if let state = store.name(EntityKey.username(name)) { result[name] = .name(state) } }
        return result
    }

    @Test func aRestoredSnapshotIsPassiveAndReadsTheSame() throws {
        var store = EntityStore()
        var lsn: UInt64 = 0
        for index in 0..<200 {
            lsn += 1
            store.apply(Self.created(index), lsn: lsn)
        }
        store.apply(Self.renamed(7, "Seven"), lsn: lsn + 1)
        store.apply(Self.reserved("ada", by: "u1"), lsn: lsn + 2)
        let before = Self.contents(store, users: 0..<201, names: ["ada", "bob"])
        #expect(before.count == 201)

        var restored = EntityStore()
        try restored.restore(store.snapshot())
        #expect(restored.activeCount == 0 && restored.passiveCount == 201)
        #expect(Self.contents(restored, users: 0..<201, names: ["ada", "bob"]) == before)
        #expect(restored.user(EntityKey.user("u7"))?.profile.displayName == "Seven")

        // An event activates its entity (from its passive state) and applies on top of it.
        restored.apply(Self.renamed(7, "Sept"), lsn: lsn + 3)
        #expect(restored.activeCount == 1 && restored.passiveCount == 200)
        #expect(restored.user(EntityKey.user("u7"))?.profile.displayName == "Sept")
        #expect(restored.user(EntityKey.user("u7"))?.username == "player7")
    }

    @Test func passivationKeepsTheStateAndSnapshotsStayEqual() throws {
        var store = EntityStore()
        for index in 0..<50 { store.apply(Self.created(index), lsn: UInt64(index + 1)) }
        let cutoff = ContinuousClock.now
        store.apply(Self.renamed(3, "Three"), lsn: 51)
        let before = Self.contents(store, users: 0..<50, names: [])

        // Everything but u3 (touched after the cutoff) goes passive.
        #expect(store.passivate(idleSince: cutoff) == 49)
        #expect(store.activeCount == 1 && store.passiveCount == 49)
        #expect(Self.contents(store, users: 0..<50, names: []) == before)

        // Activate and passivate again many times: the arena is compacted, nothing is lost.
        for round in 0..<30 {
            for index in 0..<50 { store.apply(Self.renamed(index, "r\(round)"), lsn: UInt64(100 + round * 50 + index)) }
            store.passivate(idleSince: .now)
        }
        #expect(store.activeCount == 0 && store.passiveCount == 50)
        #expect((0..<50).allSatisfy { store.user(EntityKey.user("u\($0)"))?.profile.displayName == "r29" })

        var restored = EntityStore()
        try restored.restore(store.snapshot())
        #expect(Self.contents(restored, users: 0..<50, names: []) == Self.contents(store, users: 0..<50, names: []))
    }

    @Test func aDamagedSnapshotIsRefused() throws {
        var store = EntityStore()
        store.apply(Self.created(1), lsn: 1)
        var bytes = store.snapshot()
        bytes[0] = 9
        var restored = EntityStore()
        #expect(throws: Wire.CodecError.self) { try restored.restore(bytes) }
        #expect(throws: Wire.CodecError.self) { try restored.restore(Array(store.snapshot().dropLast())) }
    }
}
