/// A claim on a unique name (a username or an email), the first step of the two-step signup.
///
/// Signup reserves the name for a user id, creates the user, then confirms the reservation.
/// Every step is idempotent for the same user id, so a retried or concurrent signup on another
/// node yields exactly one owner. A reservation never confirmed (its signup died) expires after
/// ``reservationTTL`` seconds and may be taken by someone else, unless a login with the
/// password confirms it first (the signup created its user but never heard back).
public enum NameReservation {
    public static let reservationTTL: Double = 60

    public struct State: Aggregate {
        public var owner: String?
        public var reservedAt: Double = 0
        public var isConfirmed = false

        public static let initial = State()

        public init() {}

        public func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            switch command {
            case .reserve(let userID):
                if let owner, owner != userID {
                    let expired = !isConfirmed && now - reservedAt > NameReservation.reservationTTL
                    guard expired else { throw .taken }
                }
                if owner == userID { return [] }
                return [.reserved(userID: userID, at: now)]
            case .confirm(let userID):
                guard owner == userID else { throw .notReservedBy(userID) }
                return isConfirmed ? [] : [.confirmed(userID: userID)]
            case .release(let userID):
                guard owner == userID else { return [] }
                return [.released(userID: userID)]
            }
        }

        public mutating func apply(_ event: Event) {
            switch event {
            case .reserved(let userID, let at):
                owner = userID
                reservedAt = at
                isConfirmed = false
            case .confirmed:
                isConfirmed = true
            case .released:
                owner = nil
                isConfirmed = false
            }
        }
    }

    public enum Command: Sendable, Equatable {
        case reserve(userID: String)
        case confirm(userID: String)
        /// Gives the name up (a signup that failed half-way, before it handed out the account:
        /// even a confirmed name, if the signup then lost its other name).
        case release(userID: String)
    }

    public enum Event: Sendable, Equatable {
        case reserved(userID: String, at: Double)
        case confirmed(userID: String)
        case released(userID: String)
    }

    public enum Failure: Error, Equatable, Sendable {
        case taken
        case notReservedBy(String)
    }
}
