import ClusterCore
import Foundation

/// A seeded simulation of one shard's replication across several nodes, with a nemesis.
///
/// Nodes crash and restart (keeping their durable state: promised epoch, promise history,
/// log, commit position), the network drops, duplicates, delays and reorders messages and
/// partitions the nodes, and each node's view of who is alive lags behind the truth, so two
/// nodes may both believe they should lead. Clients propose through whichever node leads.
///
/// Each node persists with the shell's own policy (``Replication/Durability``): durable changes
/// fill a batch while the previous batch is being written (group commit); messages wait for the
/// write of the batch they were made with, except a primary's appends, which leave at once (the
/// primary counts itself towards a quorum only once its write is done); a batch that would hold
/// only commit positions waits for the next one; and a written batch marks entries durable only
/// if the log was not rewritten below them meanwhile. A crash loses whatever was not written.
///
/// Nodes also compact their logs now and then (keeping their state machine's state as the base,
/// persisted like a snapshot), so lagging nodes and candidates catch up from another node's
/// base.
///
/// Now and then a node's data directory is emptied and it comes back under its id, as a new
/// node does (half the clusters also start that way): it recovers
/// (``Replication/Replica/beginRecovery(nonce:contacts:)``) before its word counts again, and
/// the shell's note that it must recover survives its crashes until it has. One node recovers
/// at a time (joins and wipes wait), and a node holding the only copy of a committed entry is
/// never wiped: either would lose data whatever the protocol does.
///
/// Membership changes too: new nodes join with nothing (placed anywhere in the shard's
/// preference, as the ring would), and nodes are decommissioned — taken out of the preference,
/// they stop for good once a primary serves an epoch whose replica set leaves them out, as a
/// node that hands its shards over on SIGTERM does.
///
/// A node applies committed entries only as far as they are durable on it, and serves (reads,
/// and decisions: proposals) only as the shell does — leading, its epoch's start entry
/// committed and durable here, and everything up to it applied. A nemesis step aims at one
/// persistence point: it crashes a primary whose own write of its start entry is still under
/// way (its followers may have committed the epoch already).
///
/// In half the runs replicas grant read leases (``Replication/Replica/leaseTicks``) and a primary
/// answers reads under its lease without a round; a nemesis step may leave a cut-off side
/// unaware of the cut for a while (its view frozen), so a deposed primary keeps serving.
///
/// Checked on every step: a committed LSN never holds two different entries anywhere, no
/// epoch is led twice — by two nodes, or by one node before and after a restart —, every read
/// at a serving primary sees every write acknowledged in its epoch or before, every read its
/// read round confirms saw every write acknowledged anywhere (by newer epochs too) when it was
/// made, every read answered under a lease saw every write acknowledged anywhere, and every
/// acknowledged write was decided on a state that held every write
/// acknowledged before it. Checked at the end, after healing: every acknowledged write is
/// in the committed log at the LSN it was acknowledged at, and every node's state machine holds
/// exactly the committed commands up to its commit position.
public final class ReplicationSimulation {
    public struct Violation: Error, CustomStringConvertible {
        public let seed: UInt64
        public let message: String
        public var description: String { "seed \(seed): \(message)" }
    }

    struct SimNode {
        var replica: Replication.Replica
        /// What the node has persisted: replayed from the replica's durable changes only.
        var persisted = Replication.Replica.Durable()
        /// The batch filling up: durable changes not written yet, what they make durable, and the
        /// messages waiting for their write.
        var pending: [Replication.Replica.DurableChange] = []
        var pendingMarks: [Replication.Durability.Mark] = []
        var held: [(message: Replication.Message, to: Int)] = []
        /// The batch being written, if any (it completes at the node's next `write` event).
        var writing: Batch?
        var writeScheduled = false
        /// Which entries are durable here, as the shell tracks it.
        var durability = Replication.Durability(lastLSN: 0)
        var isUp = true
        /// Decommissioned and stopped for good.
        var isRemoved = false
        var life = 0
        var view: Set<NodeID>
        var candidacyStartedAt: MonotonicTime?
        var candidacyTimeout: Duration = .milliseconds(300)
        /// The state machine: every committed command applied, as (lsn, value).
        var machine: [(lsn: UInt64, value: UInt64)] = []
        /// Committed entries up to here are applied to `machine`: as in the shell, only as far
        /// as they are durable here too.
        var applied: UInt64 = 0
        /// The shell's durable note that the node must recover (its state was new or wiped and
        /// it has not recovered since): a restart recovers again.
        var mustRecover = false
        /// The node's view does not change before this (a failure detector that lags).
        var viewFrozenUntil = MonotonicTime.zero
    }

    struct Batch {
        var changes: [Replication.Replica.DurableChange]
        var marks: [Replication.Durability.Mark]
        var held: [(message: Replication.Message, to: Int)]
    }

