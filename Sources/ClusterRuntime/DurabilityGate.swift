import ClusterCore
import DequeModule
import Synchronization

/// Holds the replication host's outgoing messages until the WAL write they depend on is
/// durable, and releases them on whichever thread learns it first: the WAL's own thread when
/// it reports a write (a follower's reply leaves without waiting for the host actor), or the
/// host when it submits a batch that needs no further write.
///
/// Batches are released in submission order, and messages to other nodes are shipped under the
/// gate's lock, so what one node sends keeps that order. What the host itself must do with a
/// released batch (messages to this node, entries now durable) is returned to the caller.
final class DurabilityGate: Sendable {
    typealias Outgoing = (shard: UInt32, message: Replication.Message, to: NodeID)

    struct Batch: Sendable {
        /// The WAL submission (see ``Persistence/WriteAheadLog/submit(_:)``) the batch waits for.
        var sequence: UInt64
        var messages: [Outgoing]
        /// The highest LSN each shard's records make durable, and the shard's rewrite count then.
        var durableUpTo: [(shard: UInt32, mark: Replication.Durability.Mark)]
    }

    /// What the host does itself once batches are released: messages to this node and durability news.
    struct Released: Sendable {
        var messages: [Outgoing] = []
        var durableUpTo: [(shard: UInt32, mark: Replication.Durability.Mark)] = []
        var isEmpty: Bool { messages.isEmpty && durableUpTo.isEmpty }
    }

    private struct State {
        var waiting = Deque<Batch>()
        var durableSequence: UInt64 = 0
        var halted = false
    }

    private let state = Mutex(State())
    private let me: NodeID
    private let ship: @Sendable ([Outgoing]) -> Void

    /// - Parameter ship: sends messages to other nodes (called under the gate's lock, in order).
    init(me: NodeID, ship: @escaping @Sendable ([Outgoing]) -> Void) {
        self.me = me
        self.ship = ship
    }

    /// Holds `batch` until its write is durable; releases it (and returns the host's part) at
    /// once if it is already, and nothing submitted before it still waits.
    func hold(_ batch: Batch) -> Released {
        state.withLock { state in
            guard !state.halted else { return Released() }
            if state.waiting.isEmpty && batch.sequence <= state.durableSequence {
                return release([batch])
            }
            state.waiting.append(batch)
            return Released()
        }
    }

    /// The WAL reports `sequence` written: releases every batch that waited for it or less.
    func written(_ sequence: UInt64) -> Released {
        state.withLock { state in
            guard !state.halted else { return Released() }
            state.durableSequence = max(state.durableSequence, sequence)
            var ready: [Batch] = []
            while let first = state.waiting.first, first.sequence <= state.durableSequence {
                ready.append(state.waiting.removeFirst())
            }
            return release(ready)
        }
    }

    /// A write failed: nothing held (or held later) is ever released.
    func halt() {
        state.withLock { state in
            state.halted = true
            state.waiting.removeAll()
        }
    }

    /// Ships the batches' messages to other nodes (the caller holds the lock) and returns the rest.
    private func release(_ batches: [Batch]) -> Released {
        var released = Released()
        var remote: [Outgoing] = []
        for batch in batches {
            for outgoing in batch.messages {
                if outgoing.to == me { released.messages.append(outgoing) } else { remote.append(outgoing) }
            }
            released.durableUpTo += batch.durableUpTo
        }
        if !remote.isEmpty { ship(remote) }
        return released
    }
}
