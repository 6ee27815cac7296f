/// The cluster as `cluster.conf` describes it, validated.
///
/// A pure value: parsing the TOML file lives in the runtime, which fills this struct and
/// calls ``validate()``.
public struct ClusterConfiguration: Sendable, Equatable {
    /// A node listed in the file.
    public struct NodeEntry: Sendable, Equatable {
        public var id: NodeID
        public var clusterAddress: NodeAddress
        public var httpAddress: NodeAddress
        /// `admin`: where `/metrics` and `/v1/cluster` are served instead of `httpAddress`.
        public var adminAddress: NodeAddress?

        public init(id: NodeID, clusterAddress: NodeAddress, httpAddress: NodeAddress, adminAddress: NodeAddress? = nil)
        {
            self.id = id
            self.clusterAddress = clusterAddress
            self.httpAddress = httpAddress
            self.adminAddress = adminAddress
        }
    }

    /// PEM files for mutual TLS between nodes; `{node}` in a path stands for the node id.
    public struct TLSFiles: Sendable, Equatable {
        public var ca: String
        public var cert: String
        public var key: String

        public init(ca: String, cert: String, key: String) {
            self.ca = ca
            self.cert = cert
            self.key = key
        }

        /// The paths for node `id`.
        public func forNode(_ id: String) -> TLSFiles {
            func fill(_ path: String) -> String {
                path.split(separator: "{node}", omittingEmptySubsequences: false).joined(separator: id)
            }
            return TLSFiles(ca: fill(ca), cert: fill(cert), key: fill(key))
        }
    }

    public var name = "plume-local"
    /// The shared secret that authenticates nodes to each other; `PLUME_CLUSTER_SECRET` overrides it.
    public var secret = ClusterConfiguration.builtInSecret
    /// `[accounts] session_max_days`: how long a session lives from its login.
    public var sessionLifetime: Duration = .seconds(30 * 86_400)
    public static let sessionMaxDaysRange = 1...365
    /// The secret a configuration has when nobody set one: fine on loopback, refused elsewhere.
    public static let builtInSecret = "dev-only-secret"
    /// The shortest secret a node accepts off loopback.
    public static let secretBytesMin = 32
    public var shards = 256
    public var replication = 3
    /// Each node keeps its files in `<dataDirectory>/<node id>`.
    public var dataDirectory = "data"
    public var seeds: [NodeAddress] = []
    public var nodes: [NodeEntry] = []
    /// `[tls]`: mutual TLS on the cluster port; nil: plain TCP (the HMAC handshake still runs).
    public var tls: TLSFiles?
    public var membership = SWIM.Settings()
    /// WAL bytes written between checkpoints (snapshot every shard, delete the covered WAL).
    public var checkpointBytes = 64 * 1024 * 1024

    public static let shardsRange = 1...65536
    /// Entities idle this long are passivated (kept encoded rather than decoded in memory).
    public var passivateAfter: Duration = .seconds(300)
    /// `entities.passivate_after_s`.
    public static let passivateAfterSecondsRange = 1...86_400
    /// How long a command for an entity (every API request) waits for its answer, wherever its
    /// shard is led: past it the command is not started, or its commit is no longer awaited.
    public var requestTimeout: Duration = .seconds(5)
    /// `entities.request_timeout_ms`.
    public static let requestTimeoutMillisecondsRange = 100...60_000
    /// The HTTP edge's brakes on sign-up, login and refresh (`[gateway]`).
    public var authLimits = AuthLimits()
    /// WebSocket sessions, presence and chat (`[realtime]`).
    public var realtime = RealtimeSettings()
    /// Lobbies (`[lobbies]`).
    public var lobbies = LobbySettings()
    /// The matchmaker (`[matchmaking]`).
    public var matchmaking = MatchmakingSettings()
    /// `gateway.cors_origins`: the web origins (`https://game.example`) whose pages may call the
    /// API from a browser; none by default.
    public var corsOrigins: [String] = []
    /// `storage.checkpoint_kib`: 64 KiB to 4 GiB.
    public static let checkpointKiBRange = 64...(4 * 1024 * 1024)

    public init() {}

