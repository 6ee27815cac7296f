/// The stable name of a node in the cluster, such as `n1`.
///
/// Node ids appear in configuration, on the wire and in the shard table, so they are restricted to
/// a small alphabet (`[A-Za-z0-9_.-]`, 1…64 characters) that reads the same everywhere.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// The longest id accepted, in UTF-8 bytes.
    public static let lengthMax = 64

    /// Creates an id, or returns `nil` if `rawValue` is empty, too long or uses other characters.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public static func isValid(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= lengthMax else { return false }
        return text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2E || byte == 0x2D
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }
}
