import ClusterCore
import EntityRuntime
import Foundation
import Testing

/// The generic shard state with the test kinds: one table per kind, records it cannot decode
/// refused whole, and the container format pinned.
@Suite struct EntityStoreTests {
    static func added(_ id: String, _ amount: Int64) -> [UInt8] {
        EntityRecord.encode(TallyKind.self, key: TallyKind.key(id), events: [.added(amount, by: "p")])
    }

    @Test func recordsFoldIntoTheirKindsTableAndSurviveASnapshot() throws {
        var store = EntityStore(registry: TallyKinds.registry)
        try store.apply(Self.added("a", 2), lsn: 1)
        try store.apply(Self.added("a", 3), lsn: 2)
        try store.apply(
            EntityRecord.encode(TallyKind.self, key: TallyKind.key("b"), events: [.added(1, by: "x"), .reset]),
            lsn: 3
        )
        #expect(
            try store.state(of: TallyKind.self, key: TallyKind.key("a"))
                == Tally.State(total: 5, additions: 2, lastBy: "p")
        )
        #expect(try store.state(of: TallyKind.self, key: TallyKind.key("b")) == Tally.State.initial)
        #expect(try store.state(of: TallyKind.self, key: TallyKind.key("none")) == nil)

        var restored = EntityStore(registry: TallyKinds.registry)
        try restored.restore(store.snapshot())
        #expect(restored.activeCount == 0 && restored.passiveCount == 2)
        #expect(try restored.decodedStates(of: TallyKind.self) == store.decodedStates(of: TallyKind.self))
        try restored.apply(Self.added("a", 10), lsn: 4)
        #expect(try restored.state(of: TallyKind.self, key: TallyKind.key("a"))?.total == 15)
        #expect(restored.activeCount == 1 && restored.passiveCount == 1)
    }

    @Test func aRecordItCannotDecodeIsRefusedWholeAndChangesNothing() throws {
        var store = EntityStore(registry: TallyKinds.registry)
        try store.apply(Self.added("a", 2), lsn: 1)
        let before = store.snapshot()
        // A kind this node does not know.
        #expect(throws: SchemaError.self) {
            try store.apply(EntityRecord(kind: 999, key: "lobby/1", events: [[]]).encoded, lsn: 2)
        }
        // A known kind whose second event is of a case this build does not know (field 15):
        // the first event is not applied either.
        let unknownEvent: [UInt8] = [0x7A, 0x00]
        let mixed = EntityRecord(
            kind: TallyKind.tag,
            key: TallyKind.key("a"),
            events: [TallyKind.encode(event: .added(5, by: "p")), unknownEvent]
        )
        #expect(throws: SchemaError.self) { try store.apply(mixed.encoded, lsn: 3) }
        // Bytes that are no record at all.
        #expect(throws: SchemaError.self) { try store.apply([0xFF, 0xFF, 0xFF], lsn: 4) }
        #expect(store.snapshot() == before)
        #expect(try store.state(of: TallyKind.self, key: TallyKind.key("a"))?.total == 2)
    }

    @Test func aStateHoldingAKindThisNodeDoesNotKeepIsRefused() throws {
        var writer = ShardStateContainer.Writer()
        writer.append(
            kind: TallyKind.tag,
            key: TallyKind.key("a"),
            state: TallyKind.encode(state: Tally.State(total: 1, additions: 1, lastBy: "p"))
        )
        let known = writer.finish()
        var store = EntityStore(registry: TallyKinds.registry)
        try store.restore(known)
        writer.append(kind: 999, key: "lobby/1", state: [])
        #expect(throws: SchemaError.self) { try store.restore(writer.finish()) }
        // A soft kind's state never enters a snapshot, so a snapshot holding one is damage.
        var soft = ShardStateContainer.Writer()
        soft.append(kind: SoftTallyKind.tag, key: SoftTallyKind.key("s"), state: [])
        #expect(throws: SchemaError.self) { try store.restore(soft.finish()) }
        // The refused restores left the state as it was.
        #expect(try store.state(of: TallyKind.self, key: TallyKind.key("a"))?.total == 1)
    }

    @Test func passivationMovesEntitiesOfEveryKindAndKeepsTheirState() throws {
        var store = EntityStore(registry: TallyKinds.registry)
        for index in 0..<30 { try store.apply(Self.added("t\(index)", Int64(index)), lsn: UInt64(index + 1)) }
        let before = try store.decodedStates(of: TallyKind.self)
        #expect(store.passivate(idleSince: .now + .seconds(1)) == 30)
        #expect(store.activeCount == 0 && store.passiveCount == 30)
        #expect(try store.decodedStates(of: TallyKind.self) == before)
        #expect(try store.state(of: TallyKind.self, key: TallyKind.key("t7"))?.total == 7)
    }

    /// The container's bytes, fixed: a change of its layout must change ``ShardStateContainer/version``.
    @Test func theContainerFormatIsPinned() throws {
        var writer = ShardStateContainer.Writer()
        writer.append(kind: 900, key: "tally/a", state: [0x08, 0x05])
        let bytes = writer.finish()
        let expected: [UInt8] =
            [3, 0, 0, 0, 1]  // version 3, one entry
            + [0, 0, 0x03, 0x84]  // kind 900
            + [0, 7] + Array("tally/a".utf8)  // key
            + [0, 0, 0, 2, 0x08, 0x05]  // state
        #expect(bytes == expected)
        let entries = try ShardStateContainer.index(bytes)
        #expect(entries == [.init(kind: 900, keyHash: StableHash.fnv1a64("tally/a"), range: 5..<bytes.count)])
        let entry = ShardStateContainer.entry(in: bytes, at: entries[0].range)
        #expect(entry.kind == 900 && entry.key == "tally/a" && Array(entry.state) == [0x08, 0x05])
        #expect(ShardStateContainer.entry(in: bytes, at: entries[0].range, hasKey: "tally/a"))
        #expect(!ShardStateContainer.entry(in: bytes, at: entries[0].range, hasKey: "tally/b"))
        for length in 0..<bytes.count {
            #expect(throws: SchemaError.self) { try ShardStateContainer.index(Array(bytes.prefix(length))) }
        }
        #expect(throws: SchemaError.self) { try ShardStateContainer.index(bytes + [0]) }
        var older = bytes
        older[0] = 2
        #expect(throws: SchemaError.self) { try ShardStateContainer.index(older) }
    }
}
