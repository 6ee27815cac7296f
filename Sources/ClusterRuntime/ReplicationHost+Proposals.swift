import ClusterCore
import Logging
import NIOPosix
import Persistence
import Synchronization
import WireProtocol

/// Proposals and their waiters: replicating a command, answering its proposer once it commits
/// (or fails, or passes its deadline), and the settlements of writes whose callers gave up.
extension ReplicationHost {
    /// Fails every proposal waiting on the shard.
    func failWaiters(of shard: Int, with error: ReplicationError) {
        let waiters = slots[shard].waiters
        slots[shard].waiters.removeAll()
        for (_, waiter) in waiters { waiter.continuation.resume(throwing: error) }
        // The epoch is over here: whatever becomes of those entries is the next primary's.
        let unsettled = slots[shard].unsettled
        slots[shard].unsettled.removeAll()
        for (_, open) in unsettled { open.settlement.settle() }
    }

    /// Fails the proposals still not committed at their deadline with `timeout` (handing their
    /// settlements the open outcome). A proposal still not committed at its commit deadline
    /// ends the primary's epoch: the deadline cannot decide whether the entry commits (it may,
    /// later, through the followers' copies), so the next epoch does — it adopts the entry or
    /// drops it — before the shard serves again; stepping down answers the shard's other
    /// proposals `outcome_unknown` and settles their settlements.
    func failExpiredWaiters(now: ContinuousClock.Instant) {
        for index in slots.indices where !slots[index].waiters.isEmpty || !slots[index].unsettled.isEmpty {
            var resign = false
            let expired = slots[index].waiters.filter { $0.value.deadline <= now }
            for (lsn, waiter) in expired {
                slots[index].waiters[lsn] = nil
                if waiter.backstop <= now {
                    resign = true
                } else if let settlement = waiter.settlement {
                    settlement.markPending()
                    slots[index].unsettled[lsn] = (waiter.backstop, settlement)
                }
                waiter.continuation.resume(throwing: ReplicationError.timeout)
            }
            if resign || slots[index].unsettled.values.contains(where: { $0.backstop <= now }) {
                metrics.resignations.increment()
                logger.warning(
                    "a write did not commit by its commit deadline: this primary ends its epoch, the next one decides it",
                    metadata: ["shard/id": "\(index)"]
                )
                collect(shard: UInt32(index), slots[index].replica.resign())
            }
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
        guard slots[Int(shard)].isServing else { throw ReplicationError.notPrimary(leader: leader(of: shard)) }
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

    /// Runs `body` on the shard's state if this node leads it and has applied everything it
    /// adopted, and returns its result once a read round started after it confirms that this
    /// node still led then (see ``Replication/Replica/startReadRound()``): a primary deposed
    /// without knowing it — stopped, or cut off from its followers — never answers from its
    /// old state. Not confirmed by `deadline` (or `commitTimeout` from now), or deposed, it
    /// fails with `notPrimary`: nothing was read, so the caller may ask again.
    public func read<T: Sendable>(
        shard: UInt32,
        deadline: ContinuousClock.Instant? = nil,
        _ body: (Machine) throws -> T
    ) async throws -> T {
        let value = try readLocally(shard: shard, body)
        try await confirmLeadership(shard: shard, deadline: deadline)
        return value
    }

    /// Runs `body` on the shard's state if this node serves it, without a read round.
    func readLocally<T>(shard: UInt32, _ body: (Machine) throws -> T) throws -> T {
        guard slots.indices.contains(Int(shard)) else { throw ReplicationError.notPrimary(leader: leader(of: shard)) }
        guard slots[Int(shard)].stalled == nil else { throw ReplicationError.stalled(shard: shard) }
        guard slots[Int(shard)].isServing else { throw ReplicationError.notPrimary(leader: leader(of: shard)) }
        return try body(machines[Int(shard)])
    }

    /// Decides on the shard's state and replicates the decision, in one call: `decide` sees the
    /// state and returns the command to replicate, if any, and the result to return once that
    /// command is committed (see ``propose(shard:_:deadline:settlement:)``). A decision that
    /// writes nothing (a refusal, say) is a read: it returns once a read round confirms it (see
    /// ``read(shard:deadline:_:)``). One that writes needs no round: its command commits only
    /// in an epoch no newer one has superseded.
    public func execute<T: Sendable>(
        shard: UInt32,
        deadline: ContinuousClock.Instant? = nil,
        settlement: Settlement? = nil,
        _ decide: (Machine) throws -> (command: [UInt8]?, result: T)
    ) async throws -> T {
        let (command, result) = try readLocally(shard: shard, decide)
        if let command {
            _ = try await propose(shard: shard, command, deadline: deadline, settlement: settlement)
        } else {
            try await confirmLeadership(shard: shard, deadline: deadline)
        }
        return result
    }

    // MARK: - Read rounds

    /// Returns once a read round of the shard started after this call is confirmed, or at once
    /// under a read lease (see ``ReplicationSettings/readLease``). Reads that arrive while a
    /// round is out wait for the next one, which starts when that one is confirmed: one round
    /// at a time per shard, shared by every read that waits for it.
    func confirmLeadership(shard: UInt32, deadline: ContinuousClock.Instant?) async throws {
        let index = Int(shard)
        // A replica set of one: nobody else can lead a newer epoch without this node's promise.
        if slots[index].replica.primaryReplicas?.count == 1 { return }
        let now = ContinuousClock.now
        if let epoch = slots[index].leaseEpoch, epoch == slots[index].replica.primaryEpoch,
            now < slots[index].leaseUntil
        {
            // Under a read lease: no newer epoch can have a majority yet. Renewed ahead of its
            // end, so that steady reads rarely wait for a round.
            if slots[index].leaseUntil - now < settings.readLeaseServed / 2, slots[index].readRoundInFlight == nil {
                startReadRound(shard: shard)
            }
            return
        }
        let deadline = deadline ?? (.now + settings.commitTimeout)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            slots[index].readWaiters.append(ReadWaiter(round: nil, deadline: deadline, continuation: continuation))
            if slots[index].readRoundInFlight == nil { startReadRound(shard: shard) }
        }
    }

    /// Starts a read round for the reads waiting without one.
    func startReadRound(shard: UInt32) {
        let index = Int(shard)
        let round: UInt64
        let directives: [Replication.Directive]
        do {
            (round, directives) = try slots[index].replica.startReadRound()
        } catch {
            failReadWaiters(of: index, with: .notPrimary(leader: leader(of: shard)))
            return
        }
        slots[index].readRoundInFlight = round
        slots[index].readRoundStartedAt = .now
        for waiter in slots[index].readWaiters.indices where slots[index].readWaiters[waiter].round == nil {
            slots[index].readWaiters[waiter].round = round
        }
        collect(shard: shard, directives)
    }

    /// Answers the reads that waited for rounds up to `round`, takes the read lease the round
    /// in flight gives (when leases are on), and starts the next round for the reads that
    /// arrived since.
    func confirmReads(shard: UInt32, epoch: Replication.Epoch, upTo round: UInt64) {
        let index = Int(shard)
        if settings.readLease > .zero, let inFlight = slots[index].readRoundInFlight, inFlight <= round,
            let started = slots[index].readRoundStartedAt
        {
            if slots[index].leaseEpoch != epoch { slots[index].leaseUntil = started }
            slots[index].leaseEpoch = epoch
            slots[index].leaseUntil = max(slots[index].leaseUntil, started + settings.readLeaseServed)
        }
        var waiting: [ReadWaiter] = []
        for waiter in slots[index].readWaiters {
            if let awaited = waiter.round, awaited <= round {
                waiter.continuation.resume()
            } else {
                waiting.append(waiter)
            }
        }
        slots[index].readWaiters = waiting
        if let inFlight = slots[index].readRoundInFlight, inFlight <= round { slots[index].readRoundInFlight = nil }
        if slots[index].readRoundInFlight == nil && !waiting.isEmpty { startReadRound(shard: shard) }
    }

    /// Fails every read waiting on the shard.
    func failReadWaiters(of shard: Int, with error: ReplicationError) {
        let waiters = slots[shard].readWaiters
        slots[shard].readWaiters.removeAll()
        slots[shard].readRoundInFlight = nil
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
    }

    /// Fails the reads whose round was not confirmed by their deadline: this node could not
    /// make sure it still leads (a majority of its replica set did not answer).
    func failExpiredReads(now: ContinuousClock.Instant) {
        for index in slots.indices where !slots[index].readWaiters.isEmpty {
            let expired = slots[index].readWaiters.filter { $0.deadline <= now }
            guard !expired.isEmpty else { continue }
            slots[index].readWaiters.removeAll { $0.deadline <= now }
            if slots[index].readWaiters.allSatisfy({ $0.round == nil }) && !slots[index].readWaiters.isEmpty {
                // Only later reads remain: they still wait for a round of their own.
                slots[index].readRoundInFlight = nil
                startReadRound(shard: UInt32(index))
            }
            for waiter in expired { waiter.continuation.resume(throwing: ReplicationError.notPrimary(leader: nil)) }
        }
    }

    /// Proposals made here and not yet answered (committed, failed or expired), all shards together.
    public var proposalsWaiting: Int { inFlight }
}

extension ReplicationHost {
    /// Runs `body` on the state of every shard this node serves now (and has not stalled),
    /// without a read round: for searches and sweeps, where a moment-old answer will do and
    /// any change still goes through ``execute(shard:deadline:settlement:_:)``. `shards`
    /// limits it to those listed. Returns the shards it ran on and what `body` gave.
    public func peekServed<T: Sendable>(shards: [UInt32]? = nil, _ body: (UInt32, Machine) throws -> T) rethrows
        -> [(shard: UInt32, value: T)]
    {
        var found: [(shard: UInt32, value: T)] = []
        let wanted = shards ?? slots.indices.map { UInt32($0) }
        for shard in wanted where slots.indices.contains(Int(shard)) {
            guard slots[Int(shard)].isServing, slots[Int(shard)].stalled == nil else { continue }
            found.append((shard, try body(shard, machines[Int(shard)])))
        }
        return found
    }
}
