/// Hashes that are the same in every process, on every machine, forever.
///
/// Shard choice and ring placement must agree across nodes and restarts, which rules out
/// `hashValue` and `Hasher` (seeded per process). FNV-1a 64 is simple and well specified; its
/// weak avalanche on short, similar keys (`n1#0`, `n1#1`) is fixed by a final `mix64`
/// (the MurmurHash3 64-bit finaliser) where positions on a ring are derived.
public enum StableHash {
    @usableFromInline static let fnvOffsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    @usableFromInline static let fnvPrime: UInt64 = 0x0000_0100_0000_01b3

    /// FNV-1a 64 of the bytes.
    @inlinable
    public static func fnv1a64<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash = fnvOffsetBasis
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* fnvPrime
        }
        return hash
    }

    /// FNV-1a 64 of the UTF-8 bytes of `text`.
    public static func fnv1a64(_ text: String) -> UInt64 { fnv1a64(text.utf8) }

    /// The MurmurHash3 `fmix64` finaliser: a bijection that spreads every input bit over the output.
    public static func mix64(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x = x &* 0xff51_afd7_ed55_8ccd
        x ^= x >> 33
        x = x &* 0xc4ce_b9fe_1a85_ec53
        x ^= x >> 33
        return x
    }

    /// The well-mixed 64-bit hash used for placement: `mix64(fnv1a64(text))`.
    public static func placementHash(_ text: String) -> UInt64 { mix64(fnv1a64(text)) }
}
