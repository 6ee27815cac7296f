import ArgumentParser
import ClusterCore
import Foundation
import Gateway

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a node's view of the cluster: members, and shards per node."
    )

    @Option(help: "The node's HTTP address.")
    var url: String = "http://127.0.0.1:8080"

    @Flag(help: "Print the raw JSON of GET /v1/cluster.")
    var json = false

    func run() async throws {
        guard let endpoint = URL(string: url.hasSuffix("/") ? "\(url)v1/cluster" : "\(url)/v1/cluster") else {
            throw ValidationError("--url: \"\(url)\" is not a URL")
        }
        let data: Data
        do {
            let (body, response) = try await URLSession.shared.data(from: endpoint)
            guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
                throw ValidationError("\(endpoint) answered \((response as? HTTPURLResponse)?.statusCode ?? 0)")
            }
            data = body
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(
                Data("error: cannot reach \(endpoint): \(error.localizedDescription)\n".utf8)
            )
            throw ExitCode(1)
        }
        if json {
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let cluster = try JSONDecoder().decode(ClusterBody.self, from: data)
        print(StatusReport.render(cluster))
    }
}

enum StatusReport {
    /// A table of members with their shard counts, as `plume status` prints it.
    static func render(_ cluster: ClusterBody) -> String {
        var primaries: [String: Int] = [:]
        var replicas: [String: Int] = [:]
        for entry in cluster.shards.table {
            for (index, node) in entry.replicas.enumerated() {
                if index == 0 { primaries[node, default: 0] += 1 } else { replicas[node, default: 0] += 1 }
            }
        }
        var rows = [["NODE", "STATUS", "INCARNATION", "CLUSTER", "HTTP", "PRIMARY", "REPLICA"]]
        for member in cluster.members {
            rows.append([
                member.id + (member.id == cluster.node ? "*" : ""),
                member.status,
                "\(member.incarnation)",
                member.clusterAddr,
                member.httpAddr ?? "-",
                "\(primaries[member.id] ?? 0)",
                "\(replicas[member.id] ?? 0)",
            ])
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = [
            "cluster view of \(cluster.node) (ready: \(cluster.ready)); \(cluster.shards.count) shards, replication \(cluster.shards.replication)"
        ]
        for row in rows {
            let padded = zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(
                separator: "  "
            )
            lines.append(String(padded.reversed().drop(while: { $0 == " " }).reversed()))
        }
        return lines.joined(separator: "\n")
    }
}
