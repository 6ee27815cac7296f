import EntityRuntime
import GameDomain

/// A kind that exists only in the tests: a running total that players add to. Its domain, its
/// schema (`Schema/tally.proto`) and the one line that registers it (``TallyKinds/registry``)
/// are all it takes; no runtime file names it.
enum Tally {
    struct State: Aggregate {
        var total: Int64 = 0
        var additions: Int64 = 0
        var lastBy = ""

        static let initial = State()

        func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            switch command {
            case .add(let amount, let by):
                guard amount > 0 else { throw .notPositive(amount) }
                return [.added(amount, by: by)]
            case .reset:
                return additions == 0 ? [] : [.reset]
            }
        }

        mutating func apply(_ event: Event) {
            switch event {
            case .added(let amount, let by):
                total += amount
                additions += 1
                lastBy = by
            case .reset:
                self = .initial
            }
        }
    }

    enum Command: Sendable, Equatable {
        case add(Int64, by: String)
        case reset
    }

    enum Event: Sendable, Equatable {
        case added(Int64, by: String)
        case reset
    }

    enum Failure: Error, Equatable, Sendable {
        case notPositive(Int64)
    }
}

/// The replicated tally: `tally/<id>`.
enum TallyKind: EntityKind {
    typealias State = Tally.State
    typealias Failure = Tally.Failure
    typealias Reply = Tally.State
    enum Read: Sendable, Equatable { case total }

    static let tag: UInt32 = 900
    static let keyPrefix = "tally/"
    static let durability = Durability.replicated

}

/// The same aggregate kept in memory on the primary only: `softtally/<id>`.
enum SoftTallyKind: EntityKind {
    typealias State = Tally.State
    typealias Failure = Tally.Failure
    typealias Reply = Tally.State
    typealias Read = TallyKind.Read

    static let tag: UInt32 = 901
    static let keyPrefix = "softtally/"
    static let durability = Durability.soft

}

/// The test kinds' registration: one line each.
enum TallyKinds {
    static let registry = EntityRegistry([TallyKind.self, SoftTallyKind.self])
}
