import ClusterCore
import Foundation
import TOMLKit

/// A problem in `cluster.conf` or on the command line, naming the key and, where known, the line.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var key: String
    public var line: Int?
    public var message: String

    public init(key: String, line: Int? = nil, message: String) {
        self.key = key
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "cluster.conf line \(line): \(key): \(message)" }
        return "\(key): \(message)"
    }
}

/// Reads `cluster.conf` (TOML) into a validated ``ClusterConfiguration``.
///
/// Every table has a closed set of keys: a misspelt key is an error, never silently ignored.
/// `PLUME_CLUSTER_SECRET` in the environment overrides `cluster.secret`.
public enum ConfigLoader {
    static let clusterKeys: Set<String> = ["name", "secret", "shards", "replication", "data_dir", "seeds"]
    static let nodeKeys: Set<String> = ["id", "cluster", "http", "admin"]
    static let membershipKeys: Set<String> = [
        "probe_interval_ms", "probe_timeout_ms", "indirect_probes", "suspicion_min_ms", "suspicion_max_ms",
        "push_pull_interval_ms", "retransmit_multiplier",
    ]
    static let storageKeys: Set<String> = ["checkpoint_kib"]
    static let entitiesKeys: Set<String> = ["passivate_after_s", "request_timeout_ms"]
    static let gatewayKeys: Set<String> = [
        "auth_burst", "auth_per_minute", "login_failures_burst", "login_failure_refill_s", "client_address_header",
        "cors_origins", "user_writes_burst", "user_writes_per_minute",
    ]
    static let accountsKeys: Set<String> = ["session_max_days"]
    static let realtimeKeys: Set<String> = [
        "reconnect_grace_ms", "max_frame_bytes", "send_queue_max", "heartbeat_ms", "chat_burst", "chat_per_minute",
    ]
    static let lobbiesKeys: Set<String> = ["empty_ttl_ms", "seat_hold_ms", "game_servers"]
    static let matchmakingKeys: Set<String> = [
        "ticket_ttl_ms", "tickets_per_queue_max", "skill_window_start", "skill_window_growth_per_s", "interval_ms",
    ]
    static let tlsKeys: Set<String> = ["ca", "cert", "key"]
    static let topKeys: Set<String> = [
        "cluster", "node", "membership", "storage", "entities", "gateway", "accounts", "tls", "realtime", "lobbies",
        "matchmaking",
    ]

