import ClusterRuntime
import Synchronization

/// Per-entity serialization: one command at a time per key, with a bounded queue. A lock, not
/// an actor: an uncontended entity is entered and left without a hop to another executor.
final class Mailboxes: Sendable {
    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
        /// Takes the waiter out at its deadline; cancelled when its turn comes first.
        let timer: Task<Void, Never>
    }

    private struct State {
        var waiting: [String: [Waiter]] = [:]
        var busy: Set<String> = []
        var lastWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())
    private let depthMax: Int

    init(depthMax: Int) { self.depthMax = depthMax }

    /// Waits for the entity's turn, at most until `deadline`: a caller whose deadline passes
    /// first leaves the queue with ``ReplicationError/notStarted`` and nothing is run for it.
    /// Throws `overloaded` at once if `depthMax` callers are waiting already.
    func enter(_ key: String, deadline: ContinuousClock.Instant) async throws {
        enum Entry { case entered, full, wait(UInt64) }
        let entry = state.withLock { state -> Entry in
            if state.busy.insert(key).inserted { return .entered }
            guard state.waiting[key, default: []].count < depthMax else { return .full }
            state.lastWaiterID += 1
            return .wait(state.lastWaiterID)
        }
        switch entry {
        case .entered:
            break
        case .full:
            throw ReplicationError.overloaded
        case .wait(let id):
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let timer = Task { [self] in
                    do {
                        try await Task.sleep(until: deadline, clock: .continuous)
                    } catch {
                        return  // cancelled: the turn came
                    }
                    giveUp(key, waiter: id)
                }
                let enteredMeanwhile = state.withLock { state -> Bool in
                    // The holder may have left between the two locks.
                    if state.busy.insert(key).inserted { return true }
                    state.waiting[key, default: []].append(Waiter(id: id, continuation: continuation, timer: timer))
                    return false
                }
                if enteredMeanwhile {
                    timer.cancel()
                    continuation.resume()
                }
            }
        }
        // The turn may come just as the deadline passes.
        guard ContinuousClock.now < deadline else {
            leave(key)
            throw ReplicationError.notStarted
        }
    }

    /// Takes a waiter whose deadline passed out of the queue (if its turn has not come yet).
    private func giveUp(_ key: String, waiter id: UInt64) {
        let waiter = state.withLock { state -> Waiter? in
            guard var queue = state.waiting[key], let index = queue.firstIndex(where: { $0.id == id }) else {
                return nil
            }
            let waiter = queue.remove(at: index)
            state.waiting[key] = queue.isEmpty ? nil : queue
            return waiter
        }
        waiter?.continuation.resume(throwing: ReplicationError.notStarted)
    }

    func leave(_ key: String) {
        let next = state.withLock { state -> Waiter? in
            guard var queue = state.waiting[key], !queue.isEmpty else {
                state.busy.remove(key)
                return nil
            }
            let next = queue.removeFirst()
            state.waiting[key] = queue.isEmpty ? nil : queue
            return next  // the key stays busy: it passes to `next`
        }
        next?.timer.cancel()
        next?.continuation.resume()
    }

    /// Callers waiting for the entity's turn.
    func waiting(for key: String) -> Int { state.withLock { $0.waiting[key]?.count ?? 0 } }
}
