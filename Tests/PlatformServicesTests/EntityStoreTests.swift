import ClusterCore
import EntityRuntime
import GameDomain
import PlatformServices
import Testing

/// The shard state machine: events build entities; snapshots restore them passive; activation
/// and passivation never change what the state is.
@Suite struct EntityStoreTests {
    static func created(_ index: Int) -> [UInt8] {
        EntityRecord.encode(
            UserKind.self,
            key: UserKind.key("u\(index)"),
            events: [
                .created(
                    id: "u\(index)",
                    username: "player\(index)",
                    email: "p\(index)@example.com",
                    passwordHash: "h",
                    at: 1
                )
            ]
        )
    }

    static func renamed(_ index: Int, _ name: String) -> [UInt8] {
        EntityRecord.encode(
            UserKind.self,
            key: UserKind.key("u\(index)"),
            events: [.profileUpdated(User.Profile(displayName: name))]
        )
    }

    static func reserved(_ name: String, by user: String) -> [UInt8] {
        EntityRecord.encode(
            NameReservationKind.self,
            key: NameReservationKind.username(name),
            events: [.reserved(userID: user, at: 2)]
        )
    }

    /// Every entity's state, read through the public accessors.
    static func contents(_ store: EntityStore, users: Range<Int>, names: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for index in users {
            if let user = try store.state(of: UserKind.self, key: UserKind.key("u\(index)")) {
                result["u\(index)"] = "\(user)"
            }
        }
        for name in names {
            if let state = try store.state(of: NameReservationKind.self, key: NameReservationKind.username(name)) {
                result[name] = "\(state)"
            }
        }
        return result
    }

    static func user(_ store: EntityStore, _ index: Int) throws -> User.State? {
        try store.state(of: UserKind.self, key: UserKind.key("u\(index)"))
    }

    @Test func aRestoredSnapshotIsPassiveAndReadsTheSame() throws {
        var store = EntityStore(registry: PlatformKinds.registry)
        var lsn: UInt64 = 0
        for index in 0..<200 {
            lsn += 1
            try store.apply(Self.created(index), lsn: lsn)
        }
        try store.apply(Self.renamed(7, "Seven"), lsn: lsn + 1)
        try store.apply(Self.reserved("ada", by: "u1"), lsn: lsn + 2)
        let before = try Self.contents(store, users: 0..<201, names: ["ada", "bob"])
        #expect(before.count == 201)

        var restored = EntityStore(registry: PlatformKinds.registry)
        try restored.restore(store.snapshot())
        #expect(restored.activeCount == 0 && restored.passiveCount == 201)
        #expect(try Self.contents(restored, users: 0..<201, names: ["ada", "bob"]) == before)
        #expect(try Self.user(restored, 7)?.profile.displayName == "Seven")

        // An event activates its entity (from its passive state) and applies on top of it.
        try restored.apply(Self.renamed(7, "Sept"), lsn: lsn + 3)
        #expect(restored.activeCount == 1 && restored.passiveCount == 200)
        #expect(try Self.user(restored, 7)?.profile.displayName == "Sept")
        #expect(try Self.user(restored, 7)?.username == "player7")
    }

    @Test func passivationKeepsTheStateAndSnapshotsStayEqual() throws {
        var store = EntityStore(registry: PlatformKinds.registry)
        for index in 0..<50 { try store.apply(Self.created(index), lsn: UInt64(index + 1)) }
        let cutoff = ContinuousClock.now
        try store.apply(Self.renamed(3, "Three"), lsn: 51)
        let before = try Self.contents(store, users: 0..<50, names: [])

        // Everything but u3 (touched after the cutoff) goes passive.
        #expect(store.passivate(idleSince: cutoff) == 49)
        #expect(store.activeCount == 1 && store.passiveCount == 49)
        #expect(try Self.contents(store, users: 0..<50, names: []) == before)

        // Activate and passivate again many times: the arena is compacted, nothing is lost.
        for round in 0..<30 {
            for index in 0..<50 {
                try store.apply(Self.renamed(index, "r\(round)"), lsn: UInt64(100 + round * 50 + index))
            }
            store.passivate(idleSince: .now)
        }
        #expect(store.activeCount == 0 && store.passiveCount == 50)
        for index in 0..<50 { #expect(try Self.user(store, index)?.profile.displayName == "r29") }

        var restored = EntityStore(registry: PlatformKinds.registry)
        try restored.restore(store.snapshot())
        #expect(
            try Self.contents(restored, users: 0..<50, names: [])
                == (try Self.contents(store, users: 0..<50, names: []))
        )
    }

    @Test func aDamagedSnapshotIsRefused() throws {
        var store = EntityStore(registry: PlatformKinds.registry)
        try store.apply(Self.created(1), lsn: 1)
        var bytes = store.snapshot()
        bytes[0] = 9
        var restored = EntityStore(registry: PlatformKinds.registry)
        #expect(throws: SchemaError.self) { try restored.restore(bytes) }
        #expect(throws: SchemaError.self) { try restored.restore(Array(store.snapshot().dropLast())) }
    }
}
