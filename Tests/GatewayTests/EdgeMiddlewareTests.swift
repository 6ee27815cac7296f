import ClusterCore
import ClusterRuntime
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Testing

/// The edge's middleware as a client meets it: the authenticator, the per-user write brake, the
/// body decoder's answers, the admin listener and the connection cap.
@Suite(.serialized) struct EdgeMiddlewareTests {
    typealias Routes = AccountsRouteTests

    static func signup(_ client: any TestClientProtocol, _ name: String) async throws -> String {
        let response = try await Routes.post(
            client,
            "/v1/auth/signup",
            #"{"username":"\#(name)","email":"\#(name)@example.com","password":"correct horse"}"#
        )
        #expect(response.status == .created)
        return try #require(try Routes.json(response)["access_token"] as? String)
    }

    static func patch(_ client: any TestClientProtocol, _ body: String, token: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(
            uri: "/v1/users/me",
            method: .patch,
            headers: headers,
            body: ByteBuffer(string: body)
        )
    }

    @Test(.timeLimit(.minutes(1)))
    func theAuthenticatorNamesTheCallerOrRefusesClearly() async throws {
        try await Routes.withNode { client in
            let token = try await Self.signup(client, "ann")
            let me = try await client.execute(
                uri: "/v1/users/me",
                method: .get,
                headers: [.authorization: "Bearer \(token)"]
            )
            #expect(me.status == .ok)
            #expect(try Routes.json(me)["username"] as? String == "ann")
            for (header, message) in [
                (nil, "missing bearer access token"),
                ("Basic YW5uOnB3", "is not \\\"Bearer <token>\\\""),
                ("Bearer \(token.dropLast(2))xx", "invalid or expired"),
            ] {
                var headers: HTTPFields = [:]
                if let header { headers[.authorization] = header }
                let refused = try await client.execute(uri: "/v1/users/me", method: .get, headers: headers)
                #expect(refused.status == .unauthorized, "\(header ?? "no header")")
                #expect(try Routes.errorCode(refused) == "unauthorized")
                #expect(String(buffer: refused.body).contains(message), "\(String(buffer: refused.body))")
            }
            // A public profile needs no caller, and a bad token on it is still refused nowhere else.
            let id = try #require(try Routes.json(me)["id"] as? String)
            #expect(try await client.execute(uri: "/v1/users/\(id)", method: .get).status == .ok)
            // Logout is a caller's route too.
            #expect(try await Routes.post(client, "/v1/auth/logout", "").status == .unauthorized)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func eachUsersWritesAreBrakedAndReadsAndOtherUsersGoOn() async throws {
        var limits = AuthLimits()
        limits.userWritesBurst = 3
        limits.userWritesPerMinute = 1
        try await Routes.withNode(authLimits: limits) { client in
            let bea = try await Self.signup(client, "bea")
            let cid = try await Self.signup(client, "cid")
            for index in 0..<3 {
                #expect(try await Self.patch(client, #"{"bio":"take \#(index)"}"#, token: bea).status == .ok)
            }
            let refused = try await Self.patch(client, #"{"bio":"one too many"}"#, token: bea)
            #expect(refused.status == .tooManyRequests)
            #expect(try Routes.errorCode(refused) == "rate_limited")
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((50...60).contains(retryAfter))
            // The refused write changed nothing; reads are not braked; another user writes on.
            let me = try await client.execute(
                uri: "/v1/users/me",
                method: .get,
                headers: [.authorization: "Bearer \(bea)"]
            )
            #expect(me.status == .ok)
            #expect(try Routes.json(me)["bio"] as? String == "take 2")
            #expect(try await Self.patch(client, #"{"bio":"hello"}"#, token: cid).status == .ok)
            // Logout is a write too, and bea has none left.
            #expect(try await Routes.post(client, "/v1/auth/logout", "", token: bea).status == .tooManyRequests)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func bodiesAreDecodedStrictlyWithFieldNamedErrors() async throws {
        try await Routes.withNode { client in
            let token = try await Self.signup(client, "dan")
            let cases: [(body: String, status: HTTPResponse.Status, code: String)] = [
                // A camelCase member is not the snake_case one: refused, never read as display_name.
                (#"{"displayName":"Dan"}"#, .unprocessableContent, "unknown_field"),
                (#"{"bio":"x","extra":1}"#, .unprocessableContent, "unknown_field"),
                (#"{"bio":5}"#, .unprocessableContent, "invalid_bio"),
                (#"{"avatar_url":true}"#, .unprocessableContent, "invalid_avatar_url"),
                (#"["bio"]"#, .badRequest, "malformed_json"),
                ("{", .badRequest, "malformed_json"),
            ]
            for (body, status, code) in cases {
                let response = try await Self.patch(client, body, token: token)
                #expect(response.status == status, "\(body)")
                #expect(try Routes.errorCode(response) == code, "\(body): \(String(buffer: response.body))")
            }
            // Absent leaves a field, null clears a nullable one, a string sets it.
            #expect(try await Self.patch(client, #"{"country":"fr","display_name":"Dan"}"#, token: token).status == .ok)
            let cleared = try await Self.patch(client, #"{"country":null}"#, token: token)
            #expect(cleared.status == .ok)
            let profile = try Routes.json(cleared)
            #expect(profile["country"] == nil)
            #expect(profile["display_name"] as? String == "Dan")
            // A missing member of a body that needs it names the member.
            let missing = try await Routes.post(client, "/v1/auth/refresh", "{}")
            #expect(missing.status == .unprocessableContent)
            #expect(try Routes.errorCode(missing) == "invalid_refresh_token")
        }
    }

    @Test func operatorRoutesMoveToTheAdminListener() async throws {
        let view = GatewayTests.view(joined: true)
        let registry = PrometheusCollectorRegistry()
        let api = Application(
            router: GatewayApplication.router(view: { view }, registry: registry, operatorRoutes: false)
        )
        try await api.test(.router) { client in
            for uri in ["/metrics", "/v1/cluster"] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .notFound, "\(uri) is still on the API listener")
            }
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
        }
        let admin = Application(router: GatewayApplication.adminRouter(view: { view }, registry: registry))
        try await admin.test(.router) { client in
            for uri in ["/metrics", "/v1/cluster", "/health", "/ready"] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .ok, "\(uri)")
                #expect(response.headers[HTTPField.Name("X-Request-Id")!] != nil)
            }
            #expect(try await client.execute(uri: "/v1/users/me", method: .get).status == .notFound)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func pastTheConnectionCapNewConnectionsWaitForAFreeSlot() async throws {
        var limits = GatewayApplication.ConnectionLimits()
        limits.connectionsMax = 1
        let bound = PortBox()
        let app = EdgeProtectionTests.listener(limits, bound: bound)
        var logger = Logger(label: "test.edge")
        logger.logLevel = .warning
        // Run by hand: HummingbirdTesting's live client would take the only slot itself.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            var port = bound.value
            for _ in 0..<100 where port == nil {
                try await Task.sleep(for: .milliseconds(50))
                port = bound.value
            }
            let listening = try #require(port, "the listener did not start")
            let holder = try RawSocket(port: listening)
            holder.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(
                holder.response(waitingAtMost: 10)?.hasPrefix("HTTP/1.1 200") == true,
                "the first connection is served"
            )
            let waiting = try RawSocket(port: listening)
            waiting.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(waiting.response(waitingAtMost: 1) == nil, "answered while the only slot was taken")
            holder.close()
            let answer = waiting.response(waitingAtMost: 10)
            #expect(answer?.hasPrefix("HTTP/1.1 200") == true, "not answered after the slot was freed")
            waiting.close()
            await group.triggerGracefulShutdown()
        }
    }
}