    enum Event {
        case deliver(Replication.Message, from: NodeID, to: Int, life: Int)
        /// The node's batch being written completes, and the next one starts.
        case write(node: Int, life: Int)
    }

    public let seed: UInt64
    public let replication: Int
    private var random: SplitMix64
    private var nodes: [SimNode] = []
    private var ids: [NodeID] = []
    private var preference: [NodeID] = []
    private var queue = EventQueue<Event>()
    private var groups: [Int] = []
    public private(set) var now = MonotonicTime.zero

    public var lossProbability = 0.0
    public var duplicateProbability = 0.0
    public var latency: ClosedRange<Int> = 1...10  // milliseconds
    /// The chance per step that a node compacts its committed log.
    public var compactionProbability = 0.03
    public private(set) var compactions = 0
    public private(set) var installs = 0
    /// The most nodes the nemesis lets exist at once (joins stop there).
    public var nodeCountMax = 7
    public private(set) var joins = 0
    public private(set) var removals = 0
    /// The node being decommissioned, if any.
    private var leaving: Int?
    /// Whether a node that lost its state recovers (``Replication/Replica/beginRecovery(nonce:contacts:)``)
    /// before its word counts again, as the shell makes it; without, it comes back as if it
    /// never held anything (to show what recovery prevents).
    public var recoversLostState = true
    /// The chance that a nemesis step wipes a node's durable state (an emptied data directory).
    public var wipeProbability = 0.1
    public private(set) var wipes = 0
    public private(set) var recoveries = 0
    private var nextNonce: UInt64 = 1

    /// Every committed LSN, as first committed anywhere.
    public private(set) var committed: [UInt64: Replication.Entry] = [:]
    /// Writes whose proposer saw them committed: (lsn, value).
    public private(set) var acknowledged: [(lsn: UInt64, value: UInt64)] = []
    /// The highest acknowledged LSN among writes proposed in each epoch.
    private var acknowledgedUpTo: [Replication.Epoch: UInt64] = [:]
    /// The highest acknowledged LSN of all.
    private var acknowledgedMax: UInt64 = 0
    /// Proposals waiting for their outcome, with the state they were decided on: the machine
    /// applied up to `decidedOn`, when every write acknowledged so far was at or below
    /// `acknowledgedThen`.
    private var inFlight:
        [Int: [(epoch: Replication.Epoch, lsn: UInt64, value: UInt64, decidedOn: UInt64, acknowledgedThen: UInt64)]] =
            [:]
    public private(set) var reads = 0
    /// Reads whose read round confirmed them (only those are answered).
    public private(set) var readsConfirmed = 0
    /// Reads made at a deposed primary that had not heard of it, on a state lacking a write a
    /// newer epoch acknowledged: answered, they would have been stale; their rounds must never
    /// be confirmed.
    public private(set) var staleReadsHeldBack = 0
    /// Reads answered at once under the primary's read lease.
    public private(set) var leaseReads = 0
    private var leases: [Int: (epoch: Replication.Epoch, until: MonotonicTime)] = [:]
    private var roundsStartedAt: [Int: [UInt64: MonotonicTime]] = [:]
    /// Reads waiting for their read round, per node: the epoch and round, the state they read
    /// (applied up to), and the highest write acknowledged anywhere when they were made.
    private var pendingReads: [Int: [(epoch: Replication.Epoch, round: UInt64, applied: UInt64, mustSee: UInt64)]] =
        [:]
    public private(set) var primaryCrashesBeforeStartWrite = 0
    /// … of which the epoch's start entry was committed by the followers already.
    public private(set) var primaryCrashesAfterFollowersCommitted = 0
    /// Who began each epoch, in which life (a node's lives are separated by crashes).
    private var leaders: [Replication.Epoch: (node: NodeID, life: Int)] = [:]
    private var nextValue: UInt64 = 1
    public private(set) var violations: [String] = []
    public private(set) var messagesSent = 0

    public init(seed: UInt64, nodeCount: Int = 5, replication: Int = 3) {
        self.seed = seed
        self.replication = replication
        random = SplitMix64(seed: seed)
        ids = (0..<nodeCount).map { NodeID("r\($0)")! }
        // The placement preference of this shard over the configured nodes, as the ring would give it.
        preference = ids.shuffled(using: &random)
        leaseTicks = Bool.random(using: &random) ? 20 : 0
        let genesis = Array(preference.prefix(replication))
        nodes = ids.map {
            SimNode(
                replica: Self.replica(me: $0, genesis: genesis, durable: nil, leaseTicks: leaseTicks),
                view: Set(ids)
            )
        }
        groups = Array(repeating: 0, count: nodeCount)
        // Half the clusters start as the shell starts a new one: every node recovers first.
        if Bool.random(using: &random) {
            for index in nodes.indices { beginRecovery(index) }
        }
    }

    // MARK: - Running

