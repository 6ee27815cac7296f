/// The entity kinds a node serves, found by tag (in logs, snapshots and requests) and by key
/// prefix. Every node of a cluster registers the same kinds; a node meeting a tag it does not
/// know refuses the record or state rather than skip it.
public struct EntityRegistry: Sendable {
    /// The kinds, in registration order.
    public let kinds: [any EntityKind.Type]
    private let indexByTag: [UInt32: Int]

    /// - Precondition: tags and key prefixes are distinct, and every prefix ends in `/`.
    public init(_ kinds: [any EntityKind.Type]) {
        var indexByTag: [UInt32: Int] = [:]
        var prefixes: Set<String> = []
        for (index, kind) in kinds.enumerated() {
            precondition(
                indexByTag.updateValue(index, forKey: kind.tag) == nil,
                "entity kind tag \(kind.tag) registered twice"
            )
            precondition(kind.keyPrefix.hasSuffix("/"), "the key prefix \(kind.keyPrefix) does not end in /")
            precondition(prefixes.insert(kind.keyPrefix).inserted, "the key prefix \(kind.keyPrefix) registered twice")
        }
        // A prefix inside another ("name/" and "name/user/") would make a key's kind ambiguous.
        for a in kinds.indices {
            for b in kinds.indices where a != b {
                precondition(
                    !kinds[a].keyPrefix.hasPrefix(kinds[b].keyPrefix),
                    "the key prefix \(kinds[a].keyPrefix) starts with \(kinds[b].keyPrefix)"
                )
            }
        }
        self.kinds = kinds
        self.indexByTag = indexByTag
    }

    /// The position of the kind with `tag` in ``kinds``.
    public func index(ofTag tag: UInt32) -> Int? { indexByTag[tag] }

    public func kind(tag: UInt32) -> (any EntityKind.Type)? { indexByTag[tag].map { kinds[$0] } }

    /// The kind whose prefix starts `key`.
    public func kind(forKey key: String) -> (any EntityKind.Type)? {
        kinds.first { key.hasPrefix($0.keyPrefix) }
    }

    /// Whether `kind` is registered (by tag).
    public func contains<K: EntityKind>(_ kind: K.Type) -> Bool { indexByTag[K.tag] != nil }
}
