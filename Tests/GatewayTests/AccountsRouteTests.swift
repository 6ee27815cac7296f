import ClusterCore
import ClusterRuntime
import ClusterTestKit
import EntityRuntime
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import PlatformServices
import Prometheus
import ServiceLifecycle
import Testing

/// The accounts API against a real standalone node (replication 1, storage in a temporary directory).
@Suite(.serialized) struct AccountsRouteTests {
    /// Runs `body` with a router backed by a running standalone node.
    static func withNode(
        authLimits: AuthLimits = AuthLimits(),
        hashesMax: Int = AccountService.defaultHashesMax,
        testing: TestingSetup = .router,
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await StandaloneAccountsNode.with { running in
            let accounts = await AccountService(
                tokenSecret: "test-token-secret",
                hasher: PasswordHasher(rounds: 1 << 10),
                hashesMax: hashesMax,
                entities: Entities(running.transport)
            )
            let node = running.node
            let app = Application(
                router: GatewayApplication.router(
                    view: { node.view },
                    registry: .init(),
                    accounts: accounts,
                    authLimits: authLimits
                )
            )
            try await app.test(testing, body)
        }
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
    }

    static func errorCode(_ response: TestResponse) throws -> String? {
        (try json(response)["error"] as? [String: Any])?["code"] as? String
    }

