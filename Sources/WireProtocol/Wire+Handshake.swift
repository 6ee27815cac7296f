import ClusterCore
import Crypto
import Foundation

extension Wire {
    /// The mutual authentication that opens every connection between two nodes.
    ///
    /// ```
    /// dialer                                   listener
    ///   hello(version, cluster, id, addr, Nd) →
    ///                                         ← challenge(version, id, addr, Nl)
    ///   proof(HMAC(k, "client"…))             →
    ///                                         ← accept(HMAC(k, "server"…))  (or reject, then close)
    /// ```
    ///
    /// Both proofs are HMAC-SHA256 over the cluster secret `k`, both nonces and both node ids,
    /// so each side proves it knows the secret without sending it, and a recorded handshake
    /// cannot be replayed against fresh nonces. The dialer proves first: a stranger who connects
    /// and says `hello` gets a nonce and nothing computed from the secret, so no material to
    /// guess it offline (the dialer only proves itself to an address it chose to dial). A wrong
    /// cluster name or major wire version is refused at `hello`, without echoing the cluster's
    /// name. Until `accept`, no other frame is accepted.
    public enum Handshake {
        public static let nonceBytes = 32

        public struct Hello: Sendable, Equatable {
            public var versionMajor: UInt8
            public var versionMinor: UInt8
            public var clusterName: String
            public var nodeID: NodeID
            public var clusterAddress: NodeAddress
            public var nonce: [UInt8]

            public init(
                versionMajor: UInt8 = Wire.versionMajor,
                versionMinor: UInt8 = Wire.versionMinor,
                clusterName: String,
                nodeID: NodeID,
                clusterAddress: NodeAddress,
                nonce: [UInt8]
            ) {
                self.versionMajor = versionMajor
                self.versionMinor = versionMinor
                self.clusterName = clusterName
                self.nodeID = nodeID
                self.clusterAddress = clusterAddress
                self.nonce = nonce
            }
        }

        public struct Challenge: Sendable, Equatable {
            public var versionMajor: UInt8
            public var versionMinor: UInt8
            public var nodeID: NodeID
            public var clusterAddress: NodeAddress
            public var nonce: [UInt8]

            public init(
                versionMajor: UInt8,
                versionMinor: UInt8,
                nodeID: NodeID,
                clusterAddress: NodeAddress,
                nonce: [UInt8]
            ) {
                self.versionMajor = versionMajor
                self.versionMinor = versionMinor
                self.nodeID = nodeID
                self.clusterAddress = clusterAddress
                self.nonce = nonce
            }
        }

        public struct Proof: Sendable, Equatable {
            public var proof: [UInt8]

            public init(proof: [UInt8]) { self.proof = proof }
        }

        /// Who this node is, and the secret it shares with the cluster.
        public struct Credentials: Sendable {
            public var clusterName: String
            public var nodeID: NodeID
            public var clusterAddress: NodeAddress
            public var secret: SymmetricKey
            /// The minor wire version this node announces (peers accept any minor of their major).
            public var versionMinor: UInt8

            public init(
                clusterName: String,
                nodeID: NodeID,
                clusterAddress: NodeAddress,
                secret: String,
                versionMinor: UInt8 = Wire.versionMinor
            ) {
                self.clusterName = clusterName
                self.nodeID = nodeID
                self.clusterAddress = clusterAddress
                self.secret = SymmetricKey(data: Data(secret.utf8))
                self.versionMinor = versionMinor
            }
        }

        /// The authenticated peer at the far end.
        public struct PeerIdentity: Sendable, Equatable {
            public var nodeID: NodeID
            public var clusterAddress: NodeAddress
        }

        /// What the shell does next.
        public enum Action: Sendable, Equatable {
            case send(Wire.Message)
            /// Send the message (if any), then close: the peer is refused.
            case refuse(Wire.Message?, reason: String)
            /// The peer is authenticated; after sending the message (if any) the connection carries traffic.
            case established(PeerIdentity, send: Wire.Message?)
        }

        static func mac(
            _ role: String,
            key: SymmetricKey,
            cluster: String,
            firstNonce: [UInt8],
            secondNonce: [UInt8],
            dialer: NodeID,
            listener: NodeID
        ) -> [UInt8] {
            var data = Data()
            for field in [
                Array(role.utf8), Array(cluster.utf8), firstNonce, secondNonce, Array(dialer.rawValue.utf8),
                Array(listener.rawValue.utf8),
            ] {
                // Length-prefixed, so that no two field lists produce the same bytes.
                data.append(contentsOf: [UInt8(field.count >> 8), UInt8(field.count & 0xFF)])
                data.append(contentsOf: field)
            }
            return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        }

        static func verify(_ proof: [UInt8], equals expected: [UInt8]) -> Bool {
            // Constant time: compare every byte whatever the first mismatch.
            guard proof.count == expected.count else { return false }
            var difference: UInt8 = 0
            for (a, b) in zip(proof, expected) { difference |= a ^ b }
            return difference == 0
        }

        /// The dialing side.
        public struct Dialer: Sendable {
            let credentials: Credentials
            let nonce: [UInt8]
            /// The listener as its challenge names it, and its nonce; proven only at `accept`.
            var listener: (identity: PeerIdentity, nonce: [UInt8])?

