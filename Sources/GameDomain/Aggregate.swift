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

/// A domain failure that clients see as a code (`lobby_full`, `already_queued` …), plus one case
/// for invalid input: how such failures cross between nodes, one way for every kind.
public protocol CodedRefusal: Error, Sendable, Equatable {
    /// Every failure but the invalid one (to find one by its code).
    static var refusals: [Self] { get }
    static func invalid(field: String, message: String) -> Self
    /// The code clients see.
    var code: String { get }
    /// The field and what is wrong, for the invalid failure; nil for the others.
    var invalidInput: (field: String, message: String)? { get }
}

extension CodedRefusal {
    /// The failure with `code` (not the invalid one).
    public init?(code: String) {
        guard let failure = Self.refusals.first(where: { $0.code == code }) else { return nil }
        self = failure
    }
}
