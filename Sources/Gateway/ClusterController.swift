import ClusterCore
import ClusterRuntime
import Hummingbird

/// How a node and its view of the cluster look from outside: `GET /health` (the process is up)
/// and `GET /ready` (joined and in touch with its cluster, see `ClusterView.isReady`) for
/// load balancers and orchestrators, and `GET /v1/cluster` (members and the shard table) for
/// operators — on the admin listener when the node has one.
public struct ClusterController<Context: RequestContext>: Sendable {
    let view: @Sendable () -> ClusterView

    public init(view: @escaping @Sendable () -> ClusterView) {
        self.view = view
    }

    /// `GET /health` and `GET /ready`.
    public func addProbeRoutes(to router: some RouterMethods<Context>) {
        router.get("/health") { _, _ in
            HealthBody(status: "ok")
        }
        router.get("/ready") { _, _ in
            let view = self.view()
            return EditedResponse(
                status: view.isReady ? .ok : .serviceUnavailable,
                response: ReadyBody(ready: view.isReady, node: view.node.rawValue)
            )
        }
    }

    /// `GET /v1/cluster`.
    public func addClusterRoutes(to router: some RouterMethods<Context>) {
        router.get("/v1/cluster") { _, _ in
            ClusterBody(self.view())
        }
    }
}

struct HealthBody: ResponseEncodable {
    let status: String
}

struct ReadyBody: ResponseEncodable {
    let ready: Bool
    let node: String
}

/// The JSON of `GET /v1/cluster`.
public struct ClusterBody: ResponseCodable, Sendable {
    public struct Member: Codable, Sendable {
        public let id: String
        public let clusterAddr: String
        public let httpAddr: String?
        public let status: String
        public let incarnation: UInt64

        enum CodingKeys: String, CodingKey {
            case id, status, incarnation
            case clusterAddr = "cluster_addr"
            case httpAddr = "http_addr"
        }
    }

    public struct Shard: Codable, Sendable {
        public let shard: Int
        public let replicas: [String]
        public let primary: String?
    }

    public struct Shards: Codable, Sendable {
        public let count: Int
        public let replication: Int
        public let table: [Shard]
    }

    public let node: String
    public let ready: Bool
    public let members: [Member]
    public let shards: Shards

    public init(_ view: ClusterView) {
        node = view.node.rawValue
        ready = view.isReady
        members = view.members.map {
            Member(
                id: $0.id.rawValue,
                clusterAddr: $0.clusterAddress.description,
                httpAddr: $0.httpAddress?.description,
                status: $0.status.description,
                incarnation: $0.incarnation
            )
        }
        shards = Shards(
            count: view.shards.shardCount,
            replication: view.shards.replication,
            table: view.shards.entries.map {
                Shard(shard: $0.shard, replicas: $0.replicas.map(\.rawValue), primary: $0.primary?.rawValue)
            }
        )
    }
}
