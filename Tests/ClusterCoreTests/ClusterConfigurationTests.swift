import ClusterCore
import Testing

@Suite struct ClusterConfigurationTests {
    func node(_ id: String, _ cluster: Int, _ http: Int) -> ClusterConfiguration.NodeEntry {
        .init(
            id: NodeID(id)!,
            clusterAddress: NodeAddress(host: "127.0.0.1", port: cluster),
            httpAddress: NodeAddress(host: "127.0.0.1", port: http)
        )
    }

    func failure(_ mutate: (inout ClusterConfiguration) -> Void) -> ClusterConfiguration.ValidationError? {
        var configuration = ClusterConfiguration()
        configuration.nodes = [node("n1", 7101, 8101), node("n2", 7102, 8102)]
        mutate(&configuration)
        do {
            try configuration.validate()
            return nil
        } catch {
            return error
        }
    }

    @Test func aGoodConfigurationPasses() {
        #expect(failure { _ in } == nil)
        #expect(throws: Never.self) { try ClusterConfiguration.standalone.validate() }
    }

    @Test func shardsOutsideTheRangeAreRefused() {
        #expect(failure { $0.shards = 0 }?.key == "cluster.shards")
        #expect(failure { $0.shards = 65537 }?.key == "cluster.shards")
        #expect(failure { $0.shards = 65536 } == nil)
    }

    @Test func replicationBelowOneIsRefused() {
        #expect(failure { $0.replication = 0 }?.key == "cluster.replication")
    }

    @Test func duplicateIdsAndAddressesAreRefused() {
        #expect(failure { $0.nodes.append(node("n1", 7103, 8103)) }?.key == "node[2].id")
        #expect(failure { $0.nodes.append(node("n3", 7101, 8103)) }?.key == "node[2].cluster")
        #expect(failure { $0.nodes.append(node("n3", 7103, 8101)) }?.key == "node[2].http")
    }

    @Test func membershipRelationsAreChecked() {
        #expect(failure { $0.membership.probeTimeout = .milliseconds(600) }?.key == "membership.probe_timeout_ms")
        #expect(failure { $0.membership.suspicionMax = .milliseconds(10) }?.key == "membership.suspicion_max_ms")
    }

    @Test func anUnknownNodeIdNamesTheListedOnes() throws {
        var configuration = ClusterConfiguration()
        configuration.nodes = [node("n1", 7101, 8101)]
        #expect(throws: ClusterConfiguration.ValidationError.self) { try configuration.node(NodeID("n9")!) }
        #expect(try configuration.node(NodeID("n1")!).httpAddress.port == 8101)
    }

    @Test func addressesParseStrictly() throws {
        #expect(try NodeAddress(parsing: "127.0.0.1:7101") == NodeAddress(host: "127.0.0.1", port: 7101))
        #expect(try NodeAddress(parsing: "[::1]:80") == NodeAddress(host: "::1", port: 80))
        #expect(throws: NodeAddress.ParseError.missingPort("localhost")) { try NodeAddress(parsing: "localhost") }
        #expect(throws: NodeAddress.ParseError.badPort("h:0")) { try NodeAddress(parsing: "h:0") }
        #expect(throws: NodeAddress.ParseError.badPort("h:70000")) { try NodeAddress(parsing: "h:70000") }
        #expect(throws: NodeAddress.ParseError.badPort("h:8x")) { try NodeAddress(parsing: "h:8x") }
        #expect(throws: NodeAddress.ParseError.badHost(":80")) { try NodeAddress(parsing: ":80") }
        #expect(throws: NodeAddress.ParseError.badHost("a b:80")) { try NodeAddress(parsing: "a b:80") }
    }

    @Test func nodeIdsUseASmallAlphabet() {
        #expect(NodeID("n1") != nil)
        #expect(NodeID("node-1.eu_west") != nil)
        #expect(NodeID("") == nil)
        #expect(NodeID("has space") == nil)
        #expect(NodeID(String(repeating: "x", count: 65)) == nil)
    }
}
