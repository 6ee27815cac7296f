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

    /// Runs `body` on the shard's state if this node leads it and has applied everything it adopted.
    public func read<T: Sendable>(shard: UInt32, _ body: (Machine) throws -> T) throws -> T {
        guard slots.indices.contains(Int(shard)) else { throw ReplicationError.notPrimary(leader: leader(of: shard)) }
        guard slots[Int(shard)].stalled == nil else { throw ReplicationError.stalled(shard: shard) }
        guard slots[Int(shard)].isServing else { throw ReplicationError.notPrimary(leader: leader(of: shard)) }
        return try body(machines[Int(shard)])
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
}
