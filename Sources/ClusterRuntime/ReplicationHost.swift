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

    struct Waiter {
        let epoch: Replication.Epoch
        let deadline: ContinuousClock.Instant
        /// When the host stops caring whether the proposal commits (its commit deadline).
        let backstop: ContinuousClock.Instant
        let settlement: Settlement?
        let continuation: CheckedContinuation<UInt64, any Error>
    }

    struct Slot {
        var replica: Replication.Replica
        var machine: Machine
        var waiters: [UInt64: Waiter] = [:]
        /// Proposals whose waiters timed out with their outcome open, until it is known or
        /// `backstop` passes (see ``Settlement``).
        var unsettled: [UInt64: (backstop: ContinuousClock.Instant, settlement: Settlement)] = [:]
        var candidacyStartedAt: ContinuousClock.Instant?
        var candidacyTimeout: Duration
        /// Entries up to here are in the local WAL (written and fsynced).
        var durableLSN: UInt64 = 0
        /// Committed entries up to here have been applied to the state machine.
        var appliedLSN: UInt64 = 0
        /// The highest LSN handed to the outbox, and how many times the log was rewritten below it:
        /// a batch written before a rewrite must not mark the rewritten entries durable.
        var queuedLSN: UInt64 = 0
        var rewrites: UInt64 = 0
        /// The replica's `isServing` as last published in ``ReplicationHost/served``.
        var serving = false
        /// Why this node stopped applying the shard's log (a committed command it cannot apply):
        /// it serves the shard no more. Nil while it applies.
        var stalled: String?
        /// Whether this node serves the shard: it leads it, and applies its log.
        var isServing: Bool { replica.isServing && stalled == nil }
        /// A base from another node that may be installed next, already restored into a copy of
        /// the state machine when it arrived (checked there, and not decoded twice).
        var prepared: (base: Replication.Base, machine: Machine)?
    }

    /// The shards this node serves, one bit each, and each one's serving term.
    struct ServedShards {
        var bits: [UInt64]
        var terms: [UInt64]
        var nextTerm: UInt64 = 1

        init(shardCount: Int) {
            bits = [UInt64](repeating: 0, count: (shardCount + 63) / 64)
            terms = [UInt64](repeating: 0, count: shardCount)
        }

        func term(of shard: UInt32) -> UInt64? {
            guard Int(shard / 64) < bits.count, bits[Int(shard / 64)] & (1 << (shard % 64)) != 0 else { return nil }
            return terms[Int(shard)]
        }

        mutating func set(_ shard: UInt32, serving: Bool) {
            if serving {
                bits[Int(shard / 64)] |= 1 << (shard % 64)
                terms[Int(shard)] = nextTerm
                nextTerm += 1
            } else {
                bits[Int(shard / 64)] &= ~(1 << (shard % 64))
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

    struct Outbox {
        var records: [WALRecord] = []
        var messages: [(shard: UInt32, message: Replication.Message, to: NodeID)] = []
        /// The highest LSN each shard's records of this batch make durable, and the shard's rewrite count then.
        var durableUpTo: [(shard: UInt32, lsn: UInt64, rewrites: UInt64)] = []
        var isEmpty: Bool { records.isEmpty && messages.isEmpty }
    }

    public nonisolated let me: NodeID
    public nonisolated let settings: Settings
    private let log: WriteAheadLog
    private let storage: Storage
    private var walBytesSinceCheckpoint = 0
    private var checkpointing = false
    private var refusedBases: Set<RefusedBase> = []
    static var refusedBasesMax: Int { 256 }
    /// The checkpoint the tick started (every `checkpointBytes` of WAL), while it runs.
    private var automaticCheckpoint: Task<Void, Never>?
    private var stoppingCheckpoints = false
    private var lastPassivation = ContinuousClock.now
    private var lastDeadlineSweep = ContinuousClock.now
    /// Checkpoints completed since start.
    public private(set) var checkpointsTaken = 0
    /// Entities passivated since start.
    public private(set) var entitiesPassivated = 0
    /// Shard states this node installed from another node's base (snapshot transfers).
    public private(set) var snapshotsInstalled = 0
    private let transport: ClusterTransport
    private let addressOf: @Sendable (NodeID) -> NodeAddress?
    private var logger: Logger
    /// Indexed by shard. An array, not a dictionary: reading `slots[i].field` borrows the slot,
    /// where a dictionary's getter would copy it (retaining its log, state and waiters).
    private var slots: [Slot] = []
    private var outbox = Outbox()
    /// Above zero while an input of many parts is collected: its parts are submitted together.
    private var holdingOutbox = 0
    /// Commit-position records of a batch that had nothing else to write: they lead the next write.
    private var deferredRecords: [WALRecord] = []
    /// A primary's appends, sent together by one task once the current burst of work is done.
    private var appendsToSend: [(shard: UInt32, message: Replication.Message, to: NodeID)] = []
    private var appendsScheduled = false
    /// Submitted batches' messages and durability news, until the WAL reports them written.
    private let gate: DurabilityGate
    /// Which shards this node serves, one bit each, readable without a hop onto the actor (a
    /// node forwarding a request checks it on every request).
    private let served: Mutex<ServedShards>
    private var lastSubmitted: UInt64 = 0
    /// Set when a WAL write failed: nothing more is written or sent.
    private var halted = false
    /// Yields (once) the error of a failed WAL write: the node should leave the cluster and exit.
    public nonisolated let storageFailures: AsyncStream<String>
    private let storageFailure: AsyncStream<String>.Continuation
    private var placement: ShardTable
    private let placementProvider: @Sendable () -> ShardTable?
    private var inFlight = 0
    private var ticker: Task<Void, Never>?
    private let metrics: ClusterMetrics

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
        makeMachine: @Sendable (UInt32) -> Machine
    ) throws {
        self.metrics = metrics
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
        (storageFailures, storageFailure) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
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
                    stalled = "lsn \(committed.lsn): \(error)"
                    metrics.recordsUnapplicable.increment()
                    logger.critical(
                        "a committed record of this shard cannot be applied; the node does not serve the shard",
                        metadata: ["shard/id": "\(shard)", "lsn": "\(committed.lsn)", "error": "\(error)"]
                    )
                    break
                }
            }
            replica.retransmitTicks = Self.ticks(settings.retransmitInterval, per: settings.tickInterval)
            replica.heartbeatTicks = Self.ticks(settings.heartbeatInterval, per: settings.tickInterval)
            let jitter = Double.random(in: 1...2, using: &random)
            var slot = Slot(replica: replica, machine: machine, candidacyTimeout: settings.candidacyTimeout * jitter)
            slot.durableLSN = replica.lastLSN
            slot.queuedLSN = replica.lastLSN
            slot.appliedLSN = applied
            slot.stalled = stalled
            if slot.isServing {
                slot.serving = true
                served.withLock { $0.set(shard, serving: true) }
            }
            slots.append(slot)  // the table's entries are in shard order
        }
        let gate = DurabilityGate(me: me) { [transport, settings] messages in
            Self.ship(messages, over: transport, addressOf: addressOf, settings: settings)
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
        for shard in slots.indices { failWaiters(of: shard, with: .shutdown) }
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
            if slots[Int(shard)].prepared?.base != base {
                do {
                    var machine = slots[Int(shard)].machine
                    try machine.restore(Self.decodeState(base.state))
                    slots[Int(shard)].prepared = (base, machine)
                } catch {
                    if refusedBases.count >= Self.refusedBasesMax { refusedBases.removeAll() }
                    refusedBases.insert(refused)
                    metrics.statesRefused.increment()
                    logger.error(
                        "refused a shard state that does not restore",
                        metadata: ["shard/id": "\(shard)", "from": "\(sender)", "lsn": "\(base.lsn)", "error": "\(error)"]
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

    /// Fails every proposal waiting on the shard.
    private func failWaiters(of shard: Int, with error: ReplicationError) {
        let waiters = slots[shard].waiters
        slots[shard].waiters.removeAll()
        for (_, waiter) in waiters { waiter.continuation.resume(throwing: error) }
        // The epoch is over here: whatever becomes of those entries is the next primary's.
        let unsettled = slots[shard].unsettled
        slots[shard].unsettled.removeAll()
        for (_, open) in unsettled { open.settlement.settle() }
    }

    /// Fails the proposals still not committed at their deadline with `timeout` (handing their
    /// settlements the open outcome), and settles those whose commit deadline has passed.
    private func failExpiredWaiters(now: ContinuousClock.Instant) {
        for index in slots.indices where !slots[index].waiters.isEmpty || !slots[index].unsettled.isEmpty {
            let expired = slots[index].waiters.filter { $0.value.deadline <= now }
            for (lsn, waiter) in expired {
                slots[index].waiters[lsn] = nil
                if let settlement = waiter.settlement, waiter.backstop > now {
                    settlement.markPending()
                    slots[index].unsettled[lsn] = (waiter.backstop, settlement)
                }
                waiter.continuation.resume(throwing: ReplicationError.timeout)
            }
            let givenUp = slots[index].unsettled.filter { $0.value.backstop <= now }
            for (lsn, open) in givenUp {
                slots[index].unsettled[lsn] = nil
                open.settlement.settle()
            }
        }
    }

    /// Asks every shard's state machine to passivate entities idle for `passivateAfter`.
    public func passivateIdle(now: ContinuousClock.Instant = .now) {
        let cutoff = now - settings.passivateAfter
        var moved = 0
        for index in slots.indices { moved += slots[index].machine.passivate(idleSince: cutoff) }
        entitiesPassivated += moved
        if moved > 0 { metrics.entitiesPassivated.increment(by: moved) }
    }

    // MARK: - Checkpoints

    public struct CheckpointReport: Sendable {
        public var shardsCompacted = 0
        public var snapshotsWritten = 0
        public var segmentsRemoved = 0
        /// The first WAL segment the snapshots do not cover.
        public var walSegment = 0
    }

    /// Compacts every shard's applied log into its state, snapshots every shard's durable state
    /// and deletes the WAL segments the snapshots cover. Returns nil if a checkpoint is already
    /// running.
    @discardableResult
    public func checkpoint() async throws -> CheckpointReport? {
        guard !checkpointing else { return nil }
        checkpointing = true
        defer { checkpointing = false }
        let started = ContinuousClock.now
        walBytesSinceCheckpoint = 0
        // The state machines of shards with newly applied entries, encoded off the actor (and off
        // the event loops and the concurrency pool: compressing a large state takes a while).
        let changed = slots.indices.compactMap { index in
            slots[index].appliedLSN > slots[index].replica.baseLSN ? (UInt32(index), slots[index].machine, slots[index].appliedLSN) : nil
        }
        let states = try await Storage.offload {
            try changed.map { (shard: $0.0, state: try Self.encodeState($0.1), lsn: $0.2) }
        }
        var report = CheckpointReport()
        // From here to the seal request nothing suspends: the durable states below are exactly
        // what the WAL holds before the sealed segment.
        for (shard, state, lsn) in states where lsn <= slots[Int(shard)].replica.commitLSN {
            slots[Int(shard)].replica.compact(upTo: lsn, state: state)
            report.shardsCompacted += 1
        }
        let durables = slots.indices.map { (UInt32($0), slots[$0].replica.durable) }
        let segment = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            // Everything collected so far is queued before the seal; later changes after it.
            submitOutbox(includingCommitPositions: true)
            if halted {
                continuation.resume(throwing: ReplicationError.shutdown)
                return
            }
            log.seal { continuation.resume(with: $0) }
        }
        report.walSegment = segment
        let snapshots = try await Storage.offload {
            durables.map { shard, durable in
                SnapshotStore.Snapshot(shard: shard, walSegment: segment, lsn: durable.base?.lsn ?? 0, state: Wire.ReplicaSnapshot.encode(durable))
            }
        }
        report.snapshotsWritten = snapshots.count
        report.segmentsRemoved = try await storage.checkpoint(snapshots)
        metrics.checkpoints.increment()
        checkpointsTaken += 1
        metrics.checkpointDuration.recordNanoseconds((ContinuousClock.now - started).nanosecondsClamped)
        logger.info(
            "checkpoint",
            metadata: [
                "compacted": "\(report.shardsCompacted)", "snapshots": "\(report.snapshotsWritten)",
                "segments-removed": "\(report.segmentsRemoved)", "wal-segment": "\(segment)",
            ]
        )
        return report
    }

    /// The base a message hands over, if any: a snapshot for a lagging follower, or a promiser's
    /// compacted log for a new primary.
    static func base(carriedBy message: Replication.Message) -> Replication.Base? {
        switch message {
        case .installSnapshot(_, let base): base
        case .promise(_, let promise): promise.base
        default: nil
        }
    }

    /// Whether the replica could install `base`: it reaches past the commit position (and, sent
    /// as a snapshot, comes from an epoch not older than the promised one). Retransmissions of
    /// one already installed are not.
    private func mayInstall(_ base: Replication.Base, of message: Replication.Message, shard: UInt32) -> Bool {
        guard base.lsn > slots[Int(shard)].replica.commitLSN else { return false }
        if case .installSnapshot(let epoch, _) = message { return epoch >= slots[Int(shard)].replica.promised }
        return true
    }

    /// A shard's base state: its state machine's snapshot, zstd-compressed (what replicas keep
    /// in memory, send to lagging followers and write in WAL install records and snapshots).
    static func encodeState(_ machine: Machine) throws -> [UInt8] {
        let state = machine.snapshot()
        // Past the bound no node could read it back (nor this one restart from it).
        guard state.count <= SnapshotStore.stateBytesMax else {
            throw StateTooLarge(bytes: state.count)
        }
        return try Zstd.compress(state, level: 1)
    }

    struct StateTooLarge: Error, CustomStringConvertible {
        var bytes: Int
        var description: String { "a shard state of \(bytes) bytes exceeds \(SnapshotStore.stateBytesMax)" }
    }

    static func decodeState(_ state: [UInt8]) throws -> [UInt8] {
        try Zstd.decompress(state, bytesMax: SnapshotStore.stateBytesMax)
    }

    /// Starts no more automatic checkpoints and returns once the one running, if any, has
    /// finished: a node that stops lets it complete rather than leave it writing snapshots and
    /// deleting WAL segments after the node is gone (a restart in the same process would open
    /// that directory meanwhile).
    public func stopAutomaticCheckpoints() async {
        stoppingCheckpoints = true
        await automaticCheckpoint?.value
    }

    /// WAL bytes written since the last checkpoint started.
    public var walBytesSinceLastCheckpoint: Int { walBytesSinceCheckpoint }

    /// Starts a candidacy for every shard the ring (from the current membership) designates this
    /// node to lead, unless it already leads it with that replica set or a candidacy is under way.
    private func driveCandidacies() {
        guard let current = placementProvider() else { return }  // not joined yet: the view is not the cluster's
        placement = current
        let now = ContinuousClock.now
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

    /// Replicates `command` through the shard's log; returns its LSN once it is committed (durable
    /// on a majority of the replica set) and applied here. Not committed by `deadline` (or
    /// `commitTimeout` from now, if sooner), it fails with `timeout`: the command may still commit,
    /// and `settlement` (if given) learns when that is decided (see ``Settlement``).
    public func propose(
        shard: UInt32,
        _ command: [UInt8],
        deadline: ContinuousClock.Instant? = nil,
        settlement: Settlement? = nil
    ) async throws -> UInt64 {
        guard !halted else { throw ReplicationError.storageFailed }
        let now = ContinuousClock.now
        let backstop = now + settings.commitTimeout
        let deadline = min(deadline ?? backstop, backstop)
        guard deadline > now else { throw ReplicationError.notStarted }
        guard command.count <= settings.commandBytesMax else {
            throw ReplicationError.commandTooLarge(bytes: command.count, limit: settings.commandBytesMax)
        }
        guard slots.indices.contains(Int(shard)) else { throw ReplicationError.notPrimary(leader: nil) }
        guard slots[Int(shard)].stalled == nil else { throw ReplicationError.stalled(shard: shard) }
        guard slots[Int(shard)].replica.isServing else { throw ReplicationError.notPrimary(leader: leader(of: shard)) }
        guard inFlight < settings.inFlightMax else { throw ReplicationError.overloaded }
        let (lsn, directives): (UInt64, [Replication.Directive])
        do {
            (lsn, directives) = try slots[Int(shard)].replica.propose(command)
        } catch {
            throw ReplicationError.notPrimary(leader: leader(of: shard))
        }
        let epoch = slots[Int(shard)].replica.primaryEpoch!
        inFlight += 1
        defer { inFlight -= 1 }
        return try await withCheckedThrowingContinuation { continuation in
            slots[Int(shard)].waiters[lsn] = Waiter(
                epoch: epoch,
                deadline: deadline,
                backstop: backstop,
                settlement: settlement,
                continuation: continuation
            )
            collect(shard: shard, directives)
        }
    }

    /// Runs `body` on the shard's state if this node leads it and has applied everything it adopted.
    public func read<T: Sendable>(shard: UInt32, _ body: (Machine) throws -> T) throws -> T {
        guard slots.indices.contains(Int(shard)), slots[Int(shard)].replica.isServing else {
            throw ReplicationError.notPrimary(leader: leader(of: shard))
        }
        guard slots[Int(shard)].stalled == nil else { throw ReplicationError.stalled(shard: shard) }
        return try body(slots[Int(shard)].machine)
    }

    /// Decides on the shard's state and replicates the decision, in one call: `decide` sees the
    /// state (as ``read(shard:_:)``) and returns the command to replicate, if any, and the
    /// result to return once that command is committed (see ``propose(shard:_:deadline:)``).
    public func execute<T: Sendable>(
        shard: UInt32,
        deadline: ContinuousClock.Instant? = nil,
        settlement: Settlement? = nil,
        _ decide: (Machine) throws -> (command: [UInt8]?, result: T)
    ) async throws -> T {
        let (command, result) = try read(shard: shard, decide)
        if let command { _ = try await propose(shard: shard, command, deadline: deadline, settlement: settlement) }
        return result
    }

    /// Proposals made here and not yet answered (committed, failed or expired), all shards together.
    public var proposalsWaiting: Int { inFlight }

    /// Whether this node leads `shard`, has committed its epoch's start (so its state is
    /// complete) and applies its log, as of the host's last input.
    public nonisolated func serves(shard: UInt32) -> Bool {
        served.withLock { $0.term(of: shard) != nil }
    }

    /// While this node serves `shard`, a number that changes each time it starts serving it anew
    /// (state kept only in memory on the primary — soft entities — starts over with a new term);
    /// nil while it does not serve it.
    public nonisolated func servingTerm(shard: UInt32) -> UInt64? {
        served.withLock { $0.term(of: shard) }
    }

    /// Publishes a change of the shard's serving status (see ``serves(shard:)``).
    private func publishServing(shard: UInt32) {
        let serving = slots[Int(shard)].isServing
        guard serving != slots[Int(shard)].serving else { return }
        slots[Int(shard)].serving = serving
        served.withLock { $0.set(shard, serving: serving) }
    }

    /// Stops applying the shard's log at a committed command this node cannot apply: logged and
    /// counted, the shard is served no more, and its waiting proposals are told their outcome is
    /// unknown here. The command is never skipped (that would diverge from the other replicas).
    private func stall(shard: UInt32, lsn: UInt64, _ error: any Error) {
        slots[Int(shard)].stalled = "lsn \(lsn): \(error)"
        metrics.recordsUnapplicable.increment()
        logger.critical(
            "a committed record of this shard cannot be applied; the node does not serve the shard",
            metadata: ["shard/id": "\(shard)", "lsn": "\(lsn)", "error": "\(error)"]
        )
        failWaiters(of: Int(shard), with: .stalled(shard: shard))
        publishServing(shard: shard)
    }

    /// Why this node does not apply `shard`'s log, if it stopped (see ``ShardStateMachine/apply(_:lsn:)``).
    public func stalledReason(shard: UInt32) -> String? {
        slots.indices.contains(Int(shard)) ? slots[Int(shard)].stalled : nil
    }

    /// The number of shards this node currently serves as primary.
    public var servedShards: Int { slots.indices.count { slots[$0].replica.isServing } }

    /// The node the ring designates for the shard, which leads it once its candidacy succeeds.
    public func leader(of shard: UInt32) -> NodeID? {
        placement.entries.indices.contains(Int(shard)) ? placement.entries[Int(shard)].primary : nil
    }

    // MARK: - Directives and the outbox

    private func collect(shard: UInt32, _ directives: [Replication.Directive]) {
        let changes = slots[Int(shard)].replica.takeDurableChanges()
        for change in changes {
            if case .entries(let entries) = change, let first = entries.first, let last = entries.last {
                // Rewritten from `first`: only the prefix before it stays durable until this batch is written.
                if first.lsn <= slots[Int(shard)].queuedLSN { slots[Int(shard)].rewrites += 1 }
                slots[Int(shard)].queuedLSN = last.lsn
                slots[Int(shard)].durableLSN = min(slots[Int(shard)].durableLSN, first.lsn - 1)
                outbox.durableUpTo.append((shard, last.lsn, slots[Int(shard)].rewrites))
            }
            for part in ReplicationLog.walSized(change) {
                let (type, payload) = Wire.DurableRecord.encode(part)
                let (epoch, lsn): (UInt64, UInt64) =
                    switch part {
                    case .promised(let config): (config.epoch.number, 0)
                    case .promisedEpoch(let epoch): (epoch.number, 0)
                    case .entries(let entries): (entries.first?.epoch.number ?? 0, entries.first?.lsn ?? 0)
                    case .committed(let lsn): (0, lsn)
                    case .installed(let base): (base.epoch.number, base.lsn)
                    case .forgot: (0, 0)
                    }
                outbox.records.append(WALRecord(shard: shard, epoch: epoch, lsn: lsn, type: type, payload: payload))
            }
        }
        for directive in directives {
            switch directive {
            case .send(let message, let to):
                if case .append = message {
                    appendsToSend.append((shard, message, to))
                    if !appendsScheduled {
                        appendsScheduled = true
                        Task { self.sendAppends() }
                    }
                } else {
                    outbox.messages.append((shard, message, to))
                }
            case .commit:
                // Applied (and waiters answered) as far as the entries are durable here too;
                // the commit position itself need not be durable first.
                applyCommitted(shard: shard)
            case .installed(let base):
                // Another node's base replaces this shard's state (it is durable with this batch;
                // nobody reads a follower's state, and a primary serves only after its start entry
                // commits, which takes this batch's write first).
                if let prepared = slots[Int(shard)].prepared, prepared.base == base {
                    slots[Int(shard)].machine = prepared.machine
                } else {
                    do {
                        try slots[Int(shard)].machine.restore(Self.decodeState(base.state))
                    } catch {
                        // Checked when it arrived; applying later entries to the old state would
                        // diverge from every other replica.
                        fatalError("shard \(shard): the installed state (lsn \(base.lsn)) does not decode: \(error)")
                    }
                }
                slots[Int(shard)].prepared = nil
                let lastLSN = slots[Int(shard)].replica.lastLSN
                // The log was rewritten: a batch in flight must not mark entries durable past it.
                slots[Int(shard)].rewrites += 1
                slots[Int(shard)].appliedLSN = base.lsn
                slots[Int(shard)].durableLSN = max(base.lsn, min(slots[Int(shard)].durableLSN, lastLSN))
                slots[Int(shard)].queuedLSN = max(base.lsn, min(slots[Int(shard)].queuedLSN, lastLSN))
                metrics.snapshotsInstalled.increment()
                snapshotsInstalled += 1
                logger.info("installed shard state", metadata: ["shard/id": "\(shard)", "lsn": "\(base.lsn)"])
            case .becamePrimary(let epoch):
                slots[Int(shard)].candidacyStartedAt = nil
                logger.debug("leading shard", metadata: ["shard/id": "\(shard)", "shard/epoch": "\(epoch)"])
            case .steppedDown(let epoch):
                failWaiters(of: Int(shard), with: .outcomeUnknown)
                logger.debug("stepped down", metadata: ["shard/id": "\(shard)", "shard/epoch": "\(epoch)"])
            }
        }
        publishServing(shard: shard)
        if holdingOutbox == 0 { submitOutbox() }
    }

    private func sendAppends() {
        appendsScheduled = false
        guard !halted else { return }
        let appends = appendsToSend
        appendsToSend.removeAll()
        send(appends)
    }

    /// Hands the outbox's records to the WAL (unless they are only commit positions, which wait
    /// for the next records; `includingCommitPositions` sends them now) and queues its messages
    /// until that write is reported (at once if there is nothing to wait for).
    private func submitOutbox(includingCommitPositions: Bool = false) {
        guard !halted, !(outbox.isEmpty && (deferredRecords.isEmpty || !includingCommitPositions)) else { return }
        let batch = outbox
        outbox = Outbox()
        var records = batch.records
        if !includingCommitPositions && records.allSatisfy({ $0.type == Wire.DurableRecord.committed }) {
            deferredRecords += records
            records = []
        } else if !deferredRecords.isEmpty {
            records = deferredRecords + records
            deferredRecords = []
        }
        if !records.isEmpty {
            do {
                lastSubmitted = try log.submit(records)
            } catch {
                halt(error)
                return
            }
            metrics.walRecords.increment(by: records.count)
            walBytesSinceCheckpoint += records.reduce(0) { $0 + $1.encodedBytes }
        }
        let released = gate.hold(.init(sequence: lastSubmitted, messages: batch.messages, durableUpTo: batch.durableUpTo))
        if !released.isEmpty { apply(released) }
    }

    /// Handles what a durable write released here: messages to this node, and entries now durable.
    private func apply(_ released: DurabilityGate.Released) {
        for (shard, message, _) in released.messages { receive(shard: shard, message, from: me) }
        for (shard, lsn, rewrites) in released.durableUpTo where slots.indices.contains(Int(shard)) {
            // Unless the log was rewritten since this batch was collected (a newer batch carries that).
            if slots[Int(shard)].rewrites == rewrites {
                slots[Int(shard)].durableLSN = max(slots[Int(shard)].durableLSN, lsn)
                let directives = slots[Int(shard)].replica.onPersisted(upTo: slots[Int(shard)].durableLSN)
                if !directives.isEmpty { collect(shard: shard, directives) }
            }
            applyCommitted(shard: shard)
        }
    }

    /// A WAL write failed: its durability is unknown, so nothing that waited for it (or comes
    /// later) may leave the node, and it takes no more writes. Proposers still waiting are told
    /// at once (their entries may yet commit through the followers' copies, hence "unknown"),
    /// and ``storageFailures`` tells the node, which leaves the cluster and stops; restarted, it
    /// recovers from what its log holds.
    private func halt(_ error: any Error) {
        guard !halted else { return }
        halted = true
        logger.critical(
            "write-ahead log append failed; this node takes no more writes until it is restarted",
            metadata: ["error": "\(error)"]
        )
        gate.halt()
        outbox = Outbox()
        deferredRecords = []
        appendsToSend = []
        for shard in slots.indices { failWaiters(of: shard, with: .outcomeUnknown) }
        storageFailure.yield("\(error)")
        storageFailure.finish()
    }

    /// Sends messages: those to this node are handled here, the others shipped.
    private func send(_ messages: [(shard: UInt32, message: Replication.Message, to: NodeID)]) {
        var remote: [(shard: UInt32, message: Replication.Message, to: NodeID)] = []
        for outgoing in messages {
            if outgoing.to == me { receive(shard: outgoing.shard, outgoing.message, from: me) } else { remote.append(outgoing) }
        }
        Self.ship(remote, over: transport, addressOf: addressOf, settings: settings)
    }

    /// Sends messages to other nodes, one frame per peer (split when large), in order.
    static func ship(
        _ messages: [(shard: UInt32, message: Replication.Message, to: NodeID)],
        over transport: ClusterTransport,
        addressOf: (NodeID) -> NodeAddress?,
        settings: Settings
    ) {
        var byPeer: [NodeID: [Wire.ShardMessage]] = [:]
        var order: [NodeID] = []
        for (shard, message, to) in messages {
            if byPeer[to] == nil { order.append(to) }
            byPeer[to, default: []].append(Wire.ShardMessage(shard: shard, message: message))
        }
        for peer in order {
            guard let address = addressOf(peer), let items = byPeer[peer] else { continue }
            var frame: [Wire.ShardMessage] = []
            var bytes = 0
            func flush() {
                if frame.count == 1 {
                    transport.send(.replication(shard: frame[0].shard, frame[0].message), to: address)
                } else if !frame.isEmpty {
                    transport.send(.replicationBatch(frame), to: address)
                }
                frame.removeAll(keepingCapacity: true)
                bytes = 0
            }
            for item in items {
                let size = approximateBytes(item.message)
                if !frame.isEmpty && (frame.count >= settings.batchMessagesMax || bytes + size > settings.batchBytesMax) { flush() }
                frame.append(item)
                bytes += size
            }
            flush()
        }
    }

    /// About how many bytes a message takes on the wire (to keep batches well under the frame limit).
    static func approximateBytes(_ message: Replication.Message) -> Int {
        func size(_ entries: [Replication.Entry]) -> Int {
            entries.reduce(0) { total, entry in
                if case .command(let bytes) = entry.payload { total + 48 + bytes.count } else { total + 128 }
            }
        }
        switch message {
        case .append(_, _, _, let entries, _): return 96 + size(entries)
        case .promise(_, let promise): return 512 + size(promise.entries) + (promise.base?.state.count ?? 0)
        case .installSnapshot(_, let base): return 256 + base.state.count
        case .prepare, .refuse, .appendReply: return 96
        }
    }

    /// Applies committed entries that are durable locally, in order, and answers their waiters.
    private func applyCommitted(shard: UInt32) {
        // Only scalars are read out of the slot: a copy of it would share the machine's and the
        // log's storage, and every mutation below would then copy them whole.
        guard slots.indices.contains(Int(shard)) else { return }
        let applied = slots[Int(shard)].appliedLSN
        let upTo = min(slots[Int(shard)].replica.commitLSN, slots[Int(shard)].durableLSN)
        guard upTo > applied, slots[Int(shard)].stalled == nil else { return }
        for lsn in (applied + 1)...upTo {
            let entry = slots[Int(shard)].replica.entry(at: lsn)!
            if case .command(let bytes) = entry.payload {
                do {
                    try slots[Int(shard)].machine.apply(bytes, lsn: entry.lsn)
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
            if !slots[Int(shard)].unsettled.isEmpty, let open = slots[Int(shard)].unsettled.removeValue(forKey: entry.lsn) {
                open.settlement.settle()
            }
        }
        metrics.entriesApplied.increment(by: Int(upTo - applied))
        slots[Int(shard)].appliedLSN = upTo
    }
}
