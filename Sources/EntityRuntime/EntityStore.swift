import ClusterCore
import ClusterRuntime
import GameDomain

/// The state of one shard: one table per registered entity kind, rebuilt from committed records
/// (``EntityRecord``). Apply, snapshot, restore and passivation loop over the kinds; none of them
/// names one.
///
/// Entities are *active* (decoded, in their kind's table) or *passive* (encoded, in one byte
/// arena indexed by key hash). A restored snapshot is all passive: restoring only indexes it, so
/// a node with a million entities is ready without decoding them. An entity is activated when a
/// record applies to it and passivated again after it has been idle (``passivate(idleSince:)``);
/// reads of a passive entity decode it without activating it. Which entities are active is local
/// to each replica and never changes what the shard's state is.
///
/// Soft kinds (``Durability/soft``) have no table here: their state never enters the log or a
/// snapshot (see ``EntityService``).
public struct EntityStore: ShardStateMachine {
    public let registry: EntityRegistry
    /// One per registered kind, in registration order (soft kinds' stay empty).
    private var tables: [any EntityTable]
    /// When each active entity last had a record applied.
    private var touched: [String: ContinuousClock.Instant] = [:]
    /// Passive entities: container entries in `arena`, found by the FNV-1a hash of their key. A
    /// key whose hash another passive key holds stays active.
    private var arena: [UInt8] = []
    private var passive: [UInt64: Range<Int>] = [:]
    private var passiveBytes = 0
    /// The index entries of the indexed kinds (``IndexedKind``), by kind position and key.
    private(set) var indexes: [Int: [String: any Sendable]] = [:]

    public init(registry: EntityRegistry) {
        self.registry = registry
        self.tables = registry.kinds.map { Self.table(for: $0) }
    }

    private static func table<K: EntityKind>(for kind: K.Type) -> any EntityTable { Table<K>() }

    public var activeCount: Int { tables.reduce(0) { $0 + $1.count } }
    public var passiveCount: Int { passive.count }

    // MARK: - Reads

    /// The state of the entity `key` of kind `K`, active or passive; nil if it has none.
    public func state<K: EntityKind>(of kind: K.Type, key: String) throws(SchemaError) -> K.State? {
        guard let index = registry.index(ofTag: K.tag) else { return nil }
        if let state = (tables[index] as? Table<K>)?.states[key] { return state }
        guard let entry = passiveEntry(key) else { return nil }
        guard entry.kind == K.tag else { return nil }
        return try K.decode(state: Array(entry.state))
    }

    private func passiveEntry(_ key: String) -> (kind: UInt32, key: String, state: ArraySlice<UInt8>)? {
        guard let range = passive[StableHash.fnv1a64(key)], ShardStateContainer.entry(in: arena, at: range, hasKey: key)
        else { return nil }
        return ShardStateContainer.entry(in: arena, at: range)
    }

    // MARK: - Applying records

    /// Applies one committed record. A record this node cannot decode (a kind it does not know, an
    /// event of a newer version, damage) throws, and nothing of it is applied: the replication
    /// host then stops applying the shard rather than skip it.
    public mutating func apply(_ command: [UInt8], lsn: UInt64) throws {
        let record = try EntityRecord.decode(command)
        guard let index = registry.index(ofTag: record.kind) else {
            throw SchemaError(
                "a record of entity kind \(record.kind), which this node does not know (written by a newer version?)"
            )
        }
        try activate(record.key)
        try tables[index].apply(key: record.key, events: record.events)
        touched[record.key] = .now
        if let indexed = registry.kinds[index] as? any IndexedKind.Type {
            indexes[index, default: [:]][record.key] = tables[index].state(key: record.key).flatMap {
                indexed.entry(ofAny: $0)
            }
        }
    }

    /// Moves a passive entity into its kind's table.
    private mutating func activate(_ key: String) throws {
        let hash = StableHash.fnv1a64(key)
        guard let range = passive[hash], ShardStateContainer.entry(in: arena, at: range, hasKey: key) else { return }
        let entry = ShardStateContainer.entry(in: arena, at: range)
        guard let index = registry.index(ofTag: entry.kind) else {
            throw SchemaError("a state of entity kind \(entry.kind), which this node does not know")
        }
        try tables[index].insert(key: key, encoded: Array(entry.state))
        passive[hash] = nil
        passiveBytes -= range.count
    }

    // MARK: - Passivation

    /// Encodes the active entities that had no record since `idleSince` into the passive arena;
    /// returns how many. The arena is rewritten when dead entries outweigh live ones.
    @discardableResult
    public mutating func passivate(idleSince: ContinuousClock.Instant) -> Int {
        let idle = touched.filter { $0.value < idleSince }.map(\.key)
        guard !idle.isEmpty else { return 0 }
        var writer = ShardStateContainer.Writer()
        var moved: [(hash: UInt64, entry: Range<Int>)] = []
        var claimed: Set<UInt64> = []
        for key in idle {
            let hash = StableHash.fnv1a64(key)
            touched[key] = nil
            // Another key holds (or takes in this pass) the hash: this one stays active.
            guard passive[hash] == nil, claimed.insert(hash).inserted else { continue }
            for index in tables.indices {
                if let state = tables[index].remove(key: key) {
                    moved.append((hash, writer.append(kind: registry.kinds[index].tag, key: key, state: state)))
                    break
                }
            }
        }
        let encoded = writer.finish()
        if arena.count > 2 * passiveBytes + 1_048_576 { compactArena() }
        // Entries sit after the writer's header; in the arena they sit after what is there.
        let offset = arena.count - ShardStateContainer.headerBytes
        arena.append(contentsOf: encoded[ShardStateContainer.headerBytes...])
        for (hash, entry) in moved {
            passive[hash] = (entry.lowerBound + offset)..<(entry.upperBound + offset)
            passiveBytes += entry.count
        }
        return moved.count
    }