    /// Loads and validates the file at `path`.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigError) -> ClusterConfiguration
    {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigError(key: "--config", message: "cannot read \(path)")
        }
        var configuration = try parse(text, environment: environment)
        configuration.dataDirectory = resolve(configuration.dataDirectory, against: path)
        if let tls = configuration.tls {
            configuration.tls = .init(
                ca: resolve(tls.ca, against: path),
                cert: resolve(tls.cert, against: path),
                key: resolve(tls.key, against: path)
            )
        }
        return configuration
    }

    /// A relative path (`data_dir`, the `[tls]` files) names a place beside the configuration
    /// file, wherever the node is started from (resolved against the working directory, starting
    /// elsewhere would give a node an empty directory under an id that holds replicas).
    static func resolve(_ relative: String, against configurationPath: String) -> String {
        guard !relative.hasPrefix("/") else { return relative }
        var base = (configurationPath as NSString).deletingLastPathComponent
        if !base.hasPrefix("/") {
            base = (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(base)
        }
        return ((base as NSString).appendingPathComponent(relative) as NSString).standardizingPath
    }

    /// Parses and validates TOML text.
    public static func parse(_ text: String, environment: [String: String] = [:]) throws(ConfigError)
        -> ClusterConfiguration
    {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(key: "syntax", line: error.source.begin.line, message: error.description)
        } catch {
            throw ConfigError(key: "syntax", message: "\(error)")
        }
        let lines = TOMLLineIndex(source: text)
        let reader = Reader(lines: lines)
        var configuration = ClusterConfiguration()

        try reader.rejectUnknown(root, path: "", allowed: topKeys)

        if let value = root["cluster"] {
            let cluster = try reader.table(value, path: "cluster")
            try reader.rejectUnknown(cluster, path: "cluster", allowed: clusterKeys)
            if let name = try reader.string(cluster, "name", path: "cluster") { configuration.name = name }
            if let secret = try reader.string(cluster, "secret", path: "cluster") { configuration.secret = secret }
            if let shards = try reader.int(cluster, "shards", path: "cluster") { configuration.shards = shards }
            if let replication = try reader.int(cluster, "replication", path: "cluster") {
                configuration.replication = replication
            }
            if let dataDirectory = try reader.string(cluster, "data_dir", path: "cluster") {
                configuration.dataDirectory = dataDirectory
            }
            if let seeds = cluster["seeds"] {
                guard let array = seeds.array else {
                    throw reader.error("cluster.seeds", "must be an array of \"host:port\" strings")
                }
                configuration.seeds = try array.enumerated().map { index, element throws(ConfigError) in
                    guard let text = element.string else {
                        throw reader.error("cluster.seeds", "entry \(index) must be a \"host:port\" string")
                    }
                    return try reader.address(text, key: "cluster.seeds")
                }
            }
        }

        if let value = root["node"] {
            guard let array = value.array else {
                throw reader.error("node", "must be an array of tables, written [[node]]")
            }
            for (index, element) in array.enumerated() {
                let path = "node[\(index)]"
                let node = try reader.table(element, path: path)
                try reader.rejectUnknown(node, path: path, allowed: nodeKeys)
                guard let idText = try reader.string(node, "id", path: path) else {
                    throw reader.error(path, "is missing the key \"id\"")
                }
                guard let id = NodeID(idText) else {
                    throw reader.error("\(path).id", "\"\(idText)\" is not a node id (1-64 of [A-Za-z0-9_.-])")
                }
                guard let clusterText = try reader.string(node, "cluster", path: path) else {
                    throw reader.error(path, "is missing the key \"cluster\"")
                }
                guard let httpText = try reader.string(node, "http", path: path) else {
                    throw reader.error(path, "is missing the key \"http\"")
                }
                configuration.nodes.append(
                    ClusterConfiguration.NodeEntry(
                        id: id,
                        clusterAddress: try reader.address(clusterText, key: "\(path).cluster"),
                        httpAddress: try reader.address(httpText, key: "\(path).http"),
                        adminAddress: try reader.string(node, "admin", path: path).map { text throws(ConfigError) in
                            try reader.address(text, key: "\(path).admin")
                        }
                    )
                )
            }
        }

        if let value = root["membership"] {
            let membership = try reader.table(value, path: "membership")
            try reader.rejectUnknown(membership, path: "membership", allowed: membershipKeys)
            var settings = configuration.membership
            func milliseconds(_ key: String) throws(ConfigError) -> Duration? {
                try reader.int(membership, key, path: "membership").map { .milliseconds($0) }
            }
            if let value = try milliseconds("probe_interval_ms") { settings.probeInterval = value }
            if let value = try milliseconds("probe_timeout_ms") { settings.probeTimeout = value }
            if let value = try reader.int(membership, "indirect_probes", path: "membership") {
                settings.indirectProbes = value
            }
            if let value = try milliseconds("suspicion_min_ms") { settings.suspicionMin = value }
            if let value = try milliseconds("suspicion_max_ms") { settings.suspicionMax = value }
            if let value = try milliseconds("push_pull_interval_ms") { settings.pushPullInterval = value }
            if let value = try reader.int(membership, "retransmit_multiplier", path: "membership") {
                settings.retransmitMultiplier = value
            }
            configuration.membership = settings
        }

        if let value = root["storage"] {
            let storage = try reader.table(value, path: "storage")
            try reader.rejectUnknown(storage, path: "storage", allowed: storageKeys)
            if let kib = try reader.int(
                storage,
                "checkpoint_kib",
                path: "storage",
                in: ClusterConfiguration.checkpointKiBRange,
                unit: "KiB"
            ) {
                configuration.checkpointBytes = kib * 1024
            }
        }

        if let value = root["entities"] {
            let entities = try reader.table(value, path: "entities")
            try reader.rejectUnknown(entities, path: "entities", allowed: entitiesKeys)
            if let seconds = try reader.int(
                entities,
                "passivate_after_s",
                path: "entities",
                in: ClusterConfiguration.passivateAfterSecondsRange,
                unit: "seconds"
            ) {
                configuration.passivateAfter = .seconds(seconds)
            }
            if let millis = try reader.int(
                entities,
                "request_timeout_ms",
                path: "entities",
                in: ClusterConfiguration.requestTimeoutMillisecondsRange,
                unit: "ms"
            ) {
                configuration.requestTimeout = .milliseconds(millis)
            }
        }

        if let value = root["gateway"] {
            let gateway = try reader.table(value, path: "gateway")
            try reader.rejectUnknown(gateway, path: "gateway", allowed: gatewayKeys)
            var limits = configuration.authLimits
            func read(
                _ key: String,
                into field: WritableKeyPath<AuthLimits, Int>,
                in range: ClosedRange<Int>,
                unit: String
            )
                throws(ConfigError)
            {
                if let value = try reader.int(gateway, key, path: "gateway", in: range, unit: unit) {
                    limits[keyPath: field] = value
                }
            }
            try read("auth_burst", into: \.requestsBurst, in: AuthLimits.requestsBurstRange, unit: "requests")
            try read(
                "auth_per_minute",
                into: \.requestsPerMinute,
                in: AuthLimits.requestsPerMinuteRange,
                unit: "requests per minute"
            )
            try read(
                "login_failures_burst",
                into: \.loginFailuresBurst,
                in: AuthLimits.loginFailuresBurstRange,
                unit: "failed logins"
            )
            try read(
                "user_writes_burst",
                into: \.userWritesBurst,
                in: AuthLimits.userWritesBurstRange,
                unit: "requests"
            )
            try read(
                "user_writes_per_minute",
                into: \.userWritesPerMinute,
                in: AuthLimits.userWritesPerMinuteRange,
                unit: "requests per minute"
            )
            if let seconds = try reader.int(
                gateway,
                "login_failure_refill_s",
                path: "gateway",
                in: AuthLimits.loginFailureRefillSecondsRange,
                unit: "seconds"
            ) {
                limits.loginFailureRefill = .seconds(seconds)
            }
            if let header = try reader.string(gateway, "client_address_header", path: "gateway") {
                limits.clientAddressHeader = header.isEmpty ? nil : header
            }
            configuration.authLimits = limits
            if let origins = gateway["cors_origins"] {
                guard let array = origins.array else {
                    throw reader.error(
                        "gateway.cors_origins",
                        "must be an array of origins such as \"https://game.example\""
                    )
                }
                configuration.corsOrigins = try array.enumerated().map { index, element throws(ConfigError) in
                    guard let text = element.string else {
                        throw reader.error("gateway.cors_origins", "entry \(index) must be a string")
                    }
                    return text
                }
            }
        }

        if let value = root["accounts"] {
            let accounts = try reader.table(value, path: "accounts")
            try reader.rejectUnknown(accounts, path: "accounts", allowed: accountsKeys)
            if let days = try reader.int(
                accounts,
                "session_max_days",
                path: "accounts",
                in: ClusterConfiguration.sessionMaxDaysRange,
                unit: "days"
            ) {
                configuration.sessionLifetime = .seconds(days * 86_400)
            }
        }

        if let value = root["realtime"] {
            let table = try reader.table(value, path: "realtime")
            try reader.rejectUnknown(table, path: "realtime", allowed: realtimeKeys)
            var realtime = configuration.realtime
            func read(_ key: String, in range: ClosedRange<Int>, unit: String) throws(ConfigError) -> Int? {
                try reader.int(table, key, path: "realtime", in: range, unit: unit)
            }
            if let ms = try read("reconnect_grace_ms", in: RealtimeSettings.reconnectGraceMillisecondsRange, unit: "ms")
            {
                realtime.reconnectGrace = .milliseconds(ms)
            }
            if let bytes = try read("max_frame_bytes", in: RealtimeSettings.maxFrameBytesRange, unit: "bytes") {
                realtime.maxFrameBytes = bytes
            }
            if let frames = try read("send_queue_max", in: RealtimeSettings.sendQueueMaxRange, unit: "frames") {
                realtime.sendQueueMax = frames
            }
            if let ms = try read("heartbeat_ms", in: RealtimeSettings.heartbeatMillisecondsRange, unit: "ms") {
                realtime.heartbeat = .milliseconds(ms)
            }
            if let burst = try read("chat_burst", in: RealtimeSettings.chatBurstRange, unit: "messages") {
                realtime.chatBurst = burst
            }
            if let rate = try read(
                "chat_per_minute",
                in: RealtimeSettings.chatPerMinuteRange,
                unit: "messages per minute"
            ) {
                realtime.chatPerMinute = rate
            }
            configuration.realtime = realtime
        }

        if let value = root["lobbies"] {
            let table = try reader.table(value, path: "lobbies")
            try reader.rejectUnknown(table, path: "lobbies", allowed: lobbiesKeys)
            var lobbies = configuration.lobbies
            if let ms = try reader.int(
                table,
                "empty_ttl_ms",
                path: "lobbies",
                in: LobbySettings.emptyTTLMillisecondsRange,
                unit: "ms"
            ) {
                lobbies.emptyTTL = .milliseconds(ms)
            }
            if let ms = try reader.int(
                table,
                "seat_hold_ms",
                path: "lobbies",
                in: LobbySettings.seatHoldMillisecondsRange,
                unit: "ms"
            ) {
                lobbies.seatHold = .milliseconds(ms)
            }
            if let servers = table["game_servers"] {
                guard let array = servers.array, !array.isEmpty else {
                    throw reader.error("lobbies.game_servers", "must be a non-empty array such as [\"10.0.0.5:7777\"]")
                }
                lobbies.gameServers = try array.enumerated().map { index, element throws(ConfigError) in
                    guard let text = element.string else {
                        throw reader.error("lobbies.game_servers", "entry \(index) must be a \"host:port\" string")
                    }
                    _ = try reader.address(text, key: "lobbies.game_servers")
                    return text
                }
            }
            configuration.lobbies = lobbies
        }

        if let value = root["matchmaking"] {
            let table = try reader.table(value, path: "matchmaking")
            try reader.rejectUnknown(table, path: "matchmaking", allowed: matchmakingKeys)
            var matchmaking = configuration.matchmaking
            func read(_ key: String, in range: ClosedRange<Int>, unit: String) throws(ConfigError) -> Int? {
                try reader.int(table, key, path: "matchmaking", in: range, unit: unit)
            }
            if let ms = try read("ticket_ttl_ms", in: MatchmakingSettings.ticketTTLMillisecondsRange, unit: "ms") {
                matchmaking.ticketTTL = .milliseconds(ms)
            }
            if let count = try read(
                "tickets_per_queue_max",
                in: MatchmakingSettings.ticketsPerQueueMaxRange,
                unit: "tickets"
            ) {
                matchmaking.ticketsPerQueueMax = count
            }
            if let ms = try read("interval_ms", in: MatchmakingSettings.intervalMillisecondsRange, unit: "ms") {
                matchmaking.interval = .milliseconds(ms)
            }
            if let start = try reader.double(
                table,
                "skill_window_start",
                path: "matchmaking",
                in: MatchmakingSettings.skillWindowRange
            ) {
                matchmaking.skillWindowStart = start
            }
            if let growth = try reader.double(
                table,
                "skill_window_growth_per_s",
                path: "matchmaking",
                in: MatchmakingSettings.skillWindowRange
            ) {
                matchmaking.skillWindowGrowthPerSecond = growth
            }
            configuration.matchmaking = matchmaking
        }

        if let value = root["tls"] {
            let tls = try reader.table(value, path: "tls")
            try reader.rejectUnknown(tls, path: "tls", allowed: tlsKeys)
            func path(_ key: String) throws(ConfigError) -> String {
                guard let path = try reader.string(tls, key, path: "tls"), !path.isEmpty else {
                    throw reader.error(
                        "tls.\(key)",
                        "is required with [tls] (a PEM file; {node} stands for the node id)"
                    )
                }
                return path
            }
            configuration.tls = .init(ca: try path("ca"), cert: try path("cert"), key: try path("key"))
        }

        if let secret = environment["PLUME_CLUSTER_SECRET"], !secret.isEmpty { configuration.secret = secret }

        do {
            try configuration.validate()
        } catch {
            throw ConfigError(key: error.key, line: lines.line(for: error.key), message: error.message)
        }
        return configuration
    }

    /// Typed access to TOML values with errors that carry the key and line.
    struct Reader {
        let lines: TOMLLineIndex

        func error(_ key: String, _ message: String) -> ConfigError {
            ConfigError(key: key, line: lines.line(for: key), message: message)
        }

        func rejectUnknown(_ table: TOMLTable, path: String, allowed: Set<String>) throws(ConfigError) {
            let unknown = table.keys.filter { !allowed.contains($0) }
                .map { path.isEmpty ? $0 : "\(path).\($0)" }
                .sorted { (lines.line(for: $0) ?? .max) < (lines.line(for: $1) ?? .max) }
            if let key = unknown.first {
                throw error(key, "unknown key (allowed: \(allowed.sorted().joined(separator: ", ")))")
            }
        }

        func table(_ value: any TOMLValueConvertible, path: String) throws(ConfigError) -> TOMLTable {
            guard let table = value.table else { throw error(path, "must be a table, got \(value.type)") }
            return table
        }

        func string(_ table: TOMLTable, _ key: String, path: String) throws(ConfigError) -> String? {
            guard let value = table[key] else { return nil }
            guard let text = value.string else { throw error("\(path).\(key)", "must be a string, got \(value.type)") }
            return text
        }

        func int(_ table: TOMLTable, _ key: String, path: String) throws(ConfigError) -> Int? {
            guard let value = table[key] else { return nil }
            guard let number = value.int else { throw error("\(path).\(key)", "must be an integer, got \(value.type)") }
            return number
        }

        /// A number (integer or float) that must lie in `range`.
        func double(_ table: TOMLTable, _ key: String, path: String, in range: ClosedRange<Double>)
            throws(ConfigError) -> Double?
        {
            guard let value = table[key] else { return nil }
            guard let number = value.double ?? value.int.map(Double.init) else {
                throw error("\(path).\(key)", "must be a number, got \(value.type)")
            }
            guard range.contains(number) else {
                throw error(
                    "\(path).\(key)",
                    "must be between \(range.lowerBound) and \(range.upperBound), got \(number)"
                )
            }
            return number
        }

        /// An integer that must lie in `range` (in `unit`, named in the error).
        func int(_ table: TOMLTable, _ key: String, path: String, in range: ClosedRange<Int>, unit: String)
            throws(ConfigError) -> Int?
        {
            guard let number = try int(table, key, path: path) else { return nil }
            guard range.contains(number) else {
                throw error(
                    "\(path).\(key)",
                    "must be between \(range.lowerBound) and \(range.upperBound) (\(unit)), got \(number)"
                )
            }
            return number
        }

        func address(_ text: String, key: String) throws(ConfigError) -> NodeAddress {
            do {
                return try NodeAddress(parsing: text)
            } catch {
                throw self.error(key, "malformed address: \(error)")
            }
        }
    }
}
