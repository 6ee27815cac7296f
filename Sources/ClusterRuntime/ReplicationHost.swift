import ClusterCore
import Logging
import NIOPosix
import Persistence
import Synchronization
import WireProtocol

/// Hosts this node's replica of every shard: drives each ``Replication/Replica`` over the
/// transport, persists its durable changes in the write-ahead log before sending what they
/// produce, applies committed commands to the shard's state machine, and starts a candidacy
/// for the shards the ring designates this node to lead.
///
/// Persisting and sending go through one outbox: the durable changes of each input are handed
/// to the WAL at once (its thread writes whatever is queued in one write and one `fdatasync`:
/// group commit across shards, and the disk never waits for this actor), and messages leave
/// only after the write that covers them is durable (shipped by the ``DurabilityGate`` from the
/// log's thread as soon as it reports the write) — except a primary's appends, which leave
/// at once (batched per peer with the other appends of the moment): the primary counts itself
/// towards a quorum only once its own write is done (``Replication/Replica/onPersisted(upTo:)``),
/// so its write and its followers' overlap. A write that would carry only commit positions is not made on
/// its own: those records join the next write (a crash may lose them; the commit position is
/// learned again from the primary or re-established by the next epoch).
///
/// Checkpoints bound the log: every `checkpointBytes` of WAL, each shard's log is compacted into
/// its state machine's state (the replica's base), every shard's durable state is written as a
/// snapshot covering the WAL up to a sealed segment, and the segments before it are deleted. A
/// follower behind a primary's base gets the base (a snapshot transfer) instead of entries.
public actor ReplicationHost<Machine: ShardStateMachine> {
    public typealias Settings = ReplicationSettings

    typealias Waiter = ProposalWaiter
    typealias Slot = ReplicaSlot
    typealias Outbox = ReplicationOutbox

    public nonisolated let me: NodeID
    public nonisolated let settings: Settings
    let log: WriteAheadLog
    let storage: Storage
    var walBytesSinceCheckpoint = 0
    var checkpointing = false
    var refusedBases: Set<RefusedBase> = []
    static var refusedBasesMax: Int { 256 }
    /// The checkpoint the tick started (every `checkpointBytes` of WAL), while it runs.
    var automaticCheckpoint: Task<Void, Never>?
    var stoppingCheckpoints = false
    var lastPassivation = ContinuousClock.now
    var lastDeadlineSweep = ContinuousClock.now
    /// Checkpoints completed since start.
    public internal(set) var checkpointsTaken = 0
    /// Entities passivated since start.
    public internal(set) var entitiesPassivated = 0
    /// Shard states this node installed from another node's base (snapshot transfers).
    public internal(set) var snapshotsInstalled = 0
    let transport: ClusterTransport
    let addressOf: @Sendable (NodeID) -> NodeAddress?
    var logger: Logger
    /// Indexed by shard. An array, not a dictionary: reading `slots[i].field` borrows the slot,
    /// where a dictionary's getter would copy it (retaining its log, state and waiters).
    var slots: [Slot] = []
    /// Each shard's state machine, by shard (apart from `slots`: see `ReplicaSlot`).
    var machines: [Machine] = []
    /// A base from another node that may be installed next, already restored into a copy of the
    /// shard's state machine when it arrived (checked there, and not decoded twice).
    var prepared: [UInt32: (base: Replication.Base, machine: Machine)] = [:]
    var outbox = Outbox()
    /// Above zero while an input of many parts is collected: its parts are submitted together.
    var holdingOutbox = 0
    /// Commit-position records of a batch that had nothing else to write: they lead the next write.
    var deferredRecords: [WALRecord] = []
    /// A primary's appends, sent together by one task once the current burst of work is done.
    var appendsToSend: [(shard: UInt32, message: Replication.Message, to: NodeID)] = []
    var appendsScheduled = false
    /// Submitted batches' messages and durability news, until the WAL reports them written.
    let gate: DurabilityGate
    /// Which shards this node serves, one bit each, readable without a hop onto the actor (a
    /// node forwarding a request checks it on every request).
    let served: Mutex<ServedShards>
    var lastSubmitted: UInt64 = 0
    /// Set when a WAL write failed: nothing more is written or sent.
    var halted = false
    /// Yields (once) the error of a failed WAL write: the node should leave the cluster and exit.
    public nonisolated let storageFailures: AsyncStream<String>
    let storageFailure: AsyncStream<String>.Continuation
    var placement: ShardTable
    let placementProvider: @Sendable () -> ShardTable?
    var inFlight = 0
    var ticker: Task<Void, Never>?
    let metrics: ClusterMetrics
    /// Shards still recovering from durable state this node lost (see
    /// ``Replication/Replica/beginRecovery(nonce:contacts:)``); recovery starts with ``start()``.
    public internal(set) var recoveringShards: Set<UInt32> = []
    /// Called once every shard has recovered and everything they took is durable.
    let recoveryFinished: @Sendable () -> Void

    /// Opens the node's storage and rebuilds every shard from it.
    ///
    /// - Parameters:
    ///   - genesisNodes: the configured node list; a shard's first configuration is its placement over them.
    ///   - makeMachine: the state machine of a shard, to which committed commands are re-applied now.
    public init(
        me: NodeID,
        shardCount: Int,
        replication: Int,
        genesisNodes: [NodeID],
        storage: Storage,
        transport: ClusterTransport,
        addressOf: @escaping @Sendable (NodeID) -> NodeAddress?,
        placement placementProvider: @escaping @Sendable () -> ShardTable?,
        durable: [UInt32: Replication.Replica.Durable],
        settings: Settings = Settings(),
        metrics: ClusterMetrics = ClusterMetrics(),
        logger: Logger,
        recovering: Bool = false,
        recoveryFinished: @escaping @Sendable () -> Void = {},
        makeMachine: @Sendable (UInt32) -> Machine
    ) throws {
        self.metrics = metrics
        self.recoveryFinished = recoveryFinished
        self.me = me
        self.settings = settings
        self.storage = storage
        self.log = storage.log
        self.transport = transport
        self.addressOf = addressOf
        self.placementProvider = placementProvider
        self.logger = logger
        let genesis = ShardTable(shardCount: shardCount, replication: replication, nodes: genesisNodes)
        self.placement = ShardTable(shardCount: shardCount, replication: replication, nodes: [])
        self.served = Mutex(ServedShards(shardCount: shardCount))
        (storageFailures, storageFailure) = AsyncStream.makeStream(
            of: String.self,
            bufferingPolicy: .bufferingNewest(1)
        )
        var random = SystemRandomNumberGenerator()
        for entry in genesis.entries {
            let shard = UInt32(entry.shard)
            var replica =
                durable[shard].map { Replication.Replica(me: me, genesis: entry.replicas, durable: $0) }
                ?? Replication.Replica(me: me, genesis: entry.replicas)
            var machine = makeMachine(shard)
            if let base = replica.base { try machine.restore(Self.decodeState(base.state)) }
            var applied = replica.commitLSN
            var stalled: String?
            for committed in replica.committedEntries {
                guard case .command(let bytes) = committed.payload else { continue }
                do {
                    try machine.apply(bytes, lsn: committed.lsn)
                } catch {
                    // Applied up to the entry before; the shard is not served (see `stall`).
                    applied = committed.lsn - 1
                    stalled = Self.reportStall(
                        shard: shard,
                        lsn: committed.lsn,
                        error,
                        metrics: metrics,
                        logger: logger
                    )
                    break
                }
            }
            replica.retransmitTicks = Self.ticks(settings.retransmitInterval, per: settings.tickInterval)
            replica.heartbeatTicks = Self.ticks(settings.heartbeatInterval, per: settings.tickInterval)
            replica.leaseTicks =
                settings.readLease > .zero ? Self.ticks(settings.readLease, per: settings.tickInterval) : 0
            let jitter = Double.random(in: 1...2, using: &random)
            machines.append(machine)
            var slot = Slot(
                replica: replica,
                candidacyTimeout: settings.candidacyTimeout * jitter,
                durability: Replication.Durability(lastLSN: replica.lastLSN)
            )
            slot.appliedLSN = applied
            slot.stalled = stalled
            if slot.isServing {
                slot.serving = true
                served.withLock { $0.set(shard, serving: true) }
            }
            slots.append(slot)  // the table's entries are in shard order
            if recovering { recoveringShards.insert(shard) }
        }
        let gate = DurabilityGate(me: me) { [transport, settings] messages in
            PeerBatching.ship(messages, over: transport, addressOf: addressOf, settings: settings)
        }
        self.gate = gate
        log.onDurable { [weak self, metrics] result in
            // On the WAL's thread: messages that waited for this write leave from here; the
            // rest of what it released is the actor's to do.
            switch result {
            case .failure(let error):
                gate.halt()
                Task { await self?.halt(error) }
            case .success(let written):
                metrics.walWrites.increment()
                metrics.walWriteDuration.recordNanoseconds(written.duration.nanosecondsClamped)
                let released = gate.written(written.sequence)
                if !released.isEmpty { Task { await self?.apply(released) } }
            }
        }
    }

    // MARK: - Lifecycle

    /// Starts the periodic tick (retransmissions, heartbeats, candidacies).
    public func start() {
        guard ticker == nil else { return }
        if !recoveringShards.isEmpty {
            logger.warning(
                "recovering every shard: this node's data directory was new or its recovery was cut short; it promises and acknowledges nothing for a shard until it holds what the shard's replicas hold",
                metadata: ["shards": "\(recoveringShards.count)"]
            )
            var random = SystemRandomNumberGenerator()
            holdingOutbox += 1
            for shard in recoveringShards.sorted() {
                collect(shard: shard, slots[Int(shard)].replica.beginRecovery(nonce: random.next()))
            }
            holdingOutbox -= 1
            submitOutbox()
        }
        let interval = settings.tickInterval
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await self?.tick()
            }
        }
    }

    public func stop() {
        ticker?.cancel()
        ticker = nil
        // Their entries may still commit through the followers' copies: the outcome is unknown
        // (never `shutdown`, whose "unavailable" tells a forwarding node nothing happened).
        for shard in slots.indices {
            failWaiters(of: shard, with: .outcomeUnknown)
            failReadWaiters(of: shard, with: .shutdown)
        }
    }

    // MARK: - Inputs

    /// Ticks of `interval` in `duration`, at least 1.
    static func ticks(_ duration: Duration, per interval: Duration) -> UInt64 {
        UInt64(max(1, Int((duration / interval).rounded(.up))))
    }

    /// Handles the replication messages of one frame from `sender`, in order; their durable
    /// changes go to the WAL as one submission.
    public func receive(_ messages: [Wire.ShardMessage], from sender: NodeID) {
        // One WAL submission for the whole frame: its records share one write.
        holdingOutbox += 1
        for item in messages { receive(shard: item.shard, item.message, from: sender) }
        holdingOutbox -= 1
        submitOutbox()
    }

    public func receive(shard: UInt32, _ message: Replication.Message, from sender: NodeID) {
        // Mutated in place: a copy of the slot would copy the replica's whole log.
        guard slots.indices.contains(Int(shard)) else { return }
        if sender != me, let base = Self.base(carriedBy: message), mayInstall(base, of: message, shard: shard) {
            // A base this node's state machine cannot restore is refused before the replica takes
            // it: once installed (and logged) it would stop this node, now and at every restart.
            // One that restores is kept, restored, for the install that follows.
            let refused = RefusedBase(shard: shard, sender: sender, lsn: base.lsn, epoch: base.epoch)
            guard !refusedBases.contains(refused) else { return }
            if prepared[shard]?.base != base {
                do {
                    var machine = machines[Int(shard)]
                    try machine.restore(Self.decodeState(base.state))
                    prepared[shard] = (base, machine)
                } catch {
                    if refusedBases.count >= Self.refusedBasesMax { refusedBases.removeAll() }
                    refusedBases.insert(refused)
                    metrics.statesRefused.increment()
                    logger.error(
                        "refused a shard state that does not restore",
                        metadata: [
                            "shard/id": "\(shard)", "from": "\(sender)", "lsn": "\(base.lsn)", "error": "\(error)",
                        ]
                    )
                    return
                }
            }
        }
        let directives = slots[Int(shard)].replica.onMessage(message, from: sender)
        collect(shard: shard, directives)
    }

    func tick() {
        holdingOutbox += 1
        for index in slots.indices {
            let directives = slots[index].replica.onTick()
            collect(shard: UInt32(index), directives)
        }
        driveCandidacies()
        holdingOutbox -= 1
        submitOutbox()
        metrics.shardsLed.record(servedShards)
        let now = ContinuousClock.now
        if now - lastDeadlineSweep >= .milliseconds(250) {
            lastDeadlineSweep = now
            failExpiredWaiters(now: now)
            failExpiredReads(now: now)
        }
        if now - lastPassivation >= settings.passivationInterval {
            lastPassivation = now
            passivateIdle(now: now)
        }
        if walBytesSinceCheckpoint >= settings.checkpointBytes && !checkpointing && automaticCheckpoint == nil
            && !stoppingCheckpoints
        {
            automaticCheckpoint = Task {
                do {
                    try await self.checkpoint()
                } catch {
                    self.logger.error("checkpoint failed", metadata: ["error": "\(error)"])
                }
                self.automaticCheckpoint = nil
            }
        }
    }

    /// Asks every shard's state machine to passivate entities idle for `passivateAfter`.
    public func passivateIdle(now: ContinuousClock.Instant = .now) {
        let cutoff = now - settings.passivateAfter
        var moved = 0
        for index in slots.indices { moved += machines[index].passivate(idleSince: cutoff) }
        entitiesPassivated += moved
        if moved > 0 { metrics.entitiesPassivated.increment(by: moved) }
    }

    /// Starts a candidacy for every shard the ring (from the current membership) designates this
    /// node to lead, unless it already leads it with that replica set or a candidacy is under way.
    func driveCandidacies() {
        guard let current = placementProvider() else { return }  // not joined yet: the view is not the cluster's
        placement = current
        served.withLock { $0.designate(current, me: me) }
        let now = ContinuousClock.now
        if !recoveringShards.isEmpty {
            // Every member may know configurations this node forgot: all are asked.
            let members = Array(Set(placement.entries.flatMap(\.replicas))).sorted { $0.rawValue < $1.rawValue }
            for shard in recoveringShards {
                collect(shard: shard, slots[Int(shard)].replica.addRecoveryContacts(members))
            }
        }
        for entry in placement.entries where entry.primary == me {
            let shard = UInt32(entry.shard)
            guard slots.indices.contains(Int(shard)) else { continue }
            let index = Int(shard)
            if slots[index].replica.isPrimary && slots[index].replica.primaryReplicas == entry.replicas { continue }
            if slots[index].replica.isCandidate, let started = slots[index].candidacyStartedAt,
                now - started < slots[index].candidacyTimeout
            {
                continue
            }
            slots[Int(shard)].candidacyStartedAt = now
            metrics.candidacies.increment()
            let directives = slots[Int(shard)].replica.startCandidacy(replicas: entry.replicas)
            collect(shard: shard, directives)
        }
    }

    /// Applies committed entries that are durable locally, in order, and answers their waiters.
    func applyCommitted(shard: UInt32) {
        // Only scalars are read out of the slot: a copy of it would share the machine's and the
        // log's storage, and every mutation below would then copy them whole.
        guard slots.indices.contains(Int(shard)) else { return }
        let applied = slots[Int(shard)].appliedLSN
        let upTo = min(slots[Int(shard)].replica.commitLSN, slots[Int(shard)].durability.durableLSN)
        guard upTo > applied, slots[Int(shard)].stalled == nil else { return }
        for lsn in (applied + 1)...upTo {
            let entry = slots[Int(shard)].replica.entry(at: lsn)!
            if case .command(let bytes) = entry.payload {
                do {
                    try machines[Int(shard)].apply(bytes, lsn: entry.lsn)
                } catch {
                    metrics.entriesApplied.increment(by: Int(lsn - 1 - applied))
                    slots[Int(shard)].appliedLSN = lsn - 1
                    stall(shard: shard, lsn: lsn, error)
                    return
                }
            }
            if let waiter = slots[Int(shard)].waiters.removeValue(forKey: entry.lsn) {
                if waiter.epoch == entry.epoch {
                    waiter.continuation.resume(returning: entry.lsn)
                } else {
                    waiter.continuation.resume(throwing: ReplicationError.outcomeUnknown)
                }
            }
            if !slots[Int(shard)].unsettled.isEmpty,
                let open = slots[Int(shard)].unsettled.removeValue(forKey: entry.lsn)
            {
                open.settlement.settle()
            }
        }
        metrics.entriesApplied.increment(by: Int(upTo - applied))
        slots[Int(shard)].appliedLSN = upTo
        publishServing(shard: shard)
    }
}