    /// Runs the nemesis for `duration`, then heals everything and checks that the cluster
    /// recovers and kept every acknowledged write.
    public func run(chaos duration: Duration) throws(Violation) {
        let chaosEnd = now + duration
        var nextNemesis = now + .milliseconds(Int64.random(in: 50...200, using: &random))
        lossProbability = Double.random(in: 0...0.1, using: &random)
        duplicateProbability = Double.random(in: 0...0.05, using: &random)
        while now < chaosEnd {
            step(clients: true)
            if now >= nextNemesis {
                nemesis()
                nextNemesis = now + .milliseconds(Int64.random(in: 50...300, using: &random))
            }
            try check()
        }
        // Heal: everyone up (but the decommissioned), connected, no loss; views catch up.
        for index in nodes.indices where !nodes[index].isUp && !nodes[index].isRemoved { restart(index) }
        groups = Array(repeating: 0, count: nodes.count)
        lossProbability = 0
        duplicateProbability = 0
        let deadline = now + .seconds(10)
        var sentinel: (node: Int, lsn: UInt64, epoch: Replication.Epoch)?
        var debugNext = now
        while now < deadline {
            if now >= debugNext {
                debugNext = now + .milliseconds(500)
                debug("healing: \(summary)")
            }
            step(clients: false)
            try check()
            if let (node, lsn, epoch) = sentinel {
                if nodes[node].replica.primaryEpoch != epoch {
                    sentinel = nil
                } else if nodes[node].replica.commitLSN >= lsn {
                    try finalCheck()
                    return
                }
            } else if let leader = nodes.indices.first(where: {
                nodes[$0].replica.isPrimary && nodes[$0].replica.primaryReplicas == designated(by: $0)
            }) {
                var replica = nodes[leader].replica
                if let (lsn, directives) = try? replica.propose(Self.bytes(0)) {
                    nodes[leader].replica = replica
                    sentinel = (leader, lsn, replica.primaryEpoch!)
                    carryOut(directives, node: leader)
                }
            }
        }
        throw Violation(seed: seed, message: "no primary committed a write within 10 s after healing; \(summary)")
    }

    /// Read leases of 20 ticks (200 ms), in half the runs; a primary uses 80% of it from the
    /// start of the round.
    public private(set) var leaseTicks: UInt64 = 0
    var leaseServed: Duration { .milliseconds(Int64(leaseTicks) * 8) }

    /// A replica that retransmits after 3 silent ticks (30 ms), heartbeats after 10 and grants
    /// read leases of `leaseTicks`.
    static func replica(
        me: NodeID,
        genesis: [NodeID],
        durable: Replication.Replica.Durable?,
        leaseTicks: UInt64
    ) -> Replication.Replica {
        var replica =
            durable.map { Replication.Replica(me: me, genesis: genesis, durable: $0) }
            ?? Replication.Replica(me: me, genesis: genesis)
        replica.retransmitTicks = 3
        replica.heartbeatTicks = 10
        replica.leaseTicks = leaseTicks
        return replica
    }

