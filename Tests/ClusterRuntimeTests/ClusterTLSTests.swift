import ClusterCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import WireProtocol

@testable import ClusterRuntime

/// Mutual TLS on the cluster port: nodes with certificates from the cluster's CA talk; a peer
/// with a certificate from another CA, with none, or with one naming another node is refused,
/// and the listener goes on serving its peers.
@Suite struct ClusterTLSTests {
    static let authority = try! ClusterCertificates.authority(cluster: "tls-test", days: 1)

    static func tls(node: String, authority: ClusterCertificates.Issued = authority) throws -> ClusterTLS {
        let issued = try ClusterCertificates.issue(node: node, authority: authority, days: 1)
        return try ClusterTLS(
            caPEM: Array(authority.certificatePEM.utf8),
            certificatePEM: Array(issued.certificatePEM.utf8),
            keyPEM: Array(issued.keyPEM.utf8)
        )
    }

    static func transport(_ id: String, tls: ClusterTLS?) -> ClusterTransport {
        TransportLimitsTests.transport(id, frameBytesMax: 1 << 20) { settings in
            settings.tls = tls
            settings.connectTimeout = .seconds(2)
            settings.handshakeTimeout = .seconds(2)
        }
    }

    static func echo(_ client: ClusterTransport, _ address: NodeAddress) async throws -> Bool {
        var body = ByteBuffer()
        body.writeString("ping")
        return try await client.request(.echo(body), to: address, timeout: .seconds(5)) == .echo(body)
    }

    @Test func aCertificateNamesItsNodeID() throws {
        let issued = try ClusterCertificates.issue(node: "n7", authority: Self.authority, days: 1)
        let certificate = try #require(try NIOSSLCertificate.fromPEMBytes(Array(issued.certificatePEM.utf8)).first)
        #expect(ClusterTLS.nodeID(of: certificate) == "n7")
    }

    @Test(.timeLimit(.minutes(1)))
    func onlyPeersWithTheClustersCertificateForTheirOwnIDAreServed() async throws {
        let server = Self.transport("server", tls: try Self.tls(node: "server"))
        let address = try await server.start(host: "127.0.0.1", port: 0)

        let peer = Self.transport("peer", tls: try Self.tls(node: "peer"))
        #expect(try await Self.echo(peer, address))

        let otherAuthority = try ClusterCertificates.authority(cluster: "tls-test", days: 1)
        let refused: [(String, ClusterTransport)] = [
            (
                "a certificate from another CA",
                Self.transport("stranger", tls: try Self.tls(node: "stranger", authority: otherAuthority))
            ),
            ("no TLS at all", Self.transport("plain", tls: nil)),
            // The cluster's CA signed it, but for another node: the HMAC handshake says "impostor".
            ("another node's certificate", Self.transport("impostor", tls: try Self.tls(node: "peer"))),
        ]
        for (what, client) in refused {
            await #expect(throws: (any Error).self, "\(what) was served") {
                _ = try await Self.echo(client, address)
            }
            await client.shutdown()
        }
        // The listener still serves its peer, over a new connection too.
        #expect(try await Self.echo(peer, address))
        let another = Self.transport("another", tls: try Self.tls(node: "another"))
        #expect(try await Self.echo(another, address))
        await another.shutdown()
        await peer.shutdown()
        await server.shutdown()
    }
}