// The host's bookkeeping types live outside the generic actor: nested in it they would be
// generic too, and unspecialized code reaches into a generic value through value witnesses
// (copying a whole slot to read one field).

/// A proposal made on this node, waiting for its commit.
struct ProposalWaiter {
    let epoch: Replication.Epoch
    let deadline: ContinuousClock.Instant
    /// When the host stops caring whether the proposal commits (its commit deadline).
    let backstop: ContinuousClock.Instant
    let settlement: Settlement?
    let continuation: CheckedContinuation<UInt64, any Error>
}

/// A read (or a decision that wrote nothing) waiting for a read round to confirm this node
/// still led when it was made.
struct ReadWaiter {
    /// The round that confirms it; nil until the next round starts.
    var round: UInt64?
    let deadline: ContinuousClock.Instant
    let continuation: CheckedContinuation<Void, any Error>
}

/// One shard's replica on this node and what the host tracks about it (its state machine is in
/// the host's `machines`).
struct ReplicaSlot {
    var replica: Replication.Replica
    var waiters: [UInt64: ProposalWaiter] = [:]
    /// Proposals whose waiters timed out with their outcome open, until it is known or
    /// `backstop` passes (see ``Settlement``).
    var unsettled: [UInt64: (backstop: ContinuousClock.Instant, settlement: Settlement)] = [:]
    var candidacyStartedAt: ContinuousClock.Instant?
    var candidacyTimeout: Duration
    /// Reads waiting for a read round, and the round out now (one at a time).
    var readWaiters: [ReadWaiter] = []
    var readRoundInFlight: UInt64?
    /// When the round in flight started: once confirmed, reads are served without a round
    /// until `readLeaseServed` after that (the read lease), while this node leads `leaseEpoch`.
    var readRoundStartedAt: ContinuousClock.Instant?
    var leaseEpoch: Replication.Epoch?
    var leaseUntil = ContinuousClock.Instant.now
    /// Which entries are in the local WAL (written and fsynced), as batches are written.
    var durability: Replication.Durability
    /// Committed entries up to here have been applied to the state machine.
    var appliedLSN: UInt64 = 0
    /// The replica's `isServing` as last published in `ReplicationHost.served`.
    var serving = false
    /// Why this node stopped applying the shard's log (a committed command it cannot apply):
    /// it serves the shard no more. Nil while it applies.
    var stalled: String?
    /// Whether this node serves the shard: it leads it, has applied everything it adopted (up to
    /// its epoch's start entry), and applies its log.
    var isServing: Bool { replica.isServing && stalled == nil && appliedLSN >= replica.servingFromLSN ?? .max }
}