    static func post(_ client: any TestClientProtocol, _ uri: String, _ body: String, token: String? = nil) async throws
        -> TestResponse
    {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    @Test(.timeLimit(.minutes(1)))
    func signupLoginRefreshLogout() async throws {
        try await Self.withNode { client in
            let signup = try await Self.post(
                client,
                "/v1/auth/signup",
                #"{"username":"Ada_L","email":"ada@example.com","password":"correct horse"}"#
            )
            #expect(signup.status == .created)
            // Tokens are never kept by a cache or proxy.
            #expect(signup.headers[.cacheControl] == "no-store")
            let body = try Self.json(signup)
            let user = body["user"] as! [String: Any]
            #expect(user["username"] as? String == "Ada_L")
            #expect(user["email"] as? String == "ada@example.com")
            #expect(user["display_name"] as? String == "Ada_L")
            #expect(body["expires_in"] as? Int == 900)
            let refresh = body["refresh_token"] as! String

            // Names are unique case-insensitively.
            let again = try await Self.post(
                client,
                "/v1/auth/signup",
                #"{"username":"ada_l","email":"other@example.com","password":"correct horse"}"#
            )
            #expect(again.status == .conflict)
            #expect(try Self.errorCode(again) == "username_taken")
            let sameEmail = try await Self.post(
                client,
                "/v1/auth/signup",
                #"{"username":"bob","email":"ADA@example.com","password":"correct horse"}"#
            )
            #expect(sameEmail.status == .conflict)
            #expect(try Self.errorCode(sameEmail) == "email_taken")
            // The failed signup released "bob".
            let bob = try await Self.post(
                client,
                "/v1/auth/signup",
                #"{"username":"bob","email":"bob@example.com","password":"correct horse"}"#
            )
            #expect(bob.status == .created)

            let byEmail = try await Self.post(
                client,
                "/v1/auth/login",
                #"{"email":"ada@example.com","password":"correct horse"}"#
            )
            #expect(byEmail.status == .ok)
            let wrong = try await Self.post(client, "/v1/auth/login", #"{"username":"ada_l","password":"not the one"}"#)
            #expect(wrong.status == .unauthorized)
            #expect(try Self.errorCode(wrong) == "invalid_credentials")

            // A token forged from the visible ids (user.session.anything) is refused and ends nothing.
            let ids = refresh.split(separator: ".").prefix(2).joined(separator: ".")
            let forged = try await Self.post(client, "/v1/auth/refresh", #"{"refresh_token":"\#(ids).forged"}"#)
            #expect(forged.status == .unauthorized)
            let rotated = try await Self.post(client, "/v1/auth/refresh", #"{"refresh_token":"\#(refresh)"}"#)
            #expect(rotated.status == .ok)
            #expect(rotated.headers[.cacheControl] == "no-store")
            let next = try Self.json(rotated)["refresh_token"] as! String
            #expect(next != refresh)
            // Presenting the old token again revokes the session: the new one stops working too.
            let reused = try await Self.post(client, "/v1/auth/refresh", #"{"refresh_token":"\#(refresh)"}"#)
            #expect(reused.status == .unauthorized)
            let afterReuse = try await Self.post(client, "/v1/auth/refresh", #"{"refresh_token":"\#(next)"}"#)
            #expect(afterReuse.status == .unauthorized)

            let access = try Self.json(byEmail)["access_token"] as! String
            let me = try await client.execute(
                uri: "/v1/users/me",
                method: .get,
                headers: [.authorization: "Bearer \(access)"]
            )
            #expect(me.status == .ok)
            let logout = try await Self.post(client, "/v1/auth/logout", "", token: access)
            #expect(logout.status == .noContent)
            let gone = try await client.execute(
                uri: "/v1/users/me",
                method: .get,
                headers: [.authorization: "Bearer \(access)"]
            )
            #expect(gone.status == .unauthorized)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func profilesAreValidatedAndPublicProfilesHideTheEmail() async throws {
        try await Self.withNode { client in
            let signup = try await Self.post(
                client,
                "/v1/auth/signup",
                #"{"username":"carol","email":"carol@example.com","password":"correct horse"}"#
            )
            let body = try Self.json(signup)
            let token = body["access_token"] as! String
            let id = (body["user"] as! [String: Any])["id"] as! String
            var headers: HTTPFields = [.authorization: "Bearer \(token)"]
            headers[.contentType] = "application/json"

            let patched = try await client.execute(
                uri: "/v1/users/me",
                method: .patch,
                headers: headers,
                body: ByteBuffer(
                    string:
                        #"{"display_name":"Carol","bio":"hi","country":"fr","avatar_url":"https://cdn.example/c.png"}"#
                )
            )
            #expect(patched.status == .ok)
            let user = try Self.json(patched)
            #expect(user["display_name"] as? String == "Carol")
            #expect(user["country"] as? String == "FR")

            let tooLong = try await client.execute(
                uri: "/v1/users/me",
                method: .patch,
                headers: headers,
                body: ByteBuffer(string: #"{"bio":"\#(String(repeating: "x", count: 513))"}"#)
            )
            #expect(tooLong.status == .unprocessableContent)
            #expect(try Self.errorCode(tooLong) == "invalid_bio")
            // Fields longer than a wire string are refused before the command is encoded (a
            // debug build used to stop at the encoder's assertion).
            for field in ["bio", "display_name", "avatar_url", "country"] {
                let huge = try await client.execute(
                    uri: "/v1/users/me",
                    method: .patch,
                    headers: headers,
                    body: ByteBuffer(string: #"{"\#(field)":"\#(String(repeating: "y", count: 5000))"}"#)
                )
                #expect(huge.status == .unprocessableContent, "\(field)")
                #expect(try Self.errorCode(huge) == "invalid_\(field)")
            }

            let publicProfile = try await client.execute(uri: "/v1/users/\(id)", method: .get)
            #expect(publicProfile.status == .ok)
            let profile = try Self.json(publicProfile)
            #expect(profile["display_name"] as? String == "Carol")
            #expect(profile["email"] == nil)
            let missing = try await client.execute(uri: "/v1/users/nobody", method: .get)
            #expect(missing.status == .notFound)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func badInputGetsClearErrors() async throws {
        try await Self.withNode { client in
            let malformed = try await Self.post(client, "/v1/auth/signup", "{not json")
            #expect(malformed.status == .badRequest)
            #expect(try Self.errorCode(malformed) == "malformed_json")
            let shortPassword = try await Self.post(
                client,
                "/v1/auth/signup",
                #"{"username":"dave","email":"dave@example.com","password":"short"}"#
            )
            #expect(shortPassword.status == .unprocessableContent)
            #expect(try Self.errorCode(shortPassword) == "invalid_password")
            let badName = try await Self.post(
                client,
                "/v1/auth/signup",
                #"{"username":"a b","email":"d@example.com","password":"long enough"}"#
            )
            #expect(try Self.errorCode(badName) == "invalid_username")
            let missing = try await Self.post(client, "/v1/auth/signup", #"{"username":"dave"}"#)
            #expect(missing.status == .unprocessableContent)
            let huge = try await Self.post(
                client,
                "/v1/auth/signup",
                #"{"username":"\#(String(repeating: "x", count: 70_000))"}"#
            )
            #expect(huge.status == .contentTooLarge)
            let noToken = try await client.execute(uri: "/v1/users/me", method: .get)
            #expect(noToken.status == .unauthorized)
            let forged = try await client.execute(
                uri: "/v1/users/me",
                method: .get,
                headers: [.authorization: "Bearer abc.def.ghi"]
            )
            #expect(forged.status == .unauthorized)
        }
    }
}

enum MembershipPorts {
    /// A loopback port no outgoing connection can take before the node binds it.
    static func free() throws -> Int {
        LoopbackPorts.reserve(1)[0]
    }
}
