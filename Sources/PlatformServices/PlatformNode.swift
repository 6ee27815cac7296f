import ClusterRuntime
import EntityRuntime
import Foundation
import Logging

/// A cluster node serving Plume's entity kinds: its shards' state machines hold every kind of
/// ``PlatformKinds/registry``, and its ``EntityService`` answers the requests for them (its own
/// and those other nodes forward). What `plume node`, the benchmarks and the clustered tests start.
public struct PlatformNode: Sendable {
    public let node: ClusterNode<EntityStore>
    public let entities: EntityService

    /// Opens the node's storage (recovering what it holds); throws if it cannot.
    public init(
        settings: NodeSettings,
        logger: Logger,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws {
        node = try ClusterNode(settings: settings, logger: logger) { _ in EntityStore(registry: PlatformKinds.registry)
        }
        entities = EntityService(host: node.replication, registry: PlatformKinds.registry, clock: clock)
        node.setEntityHandler(entities)
    }
}
