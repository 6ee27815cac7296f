import ClusterCore
import Testing

@Suite struct StableHashTests {
    @Test func fnv1a64MatchesPublishedVectors() {
        #expect(StableHash.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(StableHash.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(StableHash.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test func mix64IsTheMurmur3Finaliser() {
        #expect(StableHash.mix64(0) == 0)
        #expect(StableHash.mix64(1) == 0xb456_bcfc_34c2_cb2c)
    }

    @Test func shardOfAKeyIsFixedForever() {
        // These values are part of the on-disk and cross-node contract: changing them moves every entity.
        // Cross-checked with an independent Python implementation of mix64(fnv1a64(key)) % 256.
        #expect(Placement.shard(forKey: "user/42", shardCount: 256) == 253)
        let shards = (0..<10_000).map { Placement.shard(forKey: "user/\($0)", shardCount: 256) }
        #expect(shards.allSatisfy { (0..<256).contains($0) })
        // Spread: every shard gets some keys and none gets more than twice its share.
        var counts = [Int](repeating: 0, count: 256)
        for shard in shards { counts[shard] += 1 }
        #expect(counts.min()! > 0)
        #expect(counts.max()! < 2 * 10_000 / 256)
    }
}
