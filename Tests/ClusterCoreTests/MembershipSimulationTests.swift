import ClusterCore
import ClusterTestKit
import Testing

/// Seeded simulations of the membership protocol: no sockets, a simulated clock and network.
/// Every finding names the seed so a failure can be replayed. Each case computes for seconds: it
/// runs on a thread of its own (not one of the cooperative pool's, which the clustered tests'
/// nodes need), one case at a time, and its findings are checked on the test's task after.
@Suite(.serialized) struct MembershipSimulationTests {
    static let seeds: [UInt64] = [0x5eed_0001, 0x5eed_0002]

    /// What a simulation found wrong, collected on its thread.
    final class Findings {
        var failures: [String] = []

        func expect(_ holds: Bool, _ message: @autoclosure () -> String) {
            if !holds { record(message()) }
        }

        func record(_ message: String) { failures.append(message) }
    }

    /// Runs `body` on a thread of its own, then expects it to have found nothing wrong.
    static func simulate(_ body: @escaping @Sendable (Findings) -> Void) async throws {
        let failures = try await onOwnThread {
            let findings = Findings()
            body(findings)
            return findings.failures
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    static func converged(_ count: Int, seed: UInt64, _ findings: Findings) -> MembershipSimulation? {
        let simulation = MembershipSimulation(seed: seed)
        simulation.addNodes(count)
        let at = simulation.run(until: { $0.hasConverged }, limit: .seconds(60))
        findings.expect(at != nil, "seed \(seed): \(count) nodes did not converge in 60 s")
        return at == nil ? nil : simulation
    }

    @Test(arguments: seeds)
    func fiftyNodesConverge(seed: UInt64) async throws {
        try await Self.simulate { findings in
            _ = Self.converged(50, seed: seed, findings)
        }
    }

    @Test(arguments: seeds)
    func aCrashedNodeIsDeclaredDeadByEveryoneWithinTheBound(seed: UInt64) async throws {
        try await Self.simulate { findings in
            guard let simulation = Self.converged(50, seed: seed, findings) else { return }
            simulation.run(for: .seconds(5))
            simulation.crash(17)
            let bound = simulation.settings.failureDetectionBound(memberCount: 50)
            let start = simulation.now
            let at = simulation.run(until: { $0.everyoneSees(17, as: .dead) }, step: .milliseconds(10), limit: bound)
            findings.expect(at != nil, "seed \(seed): not everyone declared n17 dead within \(bound)")
            // Nobody else was declared dead on the way.
            let others = simulation.changes.filter { $0.at >= start && $0.status == .dead && $0.member != simulation.id(17) }
            findings.expect(others.isEmpty, "seed \(seed): false positives \(others.map(\.member))")
        }
    }

    @Test(arguments: seeds)
    func fivePercentLossDeclaresNobodyDeadInAThousandPeriods(seed: UInt64) async throws {
        try await Self.simulate { findings in
            guard let simulation = Self.converged(50, seed: seed, findings) else { return }
            let start = simulation.now
            simulation.network.lossProbability = 0.05
            simulation.run(for: simulation.settings.probeInterval * 1000)
            let deaths = simulation.changes.filter { $0.at >= start && ($0.status == .dead || $0.status == .left) }
            findings.expect(deaths.isEmpty, "seed \(seed): \(deaths.count) false deaths, first \(String(describing: deaths.first))")
            findings.expect(simulation.messagesDropped > 0, "seed \(seed): the network dropped nothing")
            findings.expect(simulation.hasConverged, "seed \(seed)")
        }
    }

    @Test(arguments: seeds)
    func aPartitionHeals(seed: UInt64) async throws {
        try await Self.simulate { findings in
            guard let simulation = Self.converged(20, seed: seed, findings) else { return }
            simulation.partition([Array(0..<10), Array(10..<20)])
            let split = simulation.run(
                until: { sim in (0..<10).allSatisfy { a in (10..<20).allSatisfy { sim.status(of: $0, seenBy: a) == .dead } } },
                limit: .seconds(60)
            )
            findings.expect(split != nil, "seed \(seed): the sides never declared each other dead")
            simulation.heal()
            let healed = simulation.run(until: { $0.hasConverged }, limit: .seconds(60))
            findings.expect(healed != nil, "seed \(seed): the partition did not heal within 60 s")
        }
    }

    @Test(arguments: seeds)
    func anUpdateReachesEveryNodeInLogarithmicPeriods(seed: UInt64) async throws {
        try await Self.simulate { findings in
            guard let simulation = Self.converged(50, seed: seed, findings) else { return }
            // Let the join storm's gossip drain so the measurement sees one fresh update.
            simulation.run(for: .seconds(60))
            let joiner = simulation.addNodes(1)[0]
            let start = simulation.now
            let at = simulation.run(
                until: { $0.everyoneSees(joiner, as: .alive) },
                step: .milliseconds(10),
                limit: .seconds(60)
            )
            guard let at else {
                findings.record("seed \(seed): the join never reached everyone")
                return
            }
            let periods = (at - start) / simulation.settings.probeInterval
            // log2(51) ≈ 5.7; allow a constant factor of 3 for piggyback capacity and latency.
            findings.expect(periods <= 18, "seed \(seed): took \(periods) periods")
        }
    }

    @Test(arguments: seeds)
    func aRestartedNodeIsAliveAgainWithAHigherIncarnation(seed: UInt64) async throws {
        try await Self.simulate { findings in
            guard let simulation = Self.converged(10, seed: seed, findings) else { return }
            let before = simulation.member(4, seenBy: 0)!.incarnation
            simulation.crash(4)
            let dead = simulation.run(until: { $0.everyoneSees(4, as: .dead) }, limit: .seconds(30))
            findings.expect(dead != nil, "seed \(seed)")
            simulation.restart(4)
            let back = simulation.run(until: { $0.hasConverged }, limit: .seconds(30))
            findings.expect(back != nil, "seed \(seed): the restarted node was not alive everywhere")
            for observer in simulation.upNodes where observer != 4 {
                findings.expect(simulation.member(4, seenBy: observer)!.incarnation > before, "seed \(seed)")
            }
        }
    }

    @Test(arguments: seeds)
    func aGracefulLeaveIsSeenAsLeftAtOnce(seed: UInt64) async throws {
        try await Self.simulate { findings in
            guard let simulation = Self.converged(10, seed: seed, findings) else { return }
            simulation.leave(6)
            let at = simulation.run(
                until: { $0.everyoneSees(6, as: .left) },
                step: .milliseconds(10),
                limit: simulation.settings.probeInterval * 2
            )
            findings.expect(at != nil, "seed \(seed): not everyone saw n6 leave within two periods")
            simulation.crash(6)
            simulation.run(for: .seconds(20))
            findings.expect(simulation.everyoneSees(6, as: .left), "seed \(seed): a left node must not turn dead")
        }
    }
}