            public init(credentials: Credentials, nonce: [UInt8]) {
                self.credentials = credentials
                self.nonce = nonce
            }

            public var hello: Wire.Message {
                .hello(
                    Hello(
                        versionMinor: credentials.versionMinor,
                        clusterName: credentials.clusterName,
                        nodeID: credentials.nodeID,
                        clusterAddress: credentials.clusterAddress,
                        nonce: nonce
                    )
                )
            }

            public mutating func receive(_ message: Wire.Message) -> Action {
                switch message {
                case .challenge(let challenge) where listener == nil:
                    guard challenge.versionMajor == Wire.versionMajor else {
                        return .refuse(nil, reason: "listener speaks wire version \(challenge.versionMajor)")
                    }
                    guard challenge.nonce.count == nonceBytes else {
                        return .refuse(
                            .reject(reason: "bad nonce"),
                            reason: "bad nonce length \(challenge.nonce.count)"
                        )
                    }
                    listener = (
                        PeerIdentity(nodeID: challenge.nodeID, clusterAddress: challenge.clusterAddress),
                        challenge.nonce
                    )
                    let proof = mac(
                        "client",
                        key: credentials.secret,
                        cluster: credentials.clusterName,
                        firstNonce: challenge.nonce,
                        secondNonce: nonce,
                        dialer: credentials.nodeID,
                        listener: challenge.nodeID
                    )
                    return .send(.proof(Proof(proof: proof)))
                case .accept(let proof):
                    guard let listener else { return .refuse(nil, reason: "accept before challenge") }
                    let expected = mac(
                        "server",
                        key: credentials.secret,
                        cluster: credentials.clusterName,
                        firstNonce: nonce,
                        secondNonce: listener.nonce,
                        dialer: credentials.nodeID,
                        listener: listener.identity.nodeID
                    )
                    guard verify(proof, equals: expected) else {
                        // Tell the listener, so both sides log and count the refusal.
                        return .refuse(
                            .reject(reason: "authentication failed"),
                            reason: "listener \(listener.identity.nodeID) failed to prove the cluster secret"
                        )
                    }
                    return .established(listener.identity, send: nil)
                case .reject:
                    // The listener's words stay out of the log: it may be a stranger.
                    return .refuse(nil, reason: "refused by the listener")
                default:
                    return .refuse(nil, reason: "unexpected \(message.type) during handshake")
                }
            }
        }

        /// The listening side.
        public struct Listener: Sendable {
            let credentials: Credentials
            let nonce: [UInt8]
            var dialer: Hello?

            public init(credentials: Credentials, nonce: [UInt8]) {
                self.credentials = credentials
                self.nonce = nonce
            }

            public mutating func receive(_ message: Wire.Message) -> Action {
                switch message {
                case .hello(let hello) where dialer == nil:
                    guard hello.versionMajor == Wire.versionMajor else {
                        let reason = "wire version \(hello.versionMajor) is not \(Wire.versionMajor)"
                        return .refuse(.reject(reason: reason), reason: reason)
                    }
                    guard hello.clusterName == credentials.clusterName else {
                        // Neither name goes back to a stranger (nor into the log: it is theirs).
                        return .refuse(.reject(reason: "wrong cluster"), reason: "the dialer names another cluster")
                    }
                    guard hello.nonce.count == nonceBytes else {
                        return .refuse(.reject(reason: "bad nonce"), reason: "bad nonce length \(hello.nonce.count)")
                    }
                    dialer = hello
                    // Only a nonce: this side proves the secret once the dialer has.
                    return .send(
                        .challenge(
                            Challenge(
                                versionMajor: Wire.versionMajor,
                                versionMinor: credentials.versionMinor,
                                nodeID: credentials.nodeID,
                                clusterAddress: credentials.clusterAddress,
                                nonce: nonce
                            )
                        )
                    )
                case .proof(let proof):
                    guard let dialer else {
                        return .refuse(.reject(reason: "proof before hello"), reason: "proof before hello")
                    }
                    let expected = mac(
                        "client",
                        key: credentials.secret,
                        cluster: credentials.clusterName,
                        firstNonce: nonce,
                        secondNonce: dialer.nonce,
                        dialer: dialer.nodeID,
                        listener: credentials.nodeID
                    )
                    guard verify(proof.proof, equals: expected) else {
                        // The id it claimed is a stranger's word: not logged.
                        return .refuse(
                            .reject(reason: "authentication failed"),
                            reason: "a dialer failed to prove the cluster secret"
                        )
                    }
                    let accept = mac(
                        "server",
                        key: credentials.secret,
                        cluster: credentials.clusterName,
                        firstNonce: dialer.nonce,
                        secondNonce: nonce,
                        dialer: dialer.nodeID,
                        listener: credentials.nodeID
                    )
                    return .established(
                        PeerIdentity(nodeID: dialer.nodeID, clusterAddress: dialer.clusterAddress),
                        send: .accept(proof: accept)
                    )
                case .reject:
                    return .refuse(nil, reason: "refused by the dialing node")
                default:
                    let reason = "unexpected \(message.type) during handshake"
                    return .refuse(.reject(reason: reason), reason: reason)
                }
            }
        }
    }
}
