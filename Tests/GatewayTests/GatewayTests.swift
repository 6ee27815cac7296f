import ClusterCore
import ClusterRuntime
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

@Suite struct GatewayTests {
    static func view(joined: Bool) -> ClusterView {
        let members = [
            SWIM.Member(
                id: NodeID("n1")!,
                clusterAddress: NodeAddress(host: "127.0.0.1", port: 7101),
                httpAddress: NodeAddress(host: "127.0.0.1", port: 8101),
                incarnation: 5
            ),
            SWIM.Member(
                id: NodeID("n2")!,
                clusterAddress: NodeAddress(host: "127.0.0.1", port: 7102),
                httpAddress: NodeAddress(host: "127.0.0.1", port: 8102),
                status: .dead,
                incarnation: 3
            ),
        ]
        return ClusterView(
            node: NodeID("n1")!,
            clusterAddress: members[0].clusterAddress,
            httpAddress: members[0].httpAddress!,
            members: members,
            shards: ShardTable(shardCount: 8, replication: 3, nodes: [NodeID("n1")!]),
            isJoined: joined,
            localHealth: 0
        )
    }

    static func app(joined: Bool, registry: PrometheusCollectorRegistry = .init()) -> some ApplicationProtocol {
        let view = view(joined: joined)
        return Application(router: GatewayApplication.router(view: { view }, registry: registry))
    }

    @Test func healthIsAlwaysOK() async throws {
        try await Self.app(joined: false).test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func readyFollowsTheJoin() async throws {
        try await Self.app(joined: false).test(.router) { client in
            try await client.execute(uri: "/ready", method: .get) { #expect($0.status == .serviceUnavailable) }
        }
        try await Self.app(joined: true).test(.router) { client in
            try await client.execute(uri: "/ready", method: .get) { #expect($0.status == .ok) }
        }
    }

    /// A node that is its own seed is "joined" at once; it is ready only once it is in touch with
    /// another member, unless it is configured to run alone.
    @Test func readyNeedsAPeerUnlessStandalone() async throws {
        let joined = Self.view(joined: true)
        for (standalone, expected) in [(false, HTTPResponse.Status.serviceUnavailable), (true, .ok)] {
            var view = joined
            view.members = [joined.members[0]]
            view.isStandalone = standalone
            let alone = view
            let app = Application(router: GatewayApplication.router(view: { alone }, registry: .init()))
            try await app.test(.router) { client in
                try await client.execute(uri: "/ready", method: .get) {
                    #expect($0.status == expected, "standalone: \(standalone)")
                }
                try await client.execute(uri: "/v1/cluster", method: .get) { response in
                    #expect(String(buffer: response.body).contains(#""ready":\#(standalone)"#))
                }
            }
        }
    }

    @Test func clusterViewHasTheDocumentedShape() async throws {
        try await Self.app(joined: true).test(.router) { client in
            try await client.execute(uri: "/v1/cluster", method: .get) { response in
                #expect(response.status == .ok)
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
                #expect(json["node"] as? String == "n1")
                let members = json["members"] as! [[String: Any]]
                #expect(members.count == 2)
                #expect(members[0]["cluster_addr"] as? String == "127.0.0.1:7101")
                #expect(members[0]["http_addr"] as? String == "127.0.0.1:8101")
                #expect(members[1]["status"] as? String == "dead")
                #expect(members[1]["incarnation"] as? Int == 3)
                let shards = json["shards"] as! [String: Any]
                #expect(shards["count"] as? Int == 8)
                #expect(shards["replication"] as? Int == 3)
                let table = shards["table"] as! [[String: Any]]
                #expect(table.count == 8)
                #expect(table[0]["primary"] as? String == "n1")
                #expect(table[0]["replicas"] as? [String] == ["n1"])
            }
        }
    }

    @Test func unknownRoutesGetTheJSONErrorShape() async throws {
        try await Self.app(joined: true).test(.router) { client in
            try await client.execute(uri: "/v1/nothing", method: .get) { response in
                #expect(response.status == .notFound)
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
                let error = json["error"] as! [String: Any]
                #expect(error["code"] as? String == "not_found")
                #expect((error["message"] as? String)?.contains("/v1/nothing") == true)
            }
        }
    }

    @Test func metricsAreThePrometheusText() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "plume_test_events", unitName: "total", helpText: "test")
        ).increment(by: Int64(3))
        try await Self.app(joined: true, registry: registry).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(String(buffer: response.body).contains("plume_test_events_total 3"))
            }
        }
    }
}
