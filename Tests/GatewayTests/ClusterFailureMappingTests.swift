import ClusterCore
import ClusterRuntime
import EntityRuntime
import Hummingbird
import HummingbirdTesting
import PlatformServices
import Testing

@testable import Gateway

/// What a client sees when the cluster cannot answer: overloaded (retry soon), timeout (the
/// outcome is unknown) and unavailable stay distinguishable, each with its own status and code.
@Suite struct ClusterFailureMappingTests {
    @Test func clusterErrorsKeepTheirMeaning() {
        let cases: [(any Error, AccountService.Failure.Kind)] = [
            (ReplicationError.overloaded, .overloaded),
            (TransportError.overloaded, .overloaded),
            (ReplicationError.timeout, .timeout),
            // Never started: nothing was applied, so the client may retry as after overload.
            (ReplicationError.notStarted, .overloaded),
            // A forwarded request's answer, as the wire's error code brings it back.
            (ReplicationError(code: "not_started", message: "queued past its deadline")!, .overloaded),
            (ReplicationError(code: "overloaded", message: "too many commands queued for user/1")!, .overloaded),
            (TransportError.timeout, .timeout),
            (ReplicationError(code: "timeout", message: "no commit in time")!, .timeout),
            (ReplicationError.stalled(shard: 3), .unavailable),
            (ReplicationError.notPrimary(leader: nil), .unavailable),
            (ReplicationError.storageFailed, .unavailable),
            // Sent, and no answer says what happened: the outcome is unknown (504), never a 503.
            (TransportError.connectionClosed, .timeout),
            (ReplicationError.outcomeUnknown, .timeout),
            (ReplicationError(code: "outcome_unknown", message: "the primary changed")!, .timeout),
        ]
        for (error, kind) in cases {
            #expect(AccountService.Failure(ClusterFailure(error)).kind == kind, "\(error)")
        }
    }

    /// What the cluster says about a failure — peer addresses, node ids, internal errors — stays
    /// in the node's log; the client gets a fixed message for its kind.
    @Test func internalDetailNeverReachesTheClient() {
        let insideErrors: [any Error] = [
            TransportError.unreachable(NodeAddress(host: "10.1.2.3", port: 7101)),
            ReplicationError.notPrimary(leader: NodeID("node-secret-7")),
            TransportError.remote(code: "x", message: "peer 10.1.2.3:7101 said no"),
            ReplicationError.storageFailed,
            TransportError.timeout,
            TransportError.overloaded,
        ]
        for error in insideErrors {
            let failure = AccountService.Failure(ClusterFailure(error))
            let shown = APIError(failure).message
            #expect(
                !shown.contains("10.1.2.3") && !shown.contains("node-secret") && !shown.contains("said no"),
                "\(shown)"
            )
            #expect(failure.detail?.isEmpty == false, "the detail is kept for the log")
        }
    }

    /// Through the error middleware: the status, the JSON code and `Retry-After` reach the client.
    @Test func overloadedAndTimeoutAnswersCarryTheirStatusCodeAndRetryAfter() async throws {
        let router = Router()
        router.middlewares.add(ErrorMiddleware())
        router.get("/overloaded") { _, _ -> String in
            throw APIError(
                AccountService.Failure(ClusterFailure(ReplicationError.overloaded))
            )
        }
        router.get("/timeout") { _, _ -> String in
            throw APIError(
                AccountService.Failure(ClusterFailure(ReplicationError.timeout))
            )
        }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/overloaded", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                #expect(String(buffer: response.body).contains(#""code":"overloaded""#))
            }
            try await client.execute(uri: "/timeout", method: .get) { response in
                #expect(response.status == .gatewayTimeout)
                #expect(response.headers[.retryAfter] == nil)
                #expect(String(buffer: response.body).contains(#""code":"timeout""#))
            }
        }
    }
}
