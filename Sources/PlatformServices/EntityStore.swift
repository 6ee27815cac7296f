import ClusterCore
import ClusterRuntime
import GameDomain
import WireProtocol

/// The state of one shard: every entity whose key hashes to it, rebuilt from committed events.
///
/// Entities are *active* (decoded, in dictionaries) or *passive* (encoded, in one byte arena
/// indexed by key hash). A restored snapshot is all passive: restoring only indexes it, so a
/// node with a million entities is ready without decoding them. An entity is activated when an
/// event applies to it, and passivated again after it has been idle (``passivate(idleSince:)``);
/// reads of a passive entity decode it without activating it. Which entities are active is
/// local to each replica and never changes what the shard's state is.
public struct EntityStore: ShardStateMachine {
    private var users: [String: User.State] = [:]
    private var names: [String: NameReservation.State] = [:]
    /// When each active entity last had an event applied.
    private var touched: [String: ContinuousClock.Instant] = [:]
    /// Passive entities: encoded entries (`EntityCodec.ShardState` framing) in `arena`, found by
    /// the FNV-1a hash of their key. A key whose hash another passive key holds stays active.
    private var arena: [UInt8] = []
    private var passive: [UInt64: Range<Int>] = [:]
    private var passiveBytes = 0
    /// Records that did not decode (a newer node's format, or damage): counted, never applied halfway.
    public private(set) var undecodable = 0

    public init() {}

    public var activeCount: Int { users.count + names.count }
    public var passiveCount: Int { passive.count }

    // MARK: - Reads

    /// The user `key`, active or passive.
    public func user(_ key: String) -> User.State? {
        if let state = users[key] { return state }
        if case .user(let state)? = passiveState(key) { return state }
        return nil
    }

    /// The name reservation `key`, active or passive.
    public func name(_ key: String) -> NameReservation.State? {
        if let state = names[key] { return state }
        if case .name(let state)? = passiveState(key) { return state }
        return nil
    }

    private func passiveState(_ key: String) -> EntityCodec.EntityState? {
        guard let range = passive[StableHash.fnv1a64(key)],
            EntityCodec.ShardState.entry(in: arena, at: range, hasKey: key)
        else { return nil }
        return try? EntityCodec.ShardState.entry(in: arena, at: range).state
    }

    // MARK: - Applying events

    public mutating func apply(_ command: [UInt8], lsn: UInt64) {
        guard let (key, events) = try? EntityCodec.decodeRecord(command) else {
            undecodable += 1
            return
        }
        activate(key)
        touched[key] = .now
        switch events {
        case .user(let events):
            var state = users[key] ?? .initial
            for event in events { state.apply(event) }
            users[key] = state
        case .name(let events):
            var state = names[key] ?? .initial
            for event in events { state.apply(event) }
            names[key] = state
        }
    }

    /// Moves a passive entity into the active dictionaries.
    private mutating func activate(_ key: String) {
        let hash = StableHash.fnv1a64(key)
        guard let range = passive[hash], EntityCodec.ShardState.entry(in: arena, at: range, hasKey: key) else { return }
        passive[hash] = nil
        passiveBytes -= range.count
        switch try? EntityCodec.ShardState.entry(in: arena, at: range).state {
        case .user(let state)?: users[key] = state
        case .name(let state)?: names[key] = state
        case nil: undecodable += 1
        }
    }

    // MARK: - Passivation

    /// Encodes the active entities that had no event since `idleSince` into the passive arena;
    /// returns how many. The arena is rewritten when dead entries outweigh live ones.
    @discardableResult
    public mutating func passivate(idleSince: ContinuousClock.Instant) -> Int {
        let idle = touched.filter { $0.value < idleSince }.map(\.key)
        guard !idle.isEmpty else { return 0 }
        var writer = EntityCodec.ShardState.Writer()
        var moved: [(hash: UInt64, entry: Range<Int>)] = []
        var claimed: Set<UInt64> = []
        for key in idle {
            let hash = StableHash.fnv1a64(key)
            touched[key] = nil
            // Another key holds (or takes in this pass) the hash: this one stays active.
            guard passive[hash] == nil, claimed.insert(hash).inserted else { continue }
            if let state = users.removeValue(forKey: key) {
                moved.append((hash, writer.append(key: key, .user(state))))
            } else if let state = names.removeValue(forKey: key) {
                moved.append((hash, writer.append(key: key, .name(state))))
            }
        }
        let encoded = writer.finish()
        if arena.count > 2 * passiveBytes + 1_048_576 { compactArena() }
        // Entries sit after the writer's header; in the arena they sit after what is there.
        let offset = arena.count - EntityCodec.ShardState.headerBytes
        arena.append(contentsOf: encoded[EntityCodec.ShardState.headerBytes...])
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
        var writer = EntityCodec.ShardState.Writer(capacity: passiveBytes + activeCount * 128)
        for (key, state) in users { writer.append(key: key, .user(state)) }
        for (key, state) in names { writer.append(key: key, .name(state)) }
        for range in passive.values { writer.append(raw: arena[range]) }
        return writer.finish()
    }

    /// Indexes a snapshot's entries as passive ones (their states are decoded when used).
    public mutating func restore(_ state: [UInt8]) throws {
        let entries = try EntityCodec.ShardState.index(state)
        users = [:]
        names = [:]
        touched = [:]
        passive = Dictionary(minimumCapacity: entries.count)
        arena = state
        passiveBytes = 0
        for (hash, range) in entries {
            guard passive[hash] == nil else {
                // Two keys with one hash: this one is decoded and stays active.
                let (key, decoded) = try EntityCodec.ShardState.entry(in: state, at: range)
                switch decoded {
                case .user(let user): users[key] = user
                case .name(let name): names[key] = name
                }
                continue
            }
            passive[hash] = range
            passiveBytes += range.count
        }
    }
}

/// Entity keys: `kind/id`.
public enum EntityKey {
    public static func user(_ id: String) -> String { "user/\(id)" }
    public static func username(_ name: String) -> String { "name/username/\(Validation.usernameKey(name))" }
    public static func email(_ address: String) -> String { "name/email/\(Validation.emailKey(address))" }
}
