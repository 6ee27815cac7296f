import ClusterCore
import ClusterRuntime
import Foundation
import Testing

@Suite struct ConfigLoaderTests {
    static let good = """
        [cluster]
        name = "plume-local"
        secret = "dev-only-secret"
        shards = 128
        replication = 3
        data_dir = "data"
        seeds = ["127.0.0.1:7101", "127.0.0.1:7102"]

        [[node]]
        id = "n1"
        cluster = "127.0.0.1:7101"
        http = "127.0.0.1:8101"

        [[node]]
        id = "n2"
        cluster = "127.0.0.1:7102"
        http = "127.0.0.1:8102"

        [membership]
        probe_interval_ms = 400
        probe_timeout_ms = 150
        indirect_probes = 2
        suspicion_min_ms = 800
        suspicion_max_ms = 3000

        [storage]
        checkpoint_kib = 2048

        [entities]
        passivate_after_s = 120
        request_timeout_ms = 2500

        [gateway]
        auth_burst = 50
        auth_per_minute = 1200
        login_failures_burst = 5
        login_failure_refill_s = 60
        client_address_header = "X-Forwarded-For"
        cors_origins = ["https://game.example", "http://localhost:5173"]
        user_writes_burst = 7
        user_writes_per_minute = 90
        """

    func error(_ text: String, environment: [String: String] = [:]) -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(text, environment: environment)
            return nil
        } catch {
            return error
        }
    }

    @Test func theGoodFileLoadsEveryKey() throws {
        let configuration = try ConfigLoader.parse(Self.good)
        #expect(configuration.name == "plume-local")
        #expect(configuration.shards == 128)
        #expect(configuration.replication == 3)
        #expect(
            configuration.seeds == [
                NodeAddress(host: "127.0.0.1", port: 7101), NodeAddress(host: "127.0.0.1", port: 7102),
            ]
        )
        #expect(configuration.nodes.map(\.id.rawValue) == ["n1", "n2"])
        #expect(configuration.nodes[1].httpAddress == NodeAddress(host: "127.0.0.1", port: 8102))
        #expect(configuration.membership.probeInterval == .milliseconds(400))
        #expect(configuration.membership.probeTimeout == .milliseconds(150))
        #expect(configuration.membership.indirectProbes == 2)
        #expect(configuration.membership.suspicionMin == .milliseconds(800))
        #expect(configuration.membership.suspicionMax == .milliseconds(3000))
        #expect(configuration.checkpointBytes == 2048 * 1024)
        #expect(configuration.passivateAfter == .seconds(120))
        #expect(configuration.requestTimeout == .milliseconds(2500))
        #expect(configuration.authLimits.requestsBurst == 50)
        #expect(configuration.authLimits.requestsPerMinute == 1200)
        #expect(configuration.authLimits.loginFailuresBurst == 5)
        #expect(configuration.authLimits.loginFailureRefill == .seconds(60))
        #expect(configuration.authLimits.clientAddressHeader == "X-Forwarded-For")
        #expect(configuration.corsOrigins == ["https://game.example", "http://localhost:5173"])
        #expect(configuration.authLimits.userWritesBurst == 7)
        #expect(configuration.authLimits.userWritesPerMinute == 90)
    }

    @Test func adminAddressesAndUserWriteBrakesAreChecked() throws {
        func withAdmin(_ address: String) -> String {
            Self.good.replacingOccurrences(
                of: "http = \"127.0.0.1:8102\"",
                with: "http = \"127.0.0.1:8102\"\nadmin = \"\(address)\""
            )
        }
        let configuration = try ConfigLoader.parse(withAdmin("127.0.0.1:9102"))
        #expect(configuration.nodes[0].adminAddress == nil)
        #expect(configuration.nodes[1].adminAddress == NodeAddress(host: "127.0.0.1", port: 9102))
        let shared = error(withAdmin("127.0.0.1:8101"))
        #expect(shared?.key == "node[1].admin", "\(String(describing: shared))")
        let malformed = error(withAdmin("nowhere"))
        #expect(malformed?.key == "node[1].admin", "\(String(describing: malformed))")
        let zero = error(Self.good.replacingOccurrences(of: "user_writes_burst = 7", with: "user_writes_burst = 0"))
        #expect(zero?.key == "gateway.user_writes_burst", "\(String(describing: zero))")
        let sessions = try ConfigLoader.parse(Self.good + "\n[accounts]\nsession_max_days = 7\n")
        #expect(sessions.sessionLifetime == .seconds(7 * 86_400))
        #expect(try ConfigLoader.parse(Self.good).sessionLifetime == .seconds(30 * 86_400))
        let tooLong = error(Self.good + "\n[accounts]\nsession_max_days = 400\n")
        #expect(tooLong?.key == "accounts.session_max_days", "\(String(describing: tooLong))")
        let unknown = error(Self.good + "\n[accounts]\nsession_days = 7\n")
        #expect(unknown?.key == "accounts.session_days", "\(String(describing: unknown))")
    }

    @Test func corsOriginsMustBeOrigins() throws {
        for bad in [
            #"["https://game.example/"]"#, #"["game.example"]"#, #"["https://game.example:99999"]"#, #"["ftp://x"]"#,
            #"["https://a b"]"#, #""https://game.example""#, "[1]",
        ] {
            let text = Self.good.replacingOccurrences(
                of: #"["https://game.example", "http://localhost:5173"]"#,
                with: bad
            )
            let error = try #require(self.error(text), "\(bad) was accepted")
            #expect(error.key == "gateway.cors_origins", "\(bad): \(error)")
            let line =
                text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
                    $0.hasPrefix("cors_origins")
                }! + 1
            #expect(error.line == line, "\(bad): \(error)")
        }
        #expect(ClusterConfiguration().corsOrigins.isEmpty)
    }

    @Test func gatewayLimitsOutOfRangeOrAMalformedHeaderAreNamed() throws {
        let zero = try #require(error(Self.good.replacingOccurrences(of: "auth_burst = 50", with: "auth_burst = 0")))
        #expect(zero.key == "gateway.auth_burst")
        #expect(zero.message.contains("between 1 and 100000"))
        let refill = try #require(
            error(
                Self.good.replacingOccurrences(
                    of: "login_failure_refill_s = 60",
                    with: "login_failure_refill_s = 100000"
                )
            )
        )
        #expect(refill.key == "gateway.login_failure_refill_s")
        let header = try #require(
            error(Self.good.replacingOccurrences(of: #""X-Forwarded-For""#, with: #""X Forwarded""#))
        )
        #expect(header.key == "gateway.client_address_header")
        #expect(header.line == 38)
        // An empty header name means the TCP peer, as when the key is absent.
        let empty = try ConfigLoader.parse(Self.good.replacingOccurrences(of: #""X-Forwarded-For""#, with: #""""#))
        #expect(empty.authLimits.clientAddressHeader == nil)
    }

    @Test func aCheckpointSizeOutOfRangeNamesTheKeyAndLine() throws {
        let text = Self.good.replacingOccurrences(of: "checkpoint_kib = 2048", with: "checkpoint_kib = 8")
        let error = try #require(self.error(text))
        #expect(error.key == "storage.checkpoint_kib")
        #expect(
            error.line == text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
                $0.hasPrefix("checkpoint_kib")
            }! + 1
        )
        let misspelt = Self.good.replacingOccurrences(
            of: "passivate_after_s = 120",
            with: "passivate_after_s = 120\nidle_s = 1"
        )
        #expect(self.error(misspelt)?.key == "entities.idle_s")
        #expect(self.error(Self.good + "\nidle_s = 1\n")?.key == "gateway.idle_s")
    }

    @Test func aRequestTimeoutOutOfRangeNamesTheKeyAndItsBounds() throws {
        let text = Self.good.replacingOccurrences(of: "request_timeout_ms = 2500", with: "request_timeout_ms = 0")
        let error = try #require(self.error(text))
        #expect(error.key == "entities.request_timeout_ms")
        #expect(error.message.contains("between 100 and 60000 (ms)"), "\(error.message)")
    }

    @Test func lobbiesAndMatchmakingLoadAndBadValuesAreNamed() throws {
        let sections = """

            [lobbies]
            empty_ttl_ms = 5000
            seat_hold_ms = 2000
            game_servers = ["10.0.0.5:7777", "10.0.0.6:7777"]

            [matchmaking]
            ticket_ttl_ms = 60000
            tickets_per_queue_max = 500
            skill_window_start = 50
            skill_window_growth_per_s = 12.5
            interval_ms = 250
            """
        let configuration = try ConfigLoader.parse(Self.good + sections)
        #expect(configuration.lobbies.emptyTTL == .milliseconds(5000))
        #expect(configuration.lobbies.seatHold == .milliseconds(2000))
        #expect(configuration.lobbies.gameServers == ["10.0.0.5:7777", "10.0.0.6:7777"])
        #expect(configuration.matchmaking.ticketTTL == .milliseconds(60000))
        #expect(configuration.matchmaking.ticketsPerQueueMax == 500)
        #expect(configuration.matchmaking.skillWindowStart == 50)
        #expect(configuration.matchmaking.skillWindowGrowthPerSecond == 12.5)
        #expect(configuration.matchmaking.interval == .milliseconds(250))

        let server = try #require(
            error(Self.good + sections.replacingOccurrences(of: "10.0.0.6:7777", with: "nowhere"))
        )
        #expect(server.key == "lobbies.game_servers")
        #expect(
            error(Self.good + sections.replacingOccurrences(of: "game_servers = [", with: "game_servers = [1, "))?.key
                == "lobbies.game_servers"
        )
        #expect(
            error(Self.good + sections.replacingOccurrences(of: "interval_ms = 250", with: "interval_ms = 1"))?.key
                == "matchmaking.interval_ms"
        )
        #expect(
            error(Self.good + sections.replacingOccurrences(of: "= 12.5", with: "= \"fast\""))?.key
                == "matchmaking.skill_window_growth_per_s"
        )
        #expect(error(Self.good + sections + "\nwindow = 3\n")?.key == "matchmaking.window")
    }

    @Test func theRepositoryClusterConfLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("cluster.conf").path
        let configuration = try ConfigLoader.load(path: path, environment: [:])
        #expect(configuration.nodes.count == 3)
        #expect(configuration.replication == 3)
    }

    @Test func aRelativeDataDirIsBesideTheConfigurationFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plume-conf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("cluster.conf").path
        try Self.good.write(toFile: path, atomically: true, encoding: .utf8)
        let relative = try ConfigLoader.load(path: path, environment: [:])
        #expect(relative.dataDirectory == directory.appendingPathComponent("data").path)
        let absolute = Self.good.replacingOccurrences(of: "data_dir = \"data\"", with: "data_dir = \"/srv/plume\"")
        try absolute.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: path, environment: [:]).dataDirectory == "/srv/plume")
    }

    @Test func tlsNeedsItsThreeFilesBesideTheConfigurationFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plume-conf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("cluster.conf").path
        let tls = "\n[tls]\nca = \"certs/ca.pem\"\ncert = \"certs/{node}.pem\"\nkey = \"/etc/plume/{node}.key\"\n"
        try (Self.good + tls).write(toFile: path, atomically: true, encoding: .utf8)
        let files = try #require(try ConfigLoader.load(path: path, environment: [:]).tls?.forNode("n2"))
        #expect(files.ca == directory.appendingPathComponent("certs/ca.pem").path)
        #expect(files.cert == directory.appendingPathComponent("certs/n2.pem").path)
        #expect(files.key == "/etc/plume/n2.key")
        let missing = self.error(Self.good + "\n[tls]\nca = \"ca.pem\"\ncert = \"{node}.pem\"\n")
        #expect(missing?.key == "tls.key")
        #expect(self.error(Self.good + tls + "verify = false\n")?.key == "tls.verify")
    }

    @Test func theEnvironmentOverridesTheSecret() throws {
        let configuration = try ConfigLoader.parse(Self.good, environment: ["PLUME_CLUSTER_SECRET": "from-env"])
        #expect(configuration.secret == "from-env")
    }

    @Test func anUnknownKeyIsNamedWithItsLine() {
        let text = Self.good.replacingOccurrences(of: "probe_timeout_ms = 150", with: "probe_timeout = 150")
        let failure = error(text)
        #expect(failure?.key == "membership.probe_timeout")
        #expect(failure?.line == 21)
        #expect(failure?.description.contains("line 21") == true)
        #expect(error(Self.good + "\n[extra]\nx = 1\n")?.key == "extra")
        let inNode = Self.good.replacingOccurrences(of: "id = \"n2\"", with: "id = \"n2\"\nport = 1")
        #expect(error(inNode)?.key == "node[1].port")
        #expect(error(inNode)?.line == 16)
    }

    @Test func aSyntaxErrorCarriesTheParserLine() {
        let failure = error("[cluster]\nname = \"x\"\nshards = = 3\n")
        #expect(failure?.key == "syntax")
        #expect(failure?.line == 3)
    }

    @Test func aMalformedAddressIsNamed() {
        let failure = error(
            Self.good.replacingOccurrences(of: "cluster = \"127.0.0.1:7102\"", with: "cluster = \"127.0.0.1\"")
        )
        #expect(failure?.key == "node[1].cluster")
        #expect(failure?.line == 16)
        #expect(
            error(Self.good.replacingOccurrences(of: "\"127.0.0.1:7101\", \"127", with: "\"nope\", \"127"))?.key
                == "cluster.seeds"
        )
    }

    @Test func wrongTypesAreNamed() {
        #expect(
            error(Self.good.replacingOccurrences(of: "shards = 128", with: "shards = \"128\""))?.key == "cluster.shards"
        )
        #expect(error(Self.good.replacingOccurrences(of: "seeds = [", with: "seeds = 1 #["))?.key == "cluster.seeds")
    }

    @Test func rangeAndDuplicateRulesAreChecked() {
        let shards = error(Self.good.replacingOccurrences(of: "shards = 128", with: "shards = 70000"))
        #expect(shards?.key == "cluster.shards")
        #expect(shards?.line == 4)
        #expect(
            error(Self.good.replacingOccurrences(of: "replication = 3", with: "replication = 0"))?.key
                == "cluster.replication"
        )
        #expect(error(Self.good.replacingOccurrences(of: "id = \"n2\"", with: "id = \"n1\""))?.key == "node[1].id")
        #expect(
            error(Self.good.replacingOccurrences(of: "http = \"127.0.0.1:8102\"", with: "http = \"127.0.0.1:8101\""))?
                .key == "node[1].http"
        )
        #expect(error(Self.good.replacingOccurrences(of: "id = \"n2\"", with: "id = \"bad id\""))?.key == "node[1].id")
        // Membership timings beyond an hour are refused (a span of centuries wrapped the clock).
        let suspicion = error(
            Self.good.replacingOccurrences(of: "suspicion_max_ms = 3000", with: "suspicion_max_ms = 10000000000000000")
        )
        #expect(suspicion?.key == "membership.suspicion_max_ms")
        #expect(suspicion?.description.contains("between 1 and 3600000") == true)
        let probe = error(
            Self.good.replacingOccurrences(of: "probe_interval_ms = 400", with: "probe_interval_ms = 9300000000000")
        )
        #expect(probe?.key == "membership.probe_interval_ms")
    }

    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plume-\(UUID().uuidString).conf").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aNodeNotInTheFileIsRefusedUnlessItSaysWhereItListens() throws {
        let path = try write(Self.good)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ConfigError.self) {
            try NodeSettings.resolve(
                configPath: path,
                node: "n9",
                clusterAddress: nil,
                httpAddress: nil,
                seeds: nil,
                environment: [:]
            )
        }
        let joining = try NodeSettings.resolve(
            configPath: path,
            node: "n9",
            clusterAddress: "127.0.0.1:7109",
            httpAddress: "127.0.0.1:8109",
            seeds: nil,
            environment: [:]
        )
        #expect(joining.nodeID == NodeID("n9"))
        #expect(joining.seeds.count == 2)
        // A relative data_dir is beside the configuration file.
        #expect(joining.dataDirectory == (path as NSString).deletingLastPathComponent + "/data/n9")
        let listed = try NodeSettings.resolve(
            configPath: path,
            node: "n2",
            clusterAddress: nil,
            httpAddress: nil,
            seeds: nil,
            environment: [:]
        )
        #expect(listed.httpAddress == NodeAddress(host: "127.0.0.1", port: 8102))
        #expect(throws: ConfigError.self) {
            try NodeSettings.resolve(
                configPath: path,
                node: nil,
                clusterAddress: nil,
                httpAddress: nil,
                seeds: nil,
                environment: [:]
            )
        }
    }

    @Test func noFlagsMeanAStandaloneNode() throws {
        let settings = try NodeSettings.resolve(
            configPath: nil,
            node: nil,
            clusterAddress: nil,
            httpAddress: nil,
            seeds: nil,
            environment: [:]
        )
        #expect(settings.configuration.replication == 1)
        #expect(settings.httpAddress == NodeAddress(host: "127.0.0.1", port: 8080))
        #expect(settings.seeds.isEmpty)
        #expect(settings.dataDirectory == "data/standalone")
    }
}

