import EntityRuntime
import GameDomain
import PlatformServices
import Testing

/// A shard's index of an indexed kind follows every record, survives passivation and is
/// rebuilt from a snapshot; searches on several shards merge into one answer.
@Suite struct EntityIndexTests {
    static func created(_ id: String, level: String, at: Double) -> Lobby.Event {
        .created(
            id: id,
            visibility: .public,
            maxMembers: 4,
            data: ["level": level],
            joinable: true,
            members: [Lobby.Member(userID: "u-\(id)", joinedAt: at)],
            matchID: nil,
            at: at
        )
    }

    @Test func theIndexFollowsRecordsPassivationAndRestore() throws {
        var store = EntityStore(registry: PlatformKinds.registry)
        var lsn: UInt64 = 0
        func apply(_ id: String, _ events: [Lobby.Event]) throws {
            lsn += 1
            try store.apply(EntityRecord.encode(LobbyKind.self, key: LobbyKind.key(id), events: events), lsn: lsn)
        }
        try apply("a", [Self.created("a", level: "5", at: 1)])
        try apply("b", [Self.created("b", level: "7", at: 2)])
        try apply("b", [.updated(data: ["level": "9"], visibility: nil, joinable: false, maxMembers: nil)])
        #expect(store.indexed(LobbyKind.self).mapValues { $0.data["level"] } == ["lobby/a": "5", "lobby/b": "9"])
        #expect(store.indexed(LobbyKind.self)["lobby/b"]?.isJoinable == false)

        // Passive entities stay indexed; a restored snapshot is indexed again.
        #expect(store.passivate(idleSince: .now + .seconds(1)) == 2)
        #expect(store.indexed(LobbyKind.self).count == 2)
        var restored = EntityStore(registry: PlatformKinds.registry)
        try restored.restore(store.snapshot())
        #expect(restored.indexed(LobbyKind.self) == store.indexed(LobbyKind.self))

        // A deleted lobby leaves the index; other kinds are never in it.
        try apply("a", [.left(user: "u-a", reason: .memberLeft, owner: nil, at: 3), .deleted])
        try store.apply(
            EntityRecord.encode(InboxKind.self, key: InboxKind.key("u1"), events: [.read(ids: [1])]),
            lsn: lsn + 1
        )
        #expect(Array(store.indexed(LobbyKind.self).keys) == ["lobby/b"])
        #expect(store.indexed(MatchQueueKind.self).isEmpty)
    }

    @Test func searchesOfSeveralShardsMergeInOrderWithTheirTotals() {
        let lobbies = (0..<6).map { n in Lobby.State.replay([Self.created("l\(n)", level: "\(n * 2)", at: Double(n))]) }
        let query = LobbyKind.Query(Lobby.Query(near: ("level", 5), limit: 3), now: 10)
        let shards = [Array(lobbies[0..<2]), Array(lobbies[2..<4]), Array(lobbies[4..<6])]
        let found = LobbyKind.merge(shards.map { LobbyKind.search(query, in: $0) }, for: query)
        #expect(found.total == 6)
        #expect(found.lobbies.map(\.id) == ["l2", "l3", "l1"], "levels 4 and 6 tie at 1 (by id), then 2")
    }
}
