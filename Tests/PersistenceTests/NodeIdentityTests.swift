import Foundation
import Persistence
import Testing

/// A data directory records whose data it holds; a node refuses another cluster's or another
/// node's directory, naming both, and keeps its identity across restarts.
@Suite struct NodeIdentityTests {
    @Test func aNewDirectoryGetsARandomIdentityThatLastsAcrossRestarts() throws {
        let directory = TestDirectory()
        let first = try NodeIdentity.establish(directory: directory.path + "/n1", cluster: "my game", node: "n1")
        #expect(first.isNew)
        #expect(first.identity.identity.count == 32 && first.identity.identity.allSatisfy(\.isHexDigit))
        let again = try NodeIdentity.establish(directory: directory.path + "/n1", cluster: "my game", node: "n1")
        #expect(!again.isNew)
        #expect(again.identity == first.identity)
        // Emptied, the same node comes back as a new identity.
        try FileManager.default.removeItem(atPath: directory.path + "/n1")
        let emptied = try NodeIdentity.establish(directory: directory.path + "/n1", cluster: "my game", node: "n1")
        #expect(emptied.isNew && emptied.identity.identity != first.identity.identity)
    }

    @Test func aNewDirectoryRecoversUntilToldItIsDoneEvenAcrossRestarts() throws {
        let directory = TestDirectory()
        let path = directory.path + "/n1"
        _ = try NodeIdentity.establish(directory: path, cluster: "my game", node: "n1")
        #expect(try NodeIdentity.isRecovering(directory: path))
        _ = try NodeIdentity.establish(directory: path, cluster: "my game", node: "n1")
        #expect(try NodeIdentity.isRecovering(directory: path), "a restart before the end recovers again")
        try NodeIdentity.finishRecovery(directory: path)
        #expect(try !NodeIdentity.isRecovering(directory: path))
        // A marker that cannot be looked for is an error, never taken for "not recovering".
        FileManager.default.createFile(atPath: directory.path + "/plain", contents: Data())
        #expect(throws: PersistenceError.self) { try NodeIdentity.isRecovering(directory: directory.path + "/plain") }
    }

    @Test func anotherNodesOrClustersDirectoryIsRefusedNamingBoth() throws {
        let directory = TestDirectory()
        _ = try NodeIdentity.establish(directory: directory.path, cluster: "prod", node: "n2")
        for (cluster, node) in [("prod", "n1"), ("staging", "n2")] {
            do {
                _ = try NodeIdentity.establish(directory: directory.path, cluster: cluster, node: node)
                Issue.record("opened \(node) of \(cluster) on n2 of prod's directory")
            } catch {
                #expect("\(error)".contains("belongs to node n2 of cluster \"prod\""), "\(error)")
                #expect("\(error)".contains("not to node \(node) of cluster \"\(cluster)\""), "\(error)")
                #expect("\(error)".contains("cluster.data_dir"), "\(error)")
            }
        }
    }

    @Test func aDamagedIdentityFileIsRefused() throws {
        let directory = TestDirectory()
        directory.write(Array("plume-node-identity 1\ncluster 9 prod\nnode n1\nidentity 12\n".utf8), to: "IDENTITY")
        #expect(throws: PersistenceError.self) {
            try NodeIdentity.establish(directory: directory.path, cluster: "prod", node: "n1")
        }
    }
}
