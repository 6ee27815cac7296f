/// Polls `condition` every `interval` until it holds or `timeout` has passed; returns whether it
/// held. The tests' one way to wait for something a cluster does in its own time (an election,
/// a replica catching up) with a generous liveness bound instead of a fixed sleep.
public func eventually(
    timeout: Duration = .seconds(30),
    every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let giveUp = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < giveUp else { return false }
        do {
            try await Task.sleep(for: interval)
        } catch {
            return false  // cancelled: the wait is over, unmet
        }
    }
}
