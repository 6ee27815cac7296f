import Synchronization

/// Tells a proposer whose wait ended at its deadline when its proposal's fate is known.
///
/// A proposal whose caller stopped waiting may still commit. Whoever serialises commands on
/// the proposal's state (an entity's mailbox) must not let the next command decide on a state
/// that lacks it, so it hands the proposal a settlement: if the wait times out while the
/// proposal is still open, the host marks the settlement ``isPending`` before answering
/// `timeout`, and runs `onSettled` once the entry is applied or its primary's epoch ends —
/// which the host's commit deadline for it forces: a proposal still open then ends the epoch,
/// so the next one decides whether it committed before the shard serves again.
public final class Settlement: Sendable {
    private enum Phase { case open, pending, settled }
    private let phase = Mutex(Phase.open)
    private let onSettled: @Sendable () -> Void

    public init(onSettled: @escaping @Sendable () -> Void) {
        self.onSettled = onSettled
    }

    /// Whether the host took the proposal over (its outcome was open when the wait ended):
    /// `onSettled` then runs, or has run, exactly once.
    public var isPending: Bool { phase.withLock { $0 != .open } }

    func markPending() {
        phase.withLock { $0 = .pending }
    }

    func settle() {
        let run = phase.withLock { phase -> Bool in
            guard phase == .pending else { return false }
            phase = .settled
            return true
        }
        if run { onSettled() }
    }
}
