import ClusterCore
import ClusterRuntime
import Foundation
import GameDomain

/// A kind whose entities each shard indexes: the shard's state machine keeps every entity's
/// ``indexEntry(of:)`` beside its state, updated by the same records, rebuilt on restore. What
/// sweeps (an empty lobby's end, a queue's next round) and searches read instead of scanning
/// every entity.
public protocol IndexedKind: EntityKind {
    associatedtype Entry: Sendable
    /// What the index holds for an entity in `state`; nil leaves it out.
    static func indexEntry(of state: State) -> Entry?
}

/// An indexed kind that clients search across the cluster: each node searches the index of
/// the shards it leads, and the caller merges what they found.
public protocol SearchableKind: IndexedKind {
    associatedtype Query: Sendable
    associatedtype Found: Sendable

    /// What one shard's index holds that matches `query`.
    static func search(_ query: Query, in entries: some Collection<Entry>) -> Found
    /// One answer of several (each shard's, or each node's).
    static func merge(_ found: [Found], for query: Query) -> Found

    static func encode(query: Query) -> [UInt8]
    static func decode(query: [UInt8]) throws(SchemaError) -> Query
    static func encode(found: Found) -> [UInt8]
    static func decode(found: [UInt8]) throws(SchemaError) -> Found
}

extension IndexedKind {
    /// `indexEntry(of:)` for a state the caller knows is of this kind.
    static func entry(ofAny state: any Sendable) -> (any Sendable)? {
        guard let state = state as? State else { return nil }
        return indexEntry(of: state)
    }
}

extension EntityStore {
    /// The index entries of kind `K` on this shard, by key.
    public func indexed<K: IndexedKind>(_ kind: K.Type) -> [String: K.Entry] {
        guard let index = registry.index(ofTag: K.tag) else { return [:] }
        return (indexes[index] ?? [:]).compactMapValues { $0 as? K.Entry }
    }
}

extension EntityService {
    /// The index entries of kind `K` on every shard this node serves now, by shard (a
    /// moment-old answer: see ``ReplicationHost/peekServed(shards:_:)``).
    public func indexed<K: IndexedKind>(_ kind: K.Type) async -> [(shard: UInt32, entries: [String: K.Entry])] {
        await host.peekServed { _, store in store.indexed(K.self) }.map { ($0.shard, $0.value) }
    }

    /// While this node serves `shard`, a number that changes each time it starts serving it
    /// anew (see ``ReplicationHost/servingTerm(shard:)``): what tells a new primary.
    public func servingTerm(shard: UInt32) -> UInt64? { host.servingTerm(shard: shard) }

    /// Searches the index of `K` on those of `shards` this node serves: the shards searched and
    /// what they hold that matches.
    public func search<K: SearchableKind>(_ kind: K.Type, _ query: K.Query, shards: [UInt32]) async
        -> (shards: [UInt32], found: K.Found)
    {
        let each = await host.peekServed(shards: shards) { _, store in
            K.search(query, in: store.indexed(K.self).values)
        }
        return (each.map(\.shard), K.merge(each.map(\.value), for: query))
    }

    /// Serves a forwarded ``Plume_Entity_Search`` for `kind`.
    func serveSearch(_ kind: any EntityKind.Type, _ search: Plume_Entity_Search) async throws -> [UInt8] {
        guard let searchable = kind as? any SearchableKind.Type else {
            throw ReplicationError.malformed("entity kind \(kind.tag) cannot be searched")
        }
        return try await serveSearchOf(searchable, search)
    }

    private func serveSearchOf<K: SearchableKind>(_ kind: K.Type, _ search: Plume_Entity_Search) async throws -> [UInt8]
    {
        let query: K.Query
        do {
            query = try K.decode(query: Array(search.query))
        } catch {
            throw ReplicationError.malformed("\(error)")
        }
        let (shards, found) = await self.search(K.self, query, shards: search.shards)
        return Protobuf.bytes(
            Plume_Entity_Found.with {
                $0.shards = shards
                $0.found = Data(K.encode(found: found))
            }
        )
    }
}

extension NodeEntityTransport {
    /// Searches kind `K` on every shard: one request per node for the shards the ring has it
    /// lead (this node's own searched in place), in parallel, merged. A shard no node answered
    /// for (its primary changing) is asked once more, after a short pause, of the node leading
    /// it then; a search never waits longer than the transport's timeout.
    public func search<K: SearchableKind>(_ kind: K.Type, _ query: K.Query) async throws(ClusterFailure) -> K.Found {
        let deadline = ContinuousClock.now + timeout
        let shardCount = node.settings.configuration.shards
        var missing = Set((0..<shardCount).map { UInt32($0) })
        var found: [K.Found] = []
        for attempt in 0..<2 {
            if attempt > 0 {
                try? await Task.sleep(for: .milliseconds(100))
            }
            var byNode: [NodeID: [UInt32]] = [:]
            let entries = node.view.shards.entries
            for shard in missing.sorted() where entries.indices.contains(Int(shard)) {
                if let primary = entries[Int(shard)].primary { byNode[primary, default: []].append(shard) }
            }
            let answers = await withTaskGroup(of: (shards: [UInt32], found: K.Found)?.self) { group in
                for (primary, shards) in byNode {
                    group.addTask { await self.search(K.self, query, shards: shards, on: primary, deadline: deadline) }
                }
                var answers: [(shards: [UInt32], found: K.Found)] = []
                for await answer in group { if let answer { answers.append(answer) } }
                return answers
            }
            for answer in answers {
                missing.subtract(answer.shards)
                found.append(answer.found)
            }
            if missing.isEmpty { break }
        }
        if missing.count == shardCount {
            throw ClusterFailure(kind: .unavailable, message: "no node answered the search")
        }
        return K.merge(found, for: query)
    }

    private func search<K: SearchableKind>(
        _ kind: K.Type,
        _ query: K.Query,
        shards: [UInt32],
        on primary: NodeID,
        deadline: ContinuousClock.Instant
    ) async -> (shards: [UInt32], found: K.Found)? {
        if primary == node.settings.nodeID, let local {
            return await local.search(K.self, query, shards: shards)
        }
        var request = Plume_Entity_Request()
        request.kind = K.tag
        request.search = .with {
            $0.shards = shards
            $0.query = Data(K.encode(query: query))
        }
        do {
            let bytes = try await node.ask(
                shard: shards[0],
                key: K.keyPrefix,
                command: Protobuf.bytes(request),
                deadline: deadline
            )
            let answer = try Protobuf.message(bytes, as: Plume_Entity_Found.self)
            return (answer.shards, try K.decode(found: Array(answer.found)))
        } catch {
            return nil
        }
    }
}

extension EntityKind {
    /// `decode(state:)` as an existential (for a kind known only by its type).
    static func decodeState(_ bytes: [UInt8]) throws(SchemaError) -> any Sendable { try decode(state: bytes) }
}
