import EntityRuntime
import GameDomain

/// Why a service refused or could not do a request: what the HTTP edge maps to a status and a
/// code, for every service (accounts, friends, chat, notifications).
public struct ServiceFailure: Error, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        case invalid(field: String)
        case usernameTaken
        case emailTaken
        case badCredentials
        case unauthorized
        case notFound
        /// Refused by a rule of the service, with the code the client sees: 403 (`not_friends`),
        /// 409 (`blocked`, `friend_limit`) or 422 (`cannot_friend_self`).
        case forbidden(code: String)
        case conflict(code: String)
        case unprocessable(code: String)
        /// Refused for now, with the code the client sees (429: `queue_full`): retry later.
        case tooMany(code: String)
        /// The entity's queue or the node's in-flight writes are full: retry shortly.
        case overloaded
        /// The deadline passed before the answer: a write may or may not have been applied.
        case timeout
        case unavailable
    }

    public var kind: Kind
    /// What the client is told.
    public var message: String
    /// What happened inside the cluster (peer addresses, node ids, internal errors): for the
    /// node's log, never for the client.
    public var detail: String?

    public init(kind: Kind, message: String, detail: String? = nil) {
        self.kind = kind
        self.message = message
        self.detail = detail
    }

    /// What a failed cluster call means for the client (see ``ClusterFailure``): one fixed
    /// message per kind; the cluster's own words stay in ``detail``.
    public init(_ failure: ClusterFailure) {
        switch failure.kind {
        case .overloaded:
            self.init(
                kind: .overloaded,
                message: "the cluster is busy; nothing was applied",
                detail: failure.message
            )
        case .timeout:
            self.init(kind: .timeout, message: "no answer from the cluster", detail: failure.message)
        case .unavailable:
            self.init(
                kind: .unavailable,
                message: "this part of the cluster is not available right now; nothing was applied",
                detail: failure.message
            )
        }
    }
}

extension ServiceFailure {
    /// What the user entity's refusal means for the client.
    init(_ failure: User.Failure) {
        switch failure {
        case .invalid(let field, let message):
            self.init(kind: .invalid(field: field), message: "\(field) \(message)")
        case .notFound: self.init(kind: .notFound, message: "no such user")
        case .sessionInvalid: self.init(kind: .unauthorized, message: "the session is unknown, expired or revoked")
        case .sessionRevoked:
            self.init(kind: .unauthorized, message: "this refresh token was already used; the session is revoked")
        case .alreadyExists: self.init(kind: .unavailable, message: "the user exists already")
        }
    }
}