    static func bytes(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    static func value(_ payload: Replication.Payload) -> UInt64? {
        guard case .command(let bytes) = payload, bytes.count == 8 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Advances 10 ms: deliveries, view updates, ticks, candidacies and client proposals.
    private func step(clients: Bool) {
        let end = now + .milliseconds(10)
        while let next = queue.nextTime, next <= end {
            guard let (at, event) = queue.pop() else { break }
            now = at
            switch event {
            case .deliver(let message, let from, let to, let life):
                guard nodes[to].isUp, nodes[to].life == life else { continue }
                var replica = nodes[to].replica
                let directives = replica.onMessage(message, from: from)
                nodes[to].replica = replica
                carryOut(directives, node: to)
            case .write(let index, let life):
                guard nodes[index].isUp, nodes[index].life == life else { continue }
                nodes[index].writeScheduled = false
                write(index)
            }
        }
        now = end
        retireIfHandedOver()
        for index in nodes.indices where nodes[index].isUp {
            // Views lag the truth: each node learns the reachable set now and then.
            if Double.random(in: 0..<1, using: &random) < 0.3, now >= nodes[index].viewFrozenUntil {
                nodes[index].view = Set(
                    nodes.indices.filter { nodes[$0].isUp && groups[$0] == groups[index] }.map { ids[$0] }
                )
            }
            if Double.random(in: 0..<1, using: &random) < compactionProbability { compact(index) }
            var replica = nodes[index].replica
            var directives = replica.onTick()
            let wanted = designated(by: index)
            if wanted.first == ids[index], !(replica.isPrimary && replica.primaryReplicas == wanted) {
                let started = nodes[index].candidacyStartedAt
                if !replica.isCandidate || started.map({ now - $0 > nodes[index].candidacyTimeout }) ?? true {
                    directives += replica.startCandidacy(replicas: wanted)
                    nodes[index].candidacyStartedAt = now
                    nodes[index].candidacyTimeout = .milliseconds(Int64.random(in: 150...450, using: &random))
                }
            }
            nodes[index].replica = replica
            carryOut(directives, node: index)
            if serves(index) { read(at: index) }
            if clients, serves(index), Double.random(in: 0..<1, using: &random) < 0.5 {
                propose(at: index)
            }
            // A chosen persistence point: a primary whose followers may already have committed
            // its epoch while its own write of the start entry is still under way.
            if clients, let start = nodes[index].replica.servingFromLSN, nodes[index].replica.persistedLSN < start,
                nodes.indices.count(where: { nodes[$0].isUp }) > 1,
                Double.random(in: 0..<1, using: &random) < (nodes[index].replica.commitLSN >= start ? 0.7 : 0.05)
            {
                primaryCrashesBeforeStartWrite += 1
                if nodes[index].replica.commitLSN >= start { primaryCrashesAfterFollowersCommitted += 1 }
                let followers = Set((nodes[index].replica.primaryReplicas ?? []).filter { $0 != ids[index] })
                crash(index)
                if Double.random(in: 0..<1, using: &random) < 0.5 {
                    // … and it comes back at once, cut off from the followers of the epoch it
                    // led: it campaigns again with the other nodes.
                    restart(index)
                    groups = nodes.indices.map { followers.contains(ids[$0]) ? 1 : 0 }
                }
            }
        }
    }

    /// Whether the node serves as the shell would let it: it leads, its epoch's start entry is
    /// committed and durable here, and its machine has applied everything up to it.
    private func serves(_ index: Int) -> Bool {
        guard nodes[index].isUp, nodes[index].replica.isServing, let start = nodes[index].replica.servingFromLSN
        else { return false }
        return nodes[index].applied >= start
    }

    /// A read at a serving primary, as the shell makes it: on the state applied now, answered
    /// once a read round started after it is confirmed. The state must hold the last write
    /// acknowledged in the primary's epoch or an earlier one (checked now), and — once the
    /// round confirms it — the last write acknowledged anywhere when the read was made: a
    /// deposed primary that does not know it yet must not answer from its old state.
    private func read(at index: Int) {
        reads += 1
        guard let epoch = nodes[index].replica.primaryEpoch else { return }
        let applied = nodes[index].applied
        if leaseTicks > 0, let lease = leases[index], lease.epoch == epoch, now < lease.until {
            // Under a read lease, answered at once: it must hold every write acknowledged anywhere.
            leaseReads += 1
            if applied < acknowledgedMax {
                violations.append(
                    "\(ids[index]) (epoch \(epoch)) answered a read under its lease from a state applied up to lsn "
                        + "\(applied), before the write at lsn \(acknowledgedMax) acknowledged (by a newer epoch)"
                )
            }
            return
        }
        let mustSeeHere = acknowledgedUpTo.filter { $0.key <= epoch }.values.max() ?? 0
        if applied < mustSeeHere {
            violations.append(
                "\(ids[index]) (epoch \(epoch)) serves a read from a state applied up to lsn \(applied), "
                    + "before the acknowledged write at lsn \(mustSeeHere)"
            )
        }
        if applied < acknowledgedMax { staleReadsHeldBack += 1 }
        var replica = nodes[index].replica
        guard let (round, directives) = try? replica.startReadRound() else { return }
        roundsStartedAt[index, default: [:]][round] = now
        nodes[index].replica = replica
        pendingReads[index, default: []].append((epoch, round, applied, acknowledgedMax))
        carryOut(directives, node: index)
    }

    /// The reads at the node up to `round` of `epoch` are answered: each must have seen every
    /// write acknowledged when it was made.
    private func confirmReads(at index: Int, epoch: Replication.Epoch, round: UInt64) {
        if let started = roundsStartedAt[index]?[round] {
            let until = started + leaseServed
            if leases[index]?.epoch != epoch || leases[index]!.until < until { leases[index] = (epoch, until) }
            roundsStartedAt[index] = roundsStartedAt[index]?.filter { $0.key > round }
        }
        pendingReads[index]?.removeAll { read in
            guard read.epoch == epoch, read.round <= round else { return false }
            readsConfirmed += 1
            if read.applied < read.mustSee {
                violations.append(
                    "\(ids[index]) (epoch \(epoch)) answered a read from a state applied up to lsn \(read.applied), "
                        + "before the write at lsn \(read.mustSee) acknowledged (by a newer epoch) when it was made"
                )
            }
            return true
        }
    }

    /// Compacts the node's applied log into its machine's state and persists that (a snapshot).
    private func compact(_ index: Int) {
        let replica = nodes[index].replica
        guard nodes[index].applied > replica.baseLSN else { return }
        nodes[index].replica.compact(upTo: nodes[index].applied, state: Self.encode(nodes[index].machine))
        // A snapshot covers everything the node did so far; the batches still complete (their
        // messages and durability news follow) but have nothing left to write.
        nodes[index].persisted = nodes[index].replica.durable
        nodes[index].pending = []
        nodes[index].writing?.changes = []
        compactions += 1
    }

    static func encode(_ machine: [(lsn: UInt64, value: UInt64)]) -> [UInt8] {
        machine.flatMap { bytes($0.lsn) + bytes($0.value) }
    }

    static func decode(_ state: [UInt8]) -> [(lsn: UInt64, value: UInt64)] {
        func word(_ at: Int) -> UInt64 { state[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        return stride(from: 0, to: state.count, by: 16).map { (word($0), word($0 + 8)) }
    }

    private func designated(by index: Int) -> [NodeID] {
        Array(preference.filter { nodes[index].view.contains($0) }.prefix(replication))
    }

    private func propose(at index: Int) {
        var replica = nodes[index].replica
        let value = nextValue
        nextValue += 1
        guard let (lsn, directives) = try? replica.propose(Self.bytes(value)) else { return }
        inFlight[index, default: []].append((replica.primaryEpoch!, lsn, value, nodes[index].applied, acknowledgedMax))
        nodes[index].replica = replica
        carryOut(directives, node: index)
    }

    /// The batch being written completes (its changes are persisted, the messages that waited
    /// for it leave, and the entries it marks are durable unless the log was rewritten since),
    /// and the batch that filled meanwhile starts (unless it holds only commit positions: those
    /// wait for the next one).
    private func write(_ index: Int) {
        if let batch = nodes[index].writing {
            nodes[index].writing = nil
            for change in batch.changes { nodes[index].persisted.apply(change) }
            for (message, to) in batch.held { send(message, from: index, to: to) }
            for mark in batch.marks {
                guard nodes[index].isUp, let durable = nodes[index].durability.written(mark) else { continue }
                carryOut(nodes[index].replica.onPersisted(upTo: durable), node: index)
            }
            forgetRecoveryIfWritten(index)
        }
        guard nodes[index].isUp, nodes[index].writing == nil else { return }
        let deferred = Replication.Durability.mayWaitForNextWrite(nodes[index].pending)
        guard !nodes[index].held.isEmpty || !nodes[index].pendingMarks.isEmpty || !deferred else { return }
        nodes[index].writing = Batch(
            changes: deferred ? [] : nodes[index].pending,
            marks: nodes[index].pendingMarks,
            held: nodes[index].held
        )
        if !deferred { nodes[index].pending = [] }
        nodes[index].pendingMarks = []
        nodes[index].held = []
        scheduleWrite(index)
    }

    private func carryOut(_ directives: [Replication.Directive], node index: Int) {
        // Durable changes are written a little later; messages wait for that write, except a
        // primary's appends.
        let changes = nodes[index].replica.takeDurableChanges()
        nodes[index].pending += changes
        // As the shell does: an installed base's rewrite is noted before the entries after it.
        for case .installed(let base) in directives {
            nodes[index].durability.installed(baseLSN: base.lsn, lastLSN: nodes[index].replica.lastLSN)
        }
        if let mark = nodes[index].durability.queue(changes) { nodes[index].pendingMarks.append(mark) }
        for directive in directives {
            switch directive {
            case .send(let message, let to):
                if Replication.Durability.leavesBeforeWrite(message) {
                    if case .append = message { noteLeadership(index, sent: true) }
                    send(message, from: index, to: ids.firstIndex(of: to)!)
                } else {
                    nodes[index].held.append((message, ids.firstIndex(of: to)!))
                }
            case .installed(let base):
                nodes[index].machine = Self.decode(base.state)
                nodes[index].applied = base.lsn
                installs += 1
            case .commit(let entries):
                if let last = entries.last { debug("\(ids[index]) commits up to \(last.lsn) (\(last.epoch))") }
                for entry in entries {
                    if let existing = committed[entry.lsn], existing != entry {
                        violations.append(
                            "lsn \(entry.lsn) committed as \(existing) and as \(entry) (at \(ids[index]))"
                        )
                    } else {
                        committed[entry.lsn] = entry
                    }
                }
            case .becamePrimary(let epoch):
                debug(
                    "\(ids[index]) leads \(epoch) from lsn \(nodes[index].replica.lastLSN) commit \(nodes[index].replica.commitLSN) recovering \(nodes[index].replica.isRecovering) \(nodes[index].replica.primaryReplicas ?? [])"
                )
                nodes[index].candidacyStartedAt = nil
            case .steppedDown:
                // Proposals in flight have unknown outcomes now: never acknowledged; reads waiting
                // for a round fail (never answered).
                inFlight[index] = nil
                pendingReads[index] = nil
            case .readConfirmed(let epoch, let round):
                confirmReads(at: index, epoch: epoch, round: round)
            case .recovered:
                recoveries += 1
                debug(
                    "\(ids[index]) recovered: promised \(nodes[index].replica.promised) last \(nodes[index].replica.lastLSN) commit \(nodes[index].replica.commitLSN)"
                )
            }
        }
        forgetRecoveryIfWritten(index)
        noteLeadership(index)
        applyCommitted(index)
        let mustWrite =
            !nodes[index].held.isEmpty || !nodes[index].pendingMarks.isEmpty
            || !Replication.Durability.mayWaitForNextWrite(nodes[index].pending)
        if mustWrite && !nodes[index].writeScheduled { scheduleWrite(index) }
    }

    /// Records who leads the node's epoch once the leadership left a trace: its start entry is
    /// durable there, or one of its appends left the node. A leadership that ended in a crash
    /// before either happened is known to nobody, and leading the same epoch again after the
    /// restart is no second leadership.
    private func noteLeadership(_ index: Int, sent: Bool = false) {
        let replica = nodes[index].replica
        guard let epoch = replica.primaryEpoch, let start = replica.servingFromLSN,
            sent || replica.persistedLSN >= start,
            leaders[epoch].map({ $0 != (ids[index], nodes[index].life) }) ?? true
        else { return }
        if let other = leaders[epoch] {
            violations.append(
                "epoch \(epoch) led by \(other.node) (life \(other.life)) and \(ids[index]) (life \(nodes[index].life))"
            )
        }
        leaders[epoch] = (ids[index], nodes[index].life)
    }

    /// Applies the committed entries that are durable here, in order, as the shell does; the
    /// proposer acknowledges a write when it applies it in the epoch it proposed it in, and
    /// checks that the write was decided on a state that held every write acknowledged then.
    private func applyCommitted(_ index: Int) {
        let upTo = min(nodes[index].replica.commitLSN, nodes[index].durability.durableLSN)
        guard nodes[index].isUp, upTo > nodes[index].applied else { return }
        for lsn in (nodes[index].applied + 1)...upTo {
            let entry = nodes[index].replica.entry(at: lsn)!
            if let value = Self.value(entry.payload) { nodes[index].machine.append((lsn, value)) }
        }
        nodes[index].applied = upTo
        inFlight[index]?.removeAll { pending in
            guard pending.lsn <= upTo else { return false }
            if let entry = nodes[index].replica.entry(at: pending.lsn), entry.epoch == pending.epoch,
                Self.value(entry.payload) == pending.value
            {
                acknowledged.append((pending.lsn, pending.value))
                acknowledgedUpTo[pending.epoch] = max(acknowledgedUpTo[pending.epoch] ?? 0, pending.lsn)
                acknowledgedMax = max(acknowledgedMax, pending.lsn)
                if pending.decidedOn < pending.acknowledgedThen {
                    violations.append(
                        "\(ids[index]) decided the write at lsn \(pending.lsn) on a state applied up to lsn "
                            + "\(pending.decidedOn), before the acknowledged write at lsn \(pending.acknowledgedThen)"
                    )
                }
            }
            return true
        }
    }

    /// The node's next `write` event: mostly soon, sometimes after a slow disk (a primary's
    /// appends then arrive and are acknowledged long before its own write completes).
    private func scheduleWrite(_ index: Int) {
        guard !nodes[index].writeScheduled else { return }
        nodes[index].writeScheduled = true
        let slow = Double.random(in: 0..<1, using: &random) < 0.2
        let delay = Duration.microseconds(Int64.random(in: slow ? 4000...40000 : 100...4000, using: &random))
        queue.push(.write(node: index, life: nodes[index].life), at: now + delay)
    }

    /// The shell's note that the node must recover goes once it recovered and everything it
    /// took is written.
    private func forgetRecoveryIfWritten(_ index: Int) {
        guard nodes[index].mustRecover, !nodes[index].replica.isRecovering, nodes[index].pending.isEmpty,
            nodes[index].writing == nil
        else { return }
        nodes[index].mustRecover = false
    }

    /// With `PLUME_SIM_DEBUG` set, prints a trace: crashes, wipes, restarts, leaderships,
    /// commits, recoveries, and the nodes' states while healing.
    private func debug(_ text: @autoclosure () -> String) {
        if Self.tracing { print("\(now) \(text())") }
    }

    /// Read once: the environment is a fresh dictionary on every call, and `debug` runs per commit.
    private static let tracing = ProcessInfo.processInfo.environment["PLUME_SIM_DEBUG"] != nil

    /// Whether every committed entry is written on another node too: wiping the only copy
    /// (a shard that ran on one replica for a while) loses it whatever the protocol does.
    private func isNotTheOnlyCopy(_ index: Int) -> Bool {
        committed.keys.allSatisfy { lsn in
            nodes.indices.contains { other in
                other != index && !nodes[other].isRemoved
                    && (nodes[other].persisted.base.map { $0.lsn >= lsn } ?? false
                        || nodes[other].persisted.log.contains { $0.lsn == lsn && $0 == committed[lsn] })
            }
        }
    }

    private func beginRecovery(_ index: Int) {
        nodes[index].mustRecover = true
        var replica = nodes[index].replica
        // As the shell does: every member of the cluster is a contact.
        let directives = replica.beginRecovery(nonce: nextNonce, contacts: ids)
        nextNonce += 1
        nodes[index].replica = replica
        carryOut(directives, node: index)
    }

    /// The node's data directory is emptied while it is down, and it comes back under its id:
    /// it held replicas, promises and acknowledgements it no longer knows of. One at a time:
    /// while a node recovers, no other is wiped (two wiped copies of a 3-replica shard are lost
    /// data whatever the protocol does).
    private func wipe(_ index: Int) {
        if nodes[index].isUp { crash(index) }
        nodes[index].persisted = Replication.Replica.Durable()
        wipes += 1
        debug("\(ids[index]) wiped")
        restart(index)
        if !recoversLostState { nodes[index].mustRecover = false }
    }

    private func send(_ message: Replication.Message, from: Int, to: Int) {
        messagesSent += 1
        guard groups[from] == groups[to] else { return }
        var copies = 1
        if Double.random(in: 0..<1, using: &random) < lossProbability { copies = 0 }
        if Double.random(in: 0..<1, using: &random) < duplicateProbability { copies += 1 }
        for _ in 0..<copies {
            let delay = Duration.milliseconds(
                Int64.random(in: Int64(latency.lowerBound)...Int64(latency.upperBound), using: &random)
            )
            queue.push(.deliver(message, from: ids[from], to: to, life: nodes[to].life), at: now + delay)
        }
    }

    private func nemesis() {
        let up = nodes.indices.filter { nodes[$0].isUp }
        let down = nodes.indices.filter { !nodes[$0].isUp && !nodes[$0].isRemoved }
        // Without recovery one wipe per run: a node left recovering marks the one under way.
        if Double.random(in: 0..<1, using: &random) < wipeProbability, !nodes.contains(where: \.mustRecover),
            recoversLostState || wipes == 0,
            let victim = nodes.indices.filter({ !nodes[$0].isRemoved && $0 != leaving && isNotTheOnlyCopy($0) })
                .randomElement(using: &random)
        {
            if recoversLostState { nodes[victim].mustRecover = true }
            wipe(victim)
            return
        }
        switch Int.random(in: 0..<8, using: &random) {
        case 0, 1:
            if up.count > 1, let victim = up.randomElement(using: &random) { crash(victim) }
        case 2:
            if let back = down.randomElement(using: &random) { restart(back) }
        case 3:
            let side = Set(nodes.indices.shuffled(using: &random).prefix(Int.random(in: 1...2, using: &random)))
            groups = nodes.indices.map { side.contains($0) ? 1 : 0 }
            if Bool.random(using: &random) {
                // The cut-off side does not notice for a while (its failure detector lags): a
                // primary there goes on serving reads while the others elect a new one.
                for index in side { nodes[index].viewFrozenUntil = now + .milliseconds(400) }
            }
        case 4:
            groups = Array(repeating: 0, count: nodes.count)
        case 5:
            // A new node recovers like a wiped one (nothing tells them apart): one at a time.
            if nodes.count < nodeCountMax, !nodes.contains(where: \.mustRecover) { join() }
        case 6:
            // One at a time, and never below a full replica set of nodes that are not leaving.
            let staying = nodes.indices.filter { !nodes[$0].isRemoved }
            if leaving == nil, staying.count > replication, let victim = up.randomElement(using: &random) {
                leaving = victim
                preference.removeAll { $0 == ids[victim] }
            }
        default:
            latency = 1...Int.random(in: 2...40, using: &random)
        }
    }

    /// A new node with nothing on disk, placed anywhere in the shard's preference.
    private func join() {
        let id = NodeID("r\(nodes.count)")!
        let index = nodes.count
        ids.append(id)
        groups.append(0)
        preference.insert(id, at: Int.random(in: 0...preference.count, using: &random))
        let genesis = nodes[0].replica.genesis.replicas
        let view = Set(nodes.indices.filter { nodes[$0].isUp && groups[$0] == 0 }.map { ids[$0] } + [id])
        nodes.append(
            SimNode(replica: Self.replica(me: id, genesis: genesis, durable: nil, leaseTicks: leaseTicks), view: view)
        )
        precondition(nodes.count == index + 1)
        joins += 1
        // As the shell starts a node with a new data directory.
        if recoversLostState { beginRecovery(index) }
    }

    /// Stops the leaving node for good once the newest epoch anyone has promised is served by
    /// its primary with a replica set that leaves the node out (a stale primary of an older
    /// epoch serving without it proves nothing).
    private func retireIfHandedOver() {
        guard let index = leaving else { return }
        let staying = nodes.filter { !$0.isRemoved }
        let newest = staying.map(\.replica.durable.promised).max()
        let handedOver = nodes.contains { node in
            node.isUp && node.replica.isServing && node.replica.primaryEpoch == newest
                && node.replica.primaryReplicas.map { !$0.contains(ids[index]) } ?? false
        }
        // … and every running node's log has reached that epoch: none still ends in an epoch
        // whose replica set (a future candidate's "previous" set) holds the leaving node.
        let caughtUp = staying.allSatisfy { node in
            !node.isUp || node.replica.entry(at: node.replica.lastLSN).map { $0.epoch == newest } ?? false
        }
        guard handedOver, caughtUp else { return }
        crash(index)
        nodes[index].isRemoved = true
        leaving = nil
        removals += 1
    }

    private func crash(_ index: Int) {
        debug("\(ids[index]) crashed")
        // A node already down (crashed, then decommissioned) lost its memory at its crash.
        var written = nodes[index].persisted
        for change in (nodes[index].writing?.changes ?? []) + nodes[index].pending { written.apply(change) }
        if nodes[index].isUp && written != nodes[index].replica.durable {
            let durable = nodes[index].replica.durable
            violations.append(
                "\(ids[index])'s persisted and pending changes do not rebuild its durable state: promised \(written.promised == durable.promised), history \(written.history == durable.history), base \(written.base == durable.base), log \(written.log.count)/\(durable.log.count) \(written.log == durable.log), commit \(written.commitLSN)/\(durable.commitLSN); writing \(nodes[index].writing?.changes.count ?? -1), pending \(nodes[index].pending.count)"
            )
        }
        // What was not written is lost.
        nodes[index].pending = []
        nodes[index].pendingMarks = []
        nodes[index].held = []
        nodes[index].writing = nil
        nodes[index].writeScheduled = false
        nodes[index].isUp = false
        nodes[index].life += 1
        inFlight[index] = nil
        pendingReads[index] = nil
        leases[index] = nil
        roundsStartedAt[index] = nil
    }

    private func restart(_ index: Int) {
        debug("\(ids[index]) restarted")
        nodes[index].isUp = true
        nodes[index].life += 1
        // Only what was persisted survives the crash.
        let replica = Self.replica(
            me: ids[index],
            genesis: nodes[index].replica.genesis.replicas,
            durable: nodes[index].persisted,
            leaseTicks: leaseTicks
        )
        nodes[index].replica = replica
        nodes[index].durability = Replication.Durability(lastLSN: replica.lastLSN)
        nodes[index].machine =
            Self.decode(replica.base?.state ?? [])
            + replica.committedEntries.compactMap { entry in
                Self.value(entry.payload).map { (entry.lsn, $0) }
            }
        nodes[index].applied = replica.commitLSN
        nodes[index].candidacyStartedAt = nil
        if nodes[index].mustRecover { beginRecovery(index) }
    }

    /// Each node's role, promise, commit position and designated replica set.
    var summary: String {
        nodes.indices.map { index in
            let node = nodes[index]
            let state = node.isRemoved ? "removed" : node.isUp ? "up" : "down"
            let role =
                (node.replica.isPrimary ? "primary" : node.replica.isCandidate ? "candidate" : "follower")
                + (node.replica.recovery.map { $0.learned ? " recovering(learned)" : " recovering" } ?? "")
            return
                "\(ids[index]) \(state) \(role) promised \(node.replica.durable.promised) commit \(node.replica.commitLSN) "
                + "designates \(designated(by: index).map(\.rawValue))"
        }.joined(separator: "; ")
    }

    private func check() throws(Violation) {
        if let first = violations.first { throw Violation(seed: seed, message: first) }
    }

    private func finalCheck() throws(Violation) {
        for (lsn, value) in acknowledged {
            guard let entry = committed[lsn], Self.value(entry.payload) == value else {
                throw Violation(
                    seed: seed,
                    message:
                        "acknowledged write \(value) at lsn \(lsn) is lost (committed: \(String(describing: committed[lsn])))"
                )
            }
        }
        // Every live replica's committed prefix is the cluster's committed log.
        for node in nodes {
            for entry in node.replica.committedEntries where committed[entry.lsn] != entry {
                throw Violation(seed: seed, message: "\(node.replica.me) holds \(entry) as committed")
            }
            // Its state machine (base state + applied commits) is exactly the committed commands so far.
            let expected = committed.values.filter { $0.lsn <= node.applied }.sorted { $0.lsn < $1.lsn }
                .compactMap { entry in Self.value(entry.payload).map { (entry.lsn, $0) } }
            guard node.machine.map(\.lsn) == expected.map(\.0), node.machine.map(\.value) == expected.map(\.1) else {
                throw Violation(
                    seed: seed,
                    message:
                        "\(node.replica.me)'s state machine holds \(node.machine.count) commands, expected \(expected.count) up to lsn \(node.applied)"
                )
            }
        }
    }
}
