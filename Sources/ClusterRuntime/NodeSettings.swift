import ClusterCore
import Foundation
import WireProtocol

/// Bounds and timings of the node-to-node transport.
public struct TransportSettings: Sendable, Equatable {
    /// The largest frame payload accepted or sent.
    public var frameBytesMax = 16 * 1024 * 1024
    /// Messages held for a peer while its connection is being set up; past this they are dropped.
    public var pendingMessagesMax = 1024
    /// Bytes buffered for a connected peer before sends are refused (the channel's high water mark).
    public var outboundBytesMax = 8 * 1024 * 1024
    /// The longest a request waits for its response unless the caller says otherwise.
    public var requestTimeout: Duration = .seconds(5)
    public var connectTimeout: Duration = .seconds(2)
    /// How long a connection may take to authenticate.
    public var handshakeTimeout: Duration = .seconds(3)
    /// Accepted connections still in their handshake, in all and from one source address: past
    /// either, a new connection is closed at once (a stranger cannot hold the node's sockets
    /// open by connecting and saying nothing; peers finish their handshakes in milliseconds).
    public var handshakesMax = 256
    public var handshakesPerAddressMax = 16
    /// Reconnection backoff: doubles from `backoffMin` up to `backoffMax` after each failed attempt.
    public var backoffMin: Duration = .milliseconds(100)
    public var backoffMax: Duration = .seconds(3)
    /// Mutual TLS (from `[tls]`); nil: plain TCP.
    public var tls: ClusterTLS?

    public init() {}
}

/// Everything one node needs to start: the cluster's configuration and this node's place in it.
public struct NodeSettings: Sendable {
    public var configuration: ClusterConfiguration
    public var nodeID: NodeID
    public var clusterAddress: NodeAddress
    public var httpAddress: NodeAddress
    /// Where `/metrics` and `/v1/cluster` are served, alone; `nil`: on `httpAddress` with the API.
    public var adminAddress: NodeAddress?
    public var seeds: [NodeAddress]
    /// `<data_dir>/<node id>`.
    public var dataDirectory: String
    public var transport = TransportSettings()
    /// Whether a graceful stop ends with a checkpoint (so the next start replays little WAL).
    /// Benchmarks of recovery from a WAL tail turn it off.
    public var checkpointAtShutdown = true
    /// A write not committed this long after it was proposed fails with `timeout` (its outcome
    /// is then unknown: it may still commit), so no caller waits forever on a replica set that
    /// cannot form a majority.
    public var commitTimeout: Duration = .seconds(10)
    /// Whether a node whose write-ahead log fails leaves the cluster and stops (its `run()`
    /// throws `storageFailed`; `plume node` exits 1), so the other nodes take over its shards.
    /// Off, it stays a member that refuses writes (and its shards wait for its restart).
    public var leaveOnStorageFailure = true
    /// The minor wire version this node announces. Nodes of one major version and different
    /// minor ones form one cluster (a rolling upgrade); tests set it to prove that.
    public var wireVersionMinor = Wire.versionMinor
    /// Entity requests from other nodes handled at once (forwarded API requests); past it a
    /// request is answered `overloaded` at once instead of queueing without bound.
    public var inboundRequestsMax = NodeSettings.defaultInboundRequestsMax
    public static let defaultInboundRequestsMax = 4096

    public init(
        configuration: ClusterConfiguration,
        nodeID: NodeID,
        clusterAddress: NodeAddress,
        httpAddress: NodeAddress,
        adminAddress: NodeAddress? = nil,
        seeds: [NodeAddress]
    ) {
        self.configuration = configuration
        self.nodeID = nodeID
        self.clusterAddress = clusterAddress
        self.httpAddress = httpAddress
        self.adminAddress = adminAddress
        self.seeds = seeds
        self.dataDirectory = (configuration.dataDirectory as NSString).appendingPathComponent(nodeID.rawValue)
    }

    /// The listed node `entry` of `configuration`, at its listed addresses, with its data in
    /// `<data_dir>/<id>`, joining through the first listed node (none when it is the only one):
    /// how the clustered tests and the benchmarks start a loopback cluster in one process.
    public init(listed entry: ClusterConfiguration.NodeEntry, of configuration: ClusterConfiguration) {
        let first = configuration.nodes.first
        self.init(
            configuration: configuration,
            nodeID: entry.id,
            clusterAddress: entry.clusterAddress,
            httpAddress: entry.httpAddress,
            adminAddress: entry.adminAddress,
            seeds: configuration.nodes.count > 1 ? first.map { [$0.clusterAddress] } ?? [] : []
        )
    }

    /// Whether the cluster secret is weak — the built-in one, or shorter than 32 bytes — and
    /// where this node listens: weak on a non-loopback address is refused (anyone who can reach
    /// the node could join its cluster, and forge access tokens, whose key derives from the
    /// secret); weak on loopback only is a warning.
    public enum SecretCheck: Equatable, Sendable {
        case strong
        case weakOnLoopback(String)
        case refused(String)
    }