/// The shards this node serves, one bit each, and each one's serving term.
struct ServedShards {
    var bits: [UInt64]
    var terms: [UInt64]
    var nextTerm: UInt64 = 1
    /// Whether the ring designated another node (or none) to lead the shard since this node
    /// last served it: its next serving term is a new one.
    var interrupted: [Bool]

    init(shardCount: Int) {
        bits = [UInt64](repeating: 0, count: (shardCount + 63) / 64)
        terms = [UInt64](repeating: 0, count: shardCount)
        interrupted = [Bool](repeating: true, count: shardCount)
    }

    func term(of shard: UInt32) -> UInt64? {
        guard Int(shard / 64) < bits.count, bits[Int(shard / 64)] & (1 << (shard % 64)) != 0 else { return nil }
        return terms[Int(shard)]
    }

    mutating func set(_ shard: UInt32, serving: Bool) {
        if serving {
            bits[Int(shard / 64)] |= 1 << (shard % 64)
            if interrupted[Int(shard)] {
                terms[Int(shard)] = nextTerm
                nextTerm += 1
                interrupted[Int(shard)] = false
            }
        } else {
            bits[Int(shard / 64)] &= ~(1 << (shard % 64))
        }
    }

    /// What the ring designates now: a shard it gives another node gets a new term when this
    /// node serves it again (a re-election this node wins while it stays designated keeps it).
    mutating func designate(_ table: ShardTable, me: NodeID) {
        for entry in table.entries where entry.primary != me && terms.indices.contains(entry.shard) {
            interrupted[entry.shard] = true
        }
    }
}

/// A base another node sent that did not restore; its retransmissions are dropped unread.
struct RefusedBase: Hashable {
    var shard: UInt32
    var sender: NodeID
    var lsn: UInt64
    var epoch: Replication.Epoch
}

struct ReplicationOutbox {
    var records: [WALRecord] = []
    var messages: [(shard: UInt32, message: Replication.Message, to: NodeID)] = []
    /// The highest LSN each shard's records of this batch make durable, and the shard's rewrite count then.
    var durableUpTo: [(shard: UInt32, mark: Replication.Durability.Mark)] = []
    var isEmpty: Bool { records.isEmpty && messages.isEmpty }
}
