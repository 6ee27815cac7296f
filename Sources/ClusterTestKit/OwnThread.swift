import Foundation

/// Runs long, CPU-bound synchronous work — thousands of seeded simulation runs — on a thread of
/// its own and returns its result.
///
/// Swift's cooperative pool has one thread per core (two on a small CI machine), and every
/// test's tasks share it: a test that computes for a minute on a pool thread stalls the actors
/// and timers of the clustered tests running beside it, until their own deadlines fail them.
/// On a thread of its own the work competes for the cores like any other thread instead.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
