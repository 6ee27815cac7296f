import ClusterCore
import Synchronization
import Testing

@testable import ClusterRuntime

@Suite struct DurabilityGateTests {
    let me = NodeID("n1")!
    let peer = NodeID("n2")!

    /// The LSNs of the replies the gate shipped to other nodes, in order.
    final class Shipped: Sendable {
        let lsns = Mutex<[UInt64]>([])
        func withLock<T>(_ body: (inout [UInt64]) -> T) -> T { lsns.withLock { body(&$0) } }
    }

    func makeGate() -> (DurabilityGate, Shipped) {
        let shipped = Shipped()
        let gate = DurabilityGate(me: me) { messages in
            shipped.withLock { list in
                for outgoing in messages {
                    if case .appendReply(_, _, let lsn) = outgoing.message { list.append(lsn) }
                }
            }
        }
        return (gate, shipped)
    }

    func reply(_ lsn: UInt64, to node: NodeID) -> DurabilityGate.Outgoing {
        (
            shard: 0, message: .appendReply(epoch: Replication.Epoch(number: 1, node: "n2"), success: true, lsn: lsn),
            to: node
        )
    }

    func batch(_ sequence: UInt64, _ messages: [DurabilityGate.Outgoing], durable lsn: UInt64) -> DurabilityGate.Batch {
        .init(
            sequence: sequence,
            messages: messages,
            durableUpTo: [(shard: UInt32(0), mark: Replication.Durability.Mark(lsn: lsn, rewrites: 0))]
        )
    }

    @Test func aReplyLeavesOnlyOnceItsWriteIsReportedAndRepliesKeepTheirOrder() {
        let (gate, shipped) = makeGate()
        #expect(gate.hold(batch(1, [reply(10, to: peer)], durable: 10)).isEmpty)
        #expect(gate.hold(batch(2, [reply(11, to: peer), reply(11, to: me)], durable: 11)).isEmpty)
        #expect(gate.hold(batch(3, [reply(12, to: peer)], durable: 12)).isEmpty)
        #expect(shipped.withLock { $0 }.isEmpty)

        // Write 2 covers submissions 1 and 2, not 3.
        let released = gate.written(2)
        #expect(shipped.withLock { $0 } == [10, 11])
        #expect(released.messages.count == 1 && released.messages[0].to == me)
        #expect(released.durableUpTo.map(\.mark.lsn) == [10, 11])

        let rest = gate.written(3)
        #expect(shipped.withLock { $0 } == [10, 11, 12])
        #expect(rest.messages.isEmpty && rest.durableUpTo.map(\.mark.lsn) == [12])
    }

    @Test func aBatchAlreadyWrittenLeavesAtOnceUnlessAnEarlierOneStillWaits() {
        let (gate, shipped) = makeGate()
        // The log reported write 5 before the host held submission 5 (they race).
        #expect(gate.written(5).isEmpty)
        let now = gate.hold(batch(5, [reply(20, to: peer)], durable: 20))
        #expect(shipped.withLock { $0 } == [20])
        #expect(now.durableUpTo.map(\.mark.lsn) == [20])

        // Submission 6 waits; a later batch whose sequence is (wrongly) already covered waits behind it.
        #expect(gate.hold(batch(6, [reply(21, to: peer)], durable: 21)).isEmpty)
        #expect(gate.hold(batch(5, [reply(22, to: peer)], durable: 22)).isEmpty)
        #expect(shipped.withLock { $0 } == [20])
        #expect(gate.written(6).durableUpTo.map(\.mark.lsn) == [21, 22])
        #expect(shipped.withLock { $0 } == [20, 21, 22])
    }

    @Test func afterAFailedWriteNothingIsReleasedAgain() {
        let (gate, shipped) = makeGate()
        #expect(gate.hold(batch(1, [reply(1, to: peer)], durable: 1)).isEmpty)
        gate.halt()
        #expect(gate.written(1).isEmpty)
        #expect(gate.hold(batch(2, [reply(2, to: peer)], durable: 2)).isEmpty)
        #expect(gate.written(2).isEmpty)
        #expect(shipped.withLock { $0 }.isEmpty)
    }
}
