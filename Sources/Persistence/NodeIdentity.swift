/// Whose data a node's data directory holds, in `<directory>/IDENTITY`: the cluster's name, the
/// node's id and a random identity drawn when the directory was first used.
///
/// A node refuses a directory that names another cluster or another node — a mistyped
/// `data_dir`, a copied directory, two nodes sharing one — instead of serving someone else's
/// replicas under its own id. The random identity tells a node that kept its data from one that
/// came back empty under the same id: the empty one draws a new identity, and recovers (see
/// ``isRecovering(directory:)``) before its word counts again.
public struct NodeIdentity: Sendable, Equatable, CustomStringConvertible {
    public var cluster: String
    public var node: String
    /// 32 hexadecimal digits, random.
    public var identity: String

    static let fileName = "IDENTITY"
    static let header = "plume-node-identity 1"

    public init(cluster: String, node: String, identity: String) {
        self.cluster = cluster
        self.node = node
        self.identity = identity
    }

    public var description: String { "node \(node) of cluster \(cluster.debugDescription) (identity \(identity))" }

    /// The identity recorded in `directory`, recorded now if there is none: with a new random
    /// identity (`isNew`), also for a directory that holds data written before identities were
    /// recorded. A directory recorded for another cluster or node is refused, naming both.
    public static func establish<R: RandomNumberGenerator>(
        directory: String,
        cluster: String,
        node: String,
        using random: inout R
    ) throws(PersistenceError) -> (identity: NodeIdentity, isNew: Bool) {
        let path = directory + "/" + fileName
        if try Directory.exists(path) {
            let file = try PosixFile.open(path, create: false)
            let found = try parse(String(decoding: try file.readAll(), as: UTF8.self), path: path)
            guard found.cluster == cluster, found.node == node else {
                throw PersistenceError(
                    .invalid(
                        "this data directory belongs to \(found), not to node \(node) of cluster \(cluster.debugDescription): "
                            + "check cluster.data_dir (a relative one is resolved against the configuration file's directory) and --node"
                    ),
                    path: directory
                )
            }
            return (found, false)
        }
        let identity = NodeIdentity(
            cluster: cluster,
            node: node,
            identity: (0..<16).map { _ in hex(UInt8.random(in: 0...255, using: &random)) }.joined()
        )
        try Directory.create(directory)
        // Recorded first: a node that stops before it recovered recovers again at its next start.
        let marker = try PosixFile.open(directory + "/" + recoveringFileName, create: true)
        try marker.sync()
        try Directory.sync(directory)
        let file = try PosixFile.open(path, create: true)
        try file.write(Array(identity.encoded.utf8), at: 0)
        try file.sync()
        try Directory.sync(directory)
        return (identity, true)
    }

    static let recoveringFileName = "RECOVERING"

    /// Whether the node must recover its replicas before it promises or acknowledges anything:
    /// its identity is new (the directory was empty, or emptied) and it has not finished
    /// recovering since (`<directory>/RECOVERING` exists). A node that comes back empty under an
    /// id that held replicas must not count toward a quorum for what it lost.
    /// A marker that cannot be looked for (permissions, I/O) is an error: taking it for absent
    /// would let the node count on state it may not hold.
    public static func isRecovering(directory: String) throws(PersistenceError) -> Bool {
        try Directory.exists(directory + "/" + recoveringFileName)
    }

    /// Records that the node recovered every shard (everything it took is durable).
    public static func finishRecovery(directory: String) throws(PersistenceError) {
        try Directory.remove(directory + "/" + recoveringFileName)
        try Directory.sync(directory)
    }

    /// ``establish(directory:cluster:node:using:)`` with the system's random source.
    public static func establish(directory: String, cluster: String, node: String) throws(PersistenceError) -> (
        identity: NodeIdentity, isNew: Bool
    ) {
        var random = SystemRandomNumberGenerator()
        return try establish(directory: directory, cluster: cluster, node: node, using: &random)
    }

    var encoded: String {
        "\(Self.header)\ncluster \(cluster.utf8.count) \(cluster)\nnode \(node)\nidentity \(identity)\n"
    }

    static func parse(_ text: String, path: String) throws(PersistenceError) -> NodeIdentity {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        func invalid() -> PersistenceError {
            PersistenceError(.invalid("not a Plume node identity: \(text.prefix(96).debugDescription)"), path: path)
        }
        guard lines.count >= 4, lines[0] == header else { throw invalid() }
        // The cluster name is length-prefixed: it may hold spaces.
        let clusterLine = lines[1].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard clusterLine.count == 3, clusterLine[0] == "cluster", let length = Int(clusterLine[1]),
            clusterLine[2].utf8.count == length,
            lines[2].hasPrefix("node "), lines[3].hasPrefix("identity ")
        else { throw invalid() }
        let identity = String(lines[3].dropFirst("identity ".count))
        guard identity.count == 32, identity.allSatisfy(\.isHexDigit) else { throw invalid() }
        return NodeIdentity(
            cluster: String(clusterLine[2]),
            node: String(lines[2].dropFirst("node ".count)),
            identity: identity
        )
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}
