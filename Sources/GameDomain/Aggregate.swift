/// A domain aggregate: a pure value that turns commands into events and folds events into state.
///
/// `handle` decides (and may refuse with a typed error); `apply` only records what was decided,
/// so replaying the stored events always rebuilds the same state:
/// `state == events.reduce(initial) { apply }`.
public protocol Aggregate: Sendable, Equatable {
    associatedtype Command: Sendable
    associatedtype Event: Sendable, Equatable
    associatedtype Failure: Error

    /// The state of an entity that has seen no event yet.
    static var initial: Self { get }

    /// The events that `command` produces at time `now` (seconds since 1970), or why it is refused.
    func handle(_ command: Command, now: Double) throws(Failure) -> [Event]

    /// The state after `event`.
    mutating func apply(_ event: Event)
}

extension Aggregate {
    /// The state after replaying `events` from ``initial``.
    public static func replay(_ events: some Sequence<Event>) -> Self {
        var state = initial
        for event in events { state.apply(event) }
        return state
    }
}
