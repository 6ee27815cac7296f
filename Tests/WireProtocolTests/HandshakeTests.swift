import ClusterCore
import Testing
import WireProtocol

@Suite struct HandshakeTests {
    func credentials(_ id: String, cluster: String = "plume-local", secret: String = "s3cret") -> Wire.Handshake.Credentials {
        .init(clusterName: cluster, nodeID: NodeID(id)!, clusterAddress: NodeAddress(host: "127.0.0.1", port: 7000), secret: secret)
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
        guard case .established(let seenByDialer, nil)? = dialer, case .established(let seenByListener, .accept)? = listener
        else {
            Issue.record("not established: \(String(describing: dialer)) / \(String(describing: listener))")
            return
        }
        #expect(seenByDialer.nodeID == NodeID("n2"))
        #expect(seenByListener.nodeID == NodeID("n1"))
    }

    @Test func aWrongSecretIsRefusedByTheDialerBeforeItProvesAnything() {
        let (dialer, listener) = run(dialer: credentials("n1", secret: "wrong"), listener: credentials("n2"))
        guard case .refuse(.reject(let told)?, let reason)? = dialer else {
            Issue.record("dialer did not refuse: \(String(describing: dialer))")
            return
        }
        #expect(reason.contains("secret"))
        #expect(told == "authentication failed")
        #expect(listener == nil)
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

    @Test func anotherClusterIsRefused() {
        let (_, listener) = run(dialer: credentials("n1", cluster: "other"), listener: credentials("n2"))
        guard case .refuse(.reject(let reason)?, _)? = listener else {
            Issue.record("other cluster accepted")
            return
        }
        #expect(reason.contains("other"))
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
