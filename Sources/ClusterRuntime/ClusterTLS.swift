import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// Mutual TLS on the cluster port: TLS 1.3 only, both sides present a certificate signed by the
/// cluster's CA, and each checks that the other's certificate names the node id it claims in the
/// (still required) HMAC handshake underneath.
public struct ClusterTLS: Sendable, Equatable {
    /// The listener's side: it requires a client certificate from the CA.
    public let server: NIOSSLContext
    /// The dialer's side: it presents its certificate and checks the listener's against the CA.
    public let client: NIOSSLContext

    /// From PEM files: the CA's certificate, and this node's certificate and private key.
    public init(caFile: String, certificateFile: String, keyFile: String) throws {
        func read(_ path: String, _ what: String) throws -> [UInt8] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ClusterTLSError("cannot read the \(what) at \(path)")
            }
            return Array(data)
        }
        try self.init(
            caPEM: read(caFile, "CA certificate (tls.ca)"),
            certificatePEM: read(certificateFile, "node certificate (tls.cert)"),
            keyPEM: read(keyFile, "node key (tls.key)")
        )
    }

    /// From PEM text.
    public init(caPEM: [UInt8], certificatePEM: [UInt8], keyPEM: [UInt8]) throws {
        let authority: [NIOSSLCertificate]
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            authority = try NIOSSLCertificate.fromPEMBytes(caPEM)
            chain = try NIOSSLCertificate.fromPEMBytes(certificatePEM)
            key = try NIOSSLPrivateKey(bytes: keyPEM, format: .pem)
        } catch {
            throw ClusterTLSError("a TLS certificate or key does not load: \(error)")
        }
        guard !authority.isEmpty, !chain.isEmpty else { throw ClusterTLSError("a TLS PEM file holds no certificate") }
        func configure(_ configuration: inout TLSConfiguration) {
            configuration.minimumTLSVersion = .tlsv13
            configuration.maximumTLSVersion = .tlsv13
            configuration.trustRoots = .certificates(authority)
            // The peer's name is checked against the node id it claims, not against a host name.
            configuration.certificateVerification = .noHostnameVerification
        }
        var server = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        configure(&server)
        var client = TLSConfiguration.makeClientConfiguration()
        client.certificateChain = chain.map { .certificate($0) }
        client.privateKey = .privateKey(key)
        configure(&client)
        self.server = try NIOSSLContext(configuration: server)
        self.client = try NIOSSLContext(configuration: client)
    }

    /// The same contexts.
    public static func == (lhs: ClusterTLS, rhs: ClusterTLS) -> Bool {
        lhs.server === rhs.server && lhs.client === rhs.client
    }

    /// The node id a certificate names: its DNS subject alternative name, else its common name.
    public static func nodeID(of certificate: NIOSSLCertificate) -> String? {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else {
            return nil
        }
        if let names = try? parsed.extensions.subjectAlternativeNames {
            for case .dnsName(let name) in names { return name }
        }
        for case let attribute in parsed.subject.flatMap({ $0 }) where attribute.type == .RDNAttributeType.commonName {
            return attribute.value.description
        }
        return nil
    }
}

public struct ClusterTLSError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Issues a cluster's certificates: a CA, and for each node a certificate naming its node id
/// (subject common name and DNS subject alternative name), for both TLS roles. ECDSA P-256.
public enum ClusterCertificates {
    /// A PEM certificate and its PEM private key.
    public struct Issued: Sendable {
        public let certificatePEM: String
        public let keyPEM: String
    }

    /// A new CA for the cluster named `cluster`, valid for `days`.
    public static func authority(cluster: String, days: Int, now: Date = Date()) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Plume")
            CommonName("Plume cluster CA (\(cluster))")
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + Double(days) * 86_400,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            },
            issuerPrivateKey: .init(key)
        )
        return Issued(certificatePEM: try certificate.serializeAsPEM().pemString, keyPEM: key.pemRepresentation)
    }

    /// A certificate for node `node`, signed by `authority`, valid for `days`.
    public static func issue(node: String, authority: Issued, days: Int, now: Date = Date()) throws -> Issued {
        let issuerCertificate = try Certificate(pemEncoded: authority.certificatePEM)
        let issuerKey = try P256.Signing.PrivateKey(pemRepresentation: authority.keyPEM)
        let key = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + Double(days) * 86_400,
            issuer: issuerCertificate.subject,
            subject: try DistinguishedName {
                OrganizationName("Plume")
                CommonName(node)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([.dnsName(node)])
                AuthorityKeyIdentifier(
                    keyIdentifier: try issuerCertificate.extensions.subjectKeyIdentifier?.keyIdentifier
                )
            },
            issuerPrivateKey: .init(issuerKey)
        )
        return Issued(certificatePEM: try certificate.serializeAsPEM().pemString, keyPEM: key.pemRepresentation)
    }
}
