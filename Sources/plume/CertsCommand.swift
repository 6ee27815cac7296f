import ArgumentParser
import ClusterCore
import ClusterRuntime
import Foundation

/// `plume certs`: the certificates of a cluster's mutual TLS (`[tls]` in cluster.conf).
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Create the certificates for mutual TLS between a cluster's nodes.",
        subcommands: [CertsInit.self]
    )
}

/// `plume certs init --config cluster.conf --out certs`: a new cluster CA, and for each `[[node]]`
/// a certificate naming its node id, as the `[tls]` section expects them:
/// `ca.pem` (`ca.key` stays beside it: keep it offline), `<node>.pem` and `<node>.key`.
struct CertsInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a cluster CA and a certificate for every [[node]] of the configuration."
    )

    @Option(help: "The cluster's configuration file (its [[node]] list).")
    var config = "cluster.conf"

    @Option(help: "The directory to write the certificates and keys to (created; must not hold a CA already).")
    var out = "certs"

    @Option(help: "How long the certificates are valid, in days.")
    var days = 825

    func validate() throws {
        guard (1...36_500).contains(days) else { throw ValidationError("--days must be 1 to 36500") }
    }

    func run() throws {
        let configuration: ClusterConfiguration
        do {
            configuration = try ConfigLoader.load(path: config, environment: [:])
        } catch {
            throw ValidationError("\(config): \(error)")
        }
        guard !configuration.nodes.isEmpty else { throw ValidationError("\(config) lists no [[node]]") }
        let files = FileManager.default
        guard !files.fileExists(atPath: out + "/ca.pem") && !files.fileExists(atPath: out + "/ca.key") else {
            throw ValidationError(
                "\(out) already holds a CA (ca.pem, ca.key): move it away first; a new CA would not trust the old certificates"
            )
        }
        try files.createDirectory(
            atPath: out,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let authority = try ClusterCertificates.authority(cluster: configuration.name, days: days)
        try write(authority, to: out + "/ca")
        for node in configuration.nodes {
            try write(
                ClusterCertificates.issue(node: node.id.rawValue, authority: authority, days: days),
                to: out + "/\(node.id)"
            )
        }
        print(
            "plume certs: a CA and \(configuration.nodes.count) node certificates in \(out) (valid \(days) days). "
                + "Give each node ca.pem and its own <node>.pem and <node>.key, keep ca.key offline, and add to \(config):\n"
                + "[tls]\nca = \"\(out)/ca.pem\"\ncert = \"\(out)/{node}.pem\"\nkey = \"\(out)/{node}.key\""
        )
    }

    private func write(_ issued: ClusterCertificates.Issued, to base: String) throws {
        let files = FileManager.default
        guard
            files.createFile(
                atPath: base + ".pem",
                contents: Data(issued.certificatePEM.utf8),
                attributes: [.posixPermissions: 0o644]
            ),
            files.createFile(
                atPath: base + ".key",
                contents: Data(issued.keyPEM.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw ValidationError("cannot write \(base).pem or \(base).key") }
    }
}
