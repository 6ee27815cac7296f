import ClusterCore
import ClusterTestKit
import Testing

@Suite struct SWIMInstanceTests {
    func member(_ index: Int, status: SWIM.Status = .alive, incarnation: UInt64 = 1) -> SWIM.Member {
        SWIM.Member(
            id: NodeID("n\(index)")!,
            clusterAddress: NodeAddress(host: "127.0.0.1", port: 7100 + index),
            httpAddress: NodeAddress(host: "127.0.0.1", port: 8100 + index),
            status: status,
            incarnation: incarnation
        )
    }

    func peer(_ index: Int) -> SWIM.Peer { SWIM.Peer(id: member(index).id, address: member(index).clusterAddress) }

    /// An instance for n1 that already knows n2…n`count`.
    func instance(knowing count: Int, random: inout SplitMix64) -> SWIM.Instance {
        var swim = SWIM.Instance(myself: member(1), seeds: [member(1).clusterAddress])
        _ = swim.start(now: .zero, random: &random)
        let everyone = (1...count).map { member($0) }
        _ = swim.onMessage(.pushPull(members: everyone, isReply: true), from: peer(2), now: .zero, random: &random)
        return swim
    }

    @Test func aSeedOfItsOwnIsJoinedAtOnce() {
        var random = SplitMix64(seed: 1)
        var swim = SWIM.Instance(myself: member(1), seeds: [member(1).clusterAddress, member(2).clusterAddress])
        let directives = swim.start(now: .zero, random: &random)
        #expect(swim.isJoined)
        #expect(directives.contains(.joined))
        // It still contacts the other seed.
        #expect(directives.contains { if case .send(.pushPull, let to) = $0 { to == member(2).clusterAddress } else { false } })
    }

    @Test func aNonSeedJoinsWhenASeedAnswers() {
        var random = SplitMix64(seed: 1)
        var swim = SWIM.Instance(myself: member(3), seeds: [member(1).clusterAddress])
        _ = swim.start(now: .zero, random: &random)
        #expect(!swim.isJoined)
        let directives = swim.onMessage(
            .pushPull(members: [member(1), member(2)], isReply: true),
            from: peer(1),
            now: MonotonicTime(nanoseconds: 5_000_000),
            random: &random
        )
        #expect(swim.isJoined)
        #expect(directives.contains(.joined))
        #expect(swim.members.map(\.id.rawValue) == ["n1", "n2", "n3"])
    }

    @Test func aPingIsAnsweredWithAnAckOfTheSameSequence() {
        var random = SplitMix64(seed: 2)
        var swim = instance(knowing: 3, random: &random)
        let directives = swim.onMessage(.ping(sequence: 77, gossip: []), from: peer(2), now: .zero, random: &random)
        let acks = directives.compactMap { directive -> UInt64? in
            if case .send(.ack(let sequence, let from, _), let to) = directive, from == member(1).id,
                to == member(2).clusterAddress
            {
                return sequence
            }
            return nil
        }
        #expect(acks == [77])
    }

    @Test func aSuspicionAboutMyselfIsRefutedWithAHigherIncarnation() {
        var random = SplitMix64(seed: 3)
        var swim = instance(knowing: 3, random: &random)
        let claim = SWIM.Update(member: member(1, status: .suspect, incarnation: 1), origin: member(2).id)
        _ = swim.onMessage(.ping(sequence: 1, gossip: [claim]), from: peer(2), now: .zero, random: &random)
        #expect(swim.myself.incarnation == 2)
        #expect(swim.myself.status == .alive)
        // The refutation is gossiped on the next message.
        let directives = swim.onMessage(.ping(sequence: 2, gossip: []), from: peer(3), now: .zero, random: &random)
        let gossiped = directives.flatMap { directive -> [SWIM.Update] in
            if case .send(.ack(_, _, let gossip), _) = directive { return gossip }
            return []
        }
        #expect(gossiped.contains { $0.member.id == member(1).id && $0.member.incarnation == 2 && $0.member.status == .alive })
    }

    @Test func precedenceFollowsIncarnationThenStatus() {
        #expect(member(2, status: .alive, incarnation: 2).supersedes(member(2, status: .dead, incarnation: 1)))
        #expect(member(2, status: .suspect, incarnation: 1).supersedes(member(2, status: .alive, incarnation: 1)))
        #expect(!member(2, status: .alive, incarnation: 1).supersedes(member(2, status: .suspect, incarnation: 1)))
        #expect(member(2, status: .dead, incarnation: 1).supersedes(member(2, status: .suspect, incarnation: 1)))
        #expect(!member(2, status: .suspect, incarnation: 1).supersedes(member(2, status: .dead, incarnation: 1)))
    }

    @Test func anUnansweredProbeGoesIndirectThenSuspects() {
        var random = SplitMix64(seed: 4)
        var swim = instance(knowing: 6, random: &random)
        // First probe at the first period.
        var now = MonotonicTime.zero + swim.settings.probeInterval
        let first = swim.onTick(now: now, random: &random)
        guard case .send(.ping(let sequence, _), let targetAddress)? = first.first(where: {
            if case .send(.ping, _) = $0 { true } else { false }
        }) else {
            Issue.record("no probe sent: \(first)")
            return
        }
        // After the probe timeout, k = 3 others are asked to probe indirectly.
        now = now + swim.settings.probeTimeout
        let second = swim.onTick(now: now, random: &random)
        let relays = second.compactMap { directive -> NodeAddress? in
            if case .send(.pingRequest(let s, _, let target, _), let to) = directive, s == sequence,
                target == targetAddress
            {
                return to
            }
            return nil
        }
        #expect(relays.count == 3)
        #expect(!relays.contains(targetAddress))
        // At the end of the period with no ack, the target becomes suspect.
        now = MonotonicTime.zero + swim.settings.probeInterval * 2
        let third = swim.onTick(now: now, random: &random)
        #expect(third.contains { if case .memberChanged(let m, .alive) = $0 { m.status == .suspect } else { false } })
        // And after the suspicion timeout, dead.
        now = now + swim.settings.suspicionMax
        let fourth = swim.onTick(now: now, random: &random)
        #expect(fourth.contains { if case .memberChanged(let m, .suspect) = $0 { m.status == .dead } else { false } })
        let dead = swim.members.filter { $0.status == .dead }
        #expect(dead.count == 1 && dead[0].clusterAddress == targetAddress)
        #expect(!swim.servingMembers.contains(dead[0].id))
    }

    @Test func leavingTellsEveryServingMemberDirectly() {
        var random = SplitMix64(seed: 5)
        var swim = instance(knowing: 4, random: &random)
        let directives = swim.leave(now: .zero)
        let targets = Set(directives.compactMap { directive -> NodeAddress? in
            if case .send(.ping(_, let gossip), let to) = directive,
                gossip.contains(where: { $0.member.id == member(1).id && $0.member.status == .left })
            {
                return to
            }
            return nil
        })
        #expect(targets == Set((2...4).map { member($0).clusterAddress }))
        #expect(swim.myself.status == .left)
    }
}
