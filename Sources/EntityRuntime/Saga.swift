/// A workflow across entities, step by step: each step is a command to one entity, idempotent,
/// so running the whole saga again after a crash finishes it. A step the entity *refuses* undoes
/// the steps before it (their compensations, newest first, best effort) and the saga throws the
/// refusal as the caller should see it. A step that gets no answer (a cluster failure: the
/// command may or may not have applied) undoes nothing — the caller retries, or whatever the
/// entities recorded (a name reserved but not confirmed, a mirror owed) is finished later.
///
/// ```swift
/// var saga = Saga<Failure>()
/// try await saga.step({ try await ask(name, .reserve(userID: id)) }, refused: { _ in .taken }) {
///     _ = try? await ask(name, .release(userID: id))
/// }
/// try await saga.step({ try await ask(user, .create(…)) }, refused: Failure.init)
/// ```
public struct Saga<Failure: Error>: Sendable {
    private var compensations: [@Sendable () async -> Void] = []

    public init() {}

    /// Runs one step: `run` answers the entity's reply or its refusal (and throws a cluster
    /// failure). On a refusal the earlier steps are compensated and `refused` says what to throw.
    /// `compensation` undoes this step if a later one is refused.
    @discardableResult
    public mutating func step<Reply, Refusal>(
        _ run: () async throws(Failure) -> Result<Reply, Refusal>,
        refused: (Refusal) -> Failure,
        compensation: (@Sendable () async -> Void)? = nil
    ) async throws(Failure) -> Reply {
        switch try await run() {
        case .success(let reply):
            if let compensation { compensations.append(compensation) }
            return reply
        case .failure(let refusal):
            await compensate()
            throw refused(refusal)
        }
    }

    /// Undoes the steps so far, newest first (each best effort), and forgets them.
    public mutating func compensate() async {
        for compensation in compensations.reversed() { await compensation() }
        compensations = []
    }
}
