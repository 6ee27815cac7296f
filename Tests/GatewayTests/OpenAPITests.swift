import EntityRuntime
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Gateway
@testable import PlatformServices

/// The OpenAPI document and the router agree: every route is documented, every documented
/// route exists, and the document is served.
@Suite struct OpenAPITests {
    static func documented() throws -> Set<String> {
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any]
        )
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var routes: Set<String> = []
        for (path, operations) in paths {
            // The router describes a captured parameter as OpenAPI writes it: `{id}`.
            for method in operations.keys { routes.insert("\(method.uppercased()) \(path)") }
        }
        return routes
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let accounts = await AccountService(
            tokenSecret: "openapi",
            entities: Entities(NeverTransport())
        )
        let view = GatewayTests.view(joined: true)
        let social = SocialService(entities: Entities(NeverTransport()), accounts: accounts)
        let lobbies = LobbyService(
            entities: Entities(NeverTransport()),
            social: social,
            settings: .init(),
            tokenSecret: "openapi"
        )
        let matchmaking = MatchmakingService(entities: Entities(NeverTransport()), lobbies: lobbies, settings: .init())
        let router = GatewayApplication.router(
            view: { view },
            registry: .init(),
            accounts: accounts,
            social: social,
            lobbies: lobbies,
            matchmaking: matchmaking
        )
        let routed = Set(router.routes.map { "\($0.method) \($0.path)" })
        let documented = try Self.documented()
        #expect(routed.subtracting(documented).isEmpty, "undocumented: \(routed.subtracting(documented).sorted())")
        #expect(
            documented.subtracting(routed).isEmpty,
            "documented but not routed: \(documented.subtracting(routed).sorted())"
        )
        #expect(routed.count >= 12)
    }

    @Test func theDocumentIsServed() async throws {
        try await GatewayTests.app(joined: true).test(.router) { client in
            try await client.execute(uri: "/v1/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == OpenAPIDocument.json)
            }
        }
    }
}

/// A transport with no cluster behind it (the router test only lists routes).
struct NeverTransport: EntityTransport {
    func ask<K: EntityKind>(_ kind: K.Type, key: String, _ request: EntityRequest<K>)
        async throws(EntityFailure<K.Failure>) -> K.Reply
    {
        throw .cluster(ClusterFailure(kind: .unavailable, message: "no cluster"))
    }
}