    /// Rewrites the arena with only the live passive entries.
    private mutating func compactArena() {
        var compacted: [UInt8] = []
        compacted.reserveCapacity(passiveBytes)
        for (hash, range) in passive {
            let start = compacted.count
            compacted.append(contentsOf: arena[range])
            passive[hash] = start..<compacted.count
        }
        arena = compacted
    }

    // MARK: - Snapshots

    public func snapshot() -> [UInt8] {
        var writer = ShardStateContainer.Writer(capacity: passiveBytes + activeCount * 128)
        for index in tables.indices { tables[index].write(kind: registry.kinds[index].tag, into: &writer) }
        for range in passive.values { writer.append(raw: arena[range]) }
        return writer.finish()
    }

    /// Indexes a snapshot's entries as passive ones (their states are decoded when used). Refuses
    /// a state holding a kind this node does not know.
    public mutating func restore(_ state: [UInt8]) throws {
        let entries = try ShardStateContainer.index(state)
        var tables = registry.kinds.map { Self.table(for: $0) }
        var passive = [UInt64: Range<Int>](minimumCapacity: entries.count)
        var passiveBytes = 0
        for entry in entries {
            guard let index = registry.index(ofTag: entry.kind), registry.kinds[index].durability == .replicated else {
                throw SchemaError("the shard state holds entity kind \(entry.kind), which this node does not keep")
            }
            guard passive[entry.keyHash] == nil else {
                // Two keys with one hash: this one is decoded and stays active.
                let (_, key, encoded) = ShardStateContainer.entry(in: state, at: entry.range)
                try tables[index].insert(key: key, encoded: Array(encoded))
                continue
            }
            passive[entry.keyHash] = entry.range
            passiveBytes += entry.range.count
        }
        self.tables = tables
        self.passive = passive
        self.passiveBytes = passiveBytes
        self.arena = state
        self.touched = [:]
        try rebuildIndexes()
    }

    /// Builds the indexed kinds' entries from every state, active and passive (after a restore).
    private mutating func rebuildIndexes() throws {
        indexes = [:]
        for (index, kind) in registry.kinds.enumerated() {
            guard let indexed = kind as? any IndexedKind.Type else { continue }
            var entries: [String: any Sendable] = [:]
            for key in tables[index].keys {
                if let entry = tables[index].state(key: key).flatMap({ indexed.entry(ofAny: $0) }) {
                    entries[key] = entry
                }
            }
            for range in passive.values {
                let (tag, key, encoded) = ShardStateContainer.entry(in: arena, at: range)
                guard tag == kind.tag else { continue }
                if let entry = indexed.entry(ofAny: try kind.decodeState(Array(encoded))) { entries[key] = entry }
            }
            indexes[index] = entries
        }
    }

    /// Every entity's state, decoded (tests and tools; a node indexes instead).
    public func decodedStates<K: EntityKind>(of kind: K.Type) throws -> [String: K.State] {
        var result: [String: K.State] = [:]
        if let index = registry.index(ofTag: K.tag), let table = tables[index] as? Table<K> { result = table.states }
        for range in passive.values {
            let (tag, key, state) = ShardStateContainer.entry(in: arena, at: range)
            if tag == K.tag { result[key] = try K.decode(state: Array(state)) }
        }
        return result
    }
}

/// One kind's active entities, type-erased so that the store can loop over its kinds.
protocol EntityTable: Sendable {
    var count: Int { get }
    var keys: [String] { get }
    /// The active entity's state, nil if this table does not hold it.
    func state(key: String) -> (any Sendable)?
    /// Decodes every event first, then folds them into the entity's state (nothing half-applied).
    mutating func apply(key: String, events: [[UInt8]]) throws(SchemaError)
    mutating func insert(key: String, encoded: [UInt8]) throws(SchemaError)
    /// Takes the entity out, encoded; nil if this table does not hold it.
    mutating func remove(key: String) -> [UInt8]?
    func write(kind: UInt32, into writer: inout ShardStateContainer.Writer)
}

struct Table<K: EntityKind>: EntityTable {
    var states: [String: K.State] = [:]

    var count: Int { states.count }
    var keys: [String] { Array(states.keys) }

    func state(key: String) -> (any Sendable)? { states[key] }

    mutating func apply(key: String, events: [[UInt8]]) throws(SchemaError) {
        // In place: no copy of the state (nor of what it holds) for each record.
        if events.count == 1 {
            let event = try K.decode(event: events[0])
            states[key, default: .initial].apply(event)
            return
        }
        var decoded: [K.State.Event] = []
        decoded.reserveCapacity(events.count)
        for event in events { decoded.append(try K.decode(event: event)) }
        for event in decoded { states[key, default: .initial].apply(event) }
    }

    mutating func insert(key: String, encoded: [UInt8]) throws(SchemaError) {
        states[key] = try K.decode(state: encoded)
    }

    mutating func remove(key: String) -> [UInt8]? {
        states.removeValue(forKey: key).map { K.encode(state: $0) }
    }

    func write(kind: UInt32, into writer: inout ShardStateContainer.Writer) {
        for (key, state) in states { writer.append(kind: kind, key: key, state: K.encode(state: state)) }
    }
}