/// The cluster secret guards both the cluster port and the access tokens' key: a weak one is
/// refused wherever a node listens beyond loopback.
@Suite struct SecretCheckTests {
    static func settings(secret: String, cluster: String, http: String, admin: String? = nil) throws -> NodeSettings {
        var configuration = ClusterConfiguration()
        configuration.secret = secret
        return NodeSettings(
            configuration: configuration,
            nodeID: NodeID("n1")!,
            clusterAddress: try NodeAddress(parsing: cluster),
            httpAddress: try NodeAddress(parsing: http),
            adminAddress: try admin.map { try NodeAddress(parsing: $0) },
            seeds: []
        )
    }

    @Test func aWeakSecretIsRefusedOffLoopbackAndOnlyWarnedOnIt() throws {
        let strong = String(repeating: "k", count: 32)
        #expect(
            try Self.settings(secret: strong, cluster: "10.0.0.1:7101", http: "0.0.0.0:8080").secretCheck == .strong
        )
        for weak in [ClusterConfiguration.builtInSecret, String(repeating: "k", count: 31)] {
            let loopback = try Self.settings(
                secret: weak,
                cluster: "127.0.0.1:7101",
                http: "localhost:8080",
                admin: "[::1]:9090"
            )
            guard case .weakOnLoopback(let warning) = loopback.secretCheck else {
                Issue.record("\(loopback.secretCheck)")
                continue
            }
            #expect(warning.contains("PLUME_CLUSTER_SECRET"))
            for (cluster, http, admin) in [
                ("10.0.0.1:7101", "127.0.0.1:8080", nil), ("127.0.0.1:7101", "0.0.0.0:8080", nil),
                ("127.0.0.1:7101", "127.0.0.1:8080", "192.168.1.5:9090"), ("node1.example:7101", "127.0.0.1:8080", nil),
            ] as [(String, String, String?)] {
                let exposed = try Self.settings(secret: weak, cluster: cluster, http: http, admin: admin)
                guard case .refused(let message) = exposed.secretCheck else {
                    Issue.record("\(cluster) \(http) \(admin ?? "-"): \(exposed.secretCheck)")
                    continue
                }
                #expect(message.contains("cluster.secret") && message.contains("PLUME_CLUSTER_SECRET"), "\(message)")
                #expect(!message.contains(weak), "the refusal prints the secret")
            }
        }
    }
}