    /// The configuration of `plume node` with no flags: one node that is its own cluster.
    public static var standalone: ClusterConfiguration {
        var configuration = ClusterConfiguration()
        configuration.name = "plume-standalone"
        configuration.replication = 1
        configuration.nodes = [
            NodeEntry(
                id: NodeID("standalone")!,
                clusterAddress: NodeAddress(host: "127.0.0.1", port: 7100),
                httpAddress: NodeAddress(host: "127.0.0.1", port: 8080)
            )
        ]
        return configuration
    }

    /// A configuration problem, naming the key as written in `cluster.conf`.
    public struct ValidationError: Error, Equatable, Sendable, CustomStringConvertible {
        public var key: String
        public var message: String

        public init(key: String, message: String) {
            self.key = key
            self.message = message
        }

        public var description: String { "\(key): \(message)" }
    }

    /// Checks every rule that does not depend on which node is starting.
    public func validate() throws(ValidationError) {
        if name.isEmpty || name.utf8.count > 64 {
            throw ValidationError(key: "cluster.name", message: "must be 1 to 64 characters")
        }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ValidationError(key: "cluster.name", message: "must not hold control characters")
        }
        if secret.isEmpty { throw ValidationError(key: "cluster.secret", message: "must not be empty") }
        if !Self.shardsRange.contains(shards) {
            throw ValidationError(key: "cluster.shards", message: "must be between 1 and 65536, got \(shards)")
        }
        if replication < 1 {
            throw ValidationError(key: "cluster.replication", message: "must be at least 1, got \(replication)")
        }
        if dataDirectory.isEmpty { throw ValidationError(key: "cluster.data_dir", message: "must not be empty") }
        var ids = Set<NodeID>()
        var addresses = Set<NodeAddress>()
        for (index, node) in nodes.enumerated() {
            if !ids.insert(node.id).inserted {
                throw ValidationError(key: "node[\(index)].id", message: "duplicate node id \"\(node.id)\"")
            }
            if !addresses.insert(node.clusterAddress).inserted {
                throw ValidationError(
                    key: "node[\(index)].cluster",
                    message: "address \(node.clusterAddress) is used twice"
                )
            }
            if !addresses.insert(node.httpAddress).inserted {
                throw ValidationError(key: "node[\(index)].http", message: "address \(node.httpAddress) is used twice")
            }
            if let admin = node.adminAddress, !addresses.insert(admin).inserted {
                throw ValidationError(key: "node[\(index)].admin", message: "address \(admin) is used twice")
            }
        }
        if !Self.checkpointKiBRange.contains(checkpointBytes / 1024) || checkpointBytes % 1024 != 0 {
            throw ValidationError(
                key: "storage.checkpoint_kib",
                message: "must be between 64 and 4194304 (KiB), got \(checkpointBytes / 1024)"
            )
        }
        for origin in corsOrigins where !Self.isOrigin(origin) {
            throw ValidationError(
                key: "gateway.cors_origins",
                message: "\"\(origin)\" is not an origin (scheme://host[:port], http or https, no path)"
            )
        }
        if let header = authLimits.clientAddressHeader, !AuthLimits.isHeaderName(header) {
            throw ValidationError(key: "gateway.client_address_header", message: "\"\(header)\" is not a header name")
        }
        do {
            try membership.validate()
        } catch {
            throw ValidationError(key: "membership.\(error.key)", message: error.message)
        }
    }

    /// Whether `text` is a web origin as browsers send it: `http` or `https`, a host, an optional
    /// port, and nothing after.
    public static func isOrigin(_ text: String) -> Bool {
        let rest: Substring
        if text.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else {
            return false
        }
        let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let host = parts[0]
        guard !host.isEmpty, host.utf8.count <= 253,
            host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }), host.allSatisfy(\.isASCII)
        else { return false }
        if parts.count == 2 {
            guard let port = Int(parts[1]), (1...65535).contains(port), parts[1].allSatisfy(\.isNumber) else {
                return false
            }
        }
        return true
    }

    /// The entry of node `id`, or an error naming the ids the file does list.
    public func node(_ id: NodeID) throws(ValidationError) -> NodeEntry {
        guard let entry = nodes.first(where: { $0.id == id }) else {
            let known = nodes.map(\.id.rawValue).joined(separator: ", ")
            throw ValidationError(key: "--node", message: "node \"\(id)\" is not in the file (it lists: \(known))")
        }
        return entry
    }
}
