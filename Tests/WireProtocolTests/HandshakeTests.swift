import ClusterCore
import NIOCore
import Testing
import WireProtocol

@Suite struct HandshakeTests {
    func credentials(_ id: String, cluster: String = "plume-local", secret: String = "s3cret")
        -> Wire.Handshake.Credentials
    {
        .init(
            clusterName: cluster,
            nodeID: NodeID(id)!,
            clusterAddress: NodeAddress(host: "127.0.0.1", port: 7000),
            secret: secret
        )
    }

    func nonce(_ byte: UInt8) -> [UInt8] { Array(repeating: byte, count: Wire.Handshake.nonceBytes) }

    /// Runs a handshake to its end; returns what each side concluded.
    func run(dialer: Wire.Handshake.Credentials, listener: Wire.Handshake.Credentials)
        -> (dialer: Wire.Handshake.Action?, listener: Wire.Handshake.Action?)
    {
        var d = Wire.Handshake.Dialer(credentials: dialer, nonce: nonce(1))
        var l = Wire.Handshake.Listener(credentials: listener, nonce: nonce(2))
        var toListener: Wire.Message? = d.hello
        var dialerEnd: Wire.Handshake.Action?
        var listenerEnd: Wire.Handshake.Action?
        while let message = toListener {
            toListener = nil
            let action = l.receive(message)
            let reply: Wire.Message?
            switch action {
            case .send(let m): reply = m
            case .refuse(let m, _): listenerEnd = action; reply = m
            case .established(_, let m): listenerEnd = action; reply = m
            }
            guard let reply else { break }
            let answer = d.receive(reply)
            switch answer {
            case .send(let m): toListener = m
            case .refuse, .established: dialerEnd = answer
            }
        }
        return (dialerEnd, listenerEnd)
    }

    @Test func theSameSecretEstablishesBothWays() {
        let (dialer, listener) = run(dialer: credentials("n1"), listener: credentials("n2"))
        guard case .established(let seenByDialer, nil)? = dialer,
            case .established(let seenByListener, .accept)? = listener
        else {
            Issue.record("not established: \(String(describing: dialer)) / \(String(describing: listener))")
            return
        }
        #expect(seenByDialer.nodeID == NodeID("n2"))
        #expect(seenByListener.nodeID == NodeID("n1"))
    }

    /// The dialer proves first: a wrong secret is refused by the listener, which has proven
    /// nothing yet.
    @Test func aWrongSecretIsRefusedByTheListenerBeforeItProvesAnything() {
        let (dialer, listener) = run(dialer: credentials("n1", secret: "wrong"), listener: credentials("n2"))
        guard case .refuse(.reject(let told)?, let reason)? = listener else {
            Issue.record("listener did not refuse: \(String(describing: listener))")
            return
        }
        #expect(reason.contains("secret"))
        // The id the dialer claimed is its own word: not in what the listener logs.
        #expect(!reason.contains("n1"), "\(reason)")
        #expect(told == "authentication failed")
        // The dialer saw a refusal, never a proof of the listener's it could check; what the
        // listener said stays out of the dialer's log too.
        #expect(dialer == .refuse(nil, reason: "refused by the listener"), "\(String(describing: dialer))")
    }

    /// A stranger's `hello` gets a nonce and nothing computed from the secret: no material to
    /// guess it offline.
    @Test func aStrangersHelloGetsNoProof() {
        var l = Wire.Handshake.Listener(credentials: credentials("n2"), nonce: nonce(2))
        let stranger = Wire.Handshake.Dialer(credentials: credentials("x", secret: "guess"), nonce: nonce(1))
        guard case .send(.challenge(let challenge)) = l.receive(stranger.hello) else {
            Issue.record("no challenge")
            return
        }
        #expect(challenge.nonce == nonce(2))
        var payload = ByteBuffer()
        _ = Wire.Message.challenge(challenge).encode(into: &payload)
        // Version, node id, address and nonce: nothing 32 bytes long but the nonce itself.
        #expect(payload.readableBytes < 2 + 2 + 2 + 64 + 4 + 32 + 8, "\(payload.readableBytes) bytes")
    }

    /// A listener that does not know the secret is refused by the dialer at `accept`.
    @Test func aForgedAcceptIsRefusedByTheDialer() {
        var d = Wire.Handshake.Dialer(credentials: credentials("n1"), nonce: nonce(1))
        var impostor = Wire.Handshake.Listener(credentials: credentials("n2", secret: "guess"), nonce: nonce(2))
        guard case .send(let challenge) = impostor.receive(d.hello), case .send(.proof) = d.receive(challenge) else {
            Issue.record("handshake did not reach the proof")
            return
        }
        let action = d.receive(.accept(proof: Array(repeating: 0, count: 32)))
        guard case .refuse(.reject(let reason)?, _) = action else {
            Issue.record("forged accept taken: \(action)")
            return
        }
        #expect(reason == "authentication failed")
    }

    @Test func aForgedProofIsRefusedByTheListener() {
        var l = Wire.Handshake.Listener(credentials: credentials("n2"), nonce: nonce(2))
        let d = Wire.Handshake.Dialer(credentials: credentials("n1"), nonce: nonce(1))
        _ = l.receive(d.hello)
        let action = l.receive(.proof(Wire.Handshake.Proof(proof: Array(repeating: 0, count: 32))))
        guard case .refuse(.reject(let reason)?, _) = action else {
            Issue.record("forged proof accepted: \(action)")
            return
        }
        #expect(reason == "authentication failed")
    }

    /// Another cluster is refused without echoing either cluster's name.
    @Test func anotherClusterIsRefusedWithoutItsName() {
        let (_, listener) = run(dialer: credentials("n1", cluster: "zebra-cluster"), listener: credentials("n2"))
        guard case .refuse(.reject(let told)?, let reason)? = listener else {
            Issue.record("other cluster accepted")
            return
        }
        #expect(told == "wrong cluster")
        for text in [told, reason] { #expect(!text.contains("zebra") && !text.contains("plume-local"), "\(text)") }
    }

    @Test func anotherMajorVersionIsRefused() {
        var l = Wire.Handshake.Listener(credentials: credentials("n2"), nonce: nonce(2))
        let hello = Wire.Handshake.Hello(
            versionMajor: Wire.versionMajor + 1,
            clusterName: "plume-local",
            nodeID: NodeID("n1")!,
            clusterAddress: NodeAddress(host: "127.0.0.1", port: 1),
            nonce: nonce(1)
        )
        guard case .refuse(.reject(let reason)?, _) = l.receive(.hello(hello)) else {
            Issue.record("other version accepted")
            return
        }
        #expect(reason.contains("wire version"))
    }

    @Test func trafficBeforeTheHandshakeIsRefused() {
        var l = Wire.Handshake.Listener(credentials: credentials("n2"), nonce: nonce(2))
        guard case .refuse = l.receive(.swim(.ping(sequence: 1, gossip: []))) else {
            Issue.record("ping accepted before handshake")
            return
        }
    }
}