    public var secretCheck: SecretCheck {
        let secret = configuration.secret
        guard secret == ClusterConfiguration.builtInSecret || secret.utf8.count < ClusterConfiguration.secretBytesMin
        else { return .strong }
        let what =
            secret == ClusterConfiguration.builtInSecret
            ? "is the built-in one" : "is \(secret.utf8.count) bytes, under \(ClusterConfiguration.secretBytesMin)"
        let advice =
            "set cluster.secret (or PLUME_CLUSTER_SECRET) to at least \(ClusterConfiguration.secretBytesMin) random bytes"
        let exposed = [clusterAddress, httpAddress] + (adminAddress.map { [$0] } ?? [])
        if let open = exposed.first(where: { !$0.isLoopback }) {
            return .refused(
                "cluster.secret: the cluster secret \(what), and this node listens on \(open), which is not loopback: \(advice)"
            )
        }
        return .weakOnLoopback("cluster.secret: the cluster secret \(what) (accepted on loopback only): \(advice)")
    }

    /// Resolves the command line of `plume node` into settings.
    ///
    /// - With no `--config`, the node is standalone (replication 1, HTTP on 127.0.0.1:8080), unless
    ///   `--seeds` makes it join a cluster with the default settings.
    /// - With `--config`, `--node` picks a listed node; a node that is not listed may still join
    ///   when `--cluster-addr` and `--http-addr` say where it listens.
    /// - Seeds come from `--seeds`, else `cluster.seeds`, else every listed node.
    public static func resolve(
        configPath: String?,
        node: String?,
        clusterAddress: String?,
        httpAddress: String?,
        adminAddress: String? = nil,
        seeds: [String]?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> NodeSettings {
        func parse(_ text: String, _ flag: String) throws(ConfigError) -> NodeAddress {
            do { return try NodeAddress(parsing: text) } catch { throw ConfigError(key: flag, message: "\(error)") }
        }
        var configuration: ClusterConfiguration
        if let configPath {
            configuration = try ConfigLoader.load(path: configPath, environment: environment)
        } else {
            configuration = seeds?.isEmpty == false ? ClusterConfiguration() : .standalone
            if let secret = environment["PLUME_CLUSTER_SECRET"], !secret.isEmpty { configuration.secret = secret }
        }

        let id: NodeID
        if let node {
            guard let parsed = NodeID(node) else {
                throw ConfigError(key: "--node", message: "\"\(node)\" is not a node id (1-64 of [A-Za-z0-9_.-])")
            }
            id = parsed
        } else if configPath == nil || configuration.nodes.count == 1, let only = configuration.nodes.first {
            id = only.id
        } else if configPath == nil && (seeds ?? []).isEmpty {
            id = NodeID("standalone")!
        } else if configPath == nil {
            throw ConfigError(key: "--node", message: "required to join a cluster through --seeds")
        } else {
            throw ConfigError(key: "--node", message: "required with --config when the file lists several nodes")
        }

        let listed = configuration.nodes.first { $0.id == id }
        let cluster: NodeAddress
        let http: NodeAddress
        if let listed {
            cluster =
                try clusterAddress.map { text throws(ConfigError) in try parse(text, "--cluster-addr") }
                ?? listed.clusterAddress
            http =
                try httpAddress.map { text throws(ConfigError) in try parse(text, "--http-addr") } ?? listed.httpAddress
        } else if let clusterAddress, let httpAddress {
            cluster = try parse(clusterAddress, "--cluster-addr")
            http = try parse(httpAddress, "--http-addr")
        } else if configPath == nil {
            cluster =
                try clusterAddress.map { text throws(ConfigError) in try parse(text, "--cluster-addr") }
                ?? NodeAddress(host: "127.0.0.1", port: 7100)
            http =
                try httpAddress.map { text throws(ConfigError) in try parse(text, "--http-addr") }
                ?? NodeAddress(host: "127.0.0.1", port: 8080)
        } else {
            let listedIDs = configuration.nodes.map(\.id.rawValue).joined(separator: ", ")
            throw ConfigError(
                key: "--node",
                message: "node \"\(id)\" is not in \(configPath ?? "the file") (it lists: \(listedIDs)); "
                    + "to join as a new node, also pass --cluster-addr and --http-addr"
            )
        }

        let admin =
            try adminAddress.map { text throws(ConfigError) in try parse(text, "--admin-addr") } ?? listed?.adminAddress

        var seedAddresses: [NodeAddress]
        if let seeds, !seeds.isEmpty {
            seedAddresses = try seeds.flatMap { $0.split(separator: ",") }.map { text throws(ConfigError) in
                try parse(String(text), "--seeds")
            }
        } else if !configuration.seeds.isEmpty {
            seedAddresses = configuration.seeds
        } else {
            seedAddresses = configuration.nodes.map(\.clusterAddress)
        }
        if configPath == nil && (seeds ?? []).isEmpty { seedAddresses = [] }
        return NodeSettings(
            configuration: configuration,
            nodeID: id,
            clusterAddress: cluster,
            httpAddress: http,
            adminAddress: admin,
            seeds: seedAddresses
        )
    }
}
