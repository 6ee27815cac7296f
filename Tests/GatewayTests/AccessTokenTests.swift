import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Testing

/// Access tokens carry and are checked for who issued them, for whom, when, and with which key:
/// a token signed with the right key but the wrong issuer, audience, times or key id is refused.
@Suite(.serialized) struct AccessTokenTests {
    typealias Routes = AccountsRouteTests

    /// Claims as a forger who knows the signing key could write them.
    struct Claims: JWTPayload {
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var iat: IssuedAtClaim
        var sid: String

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// The key `AccountService` derives from the secret `withNode` gives it.
    static let key = SymmetricKey(data: SHA256.hash(data: Array("plume-access-tokens:test-token-secret".utf8)))
    static var keyID: String {
        let digest = key.withUnsafeBytes { SHA256.hash(data: Array($0)) }
        return "hs256-" + digest.prefix(8).map { byte in String(format: "%02x", byte) }.joined()
    }

    static func token(_ claims: Claims, kid: String?) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(key: key), digestAlgorithm: .sha256)
        return try await keys.sign(claims, kid: kid.map { JWKIdentifier(string: $0) })
    }

    @Test(.timeLimit(.minutes(1)))
    func onlyTokensWithEveryClaimRightAreTaken() async throws {
        try await Routes.withNode { client in
            let signup = try await Routes.post(
                client,
                "/v1/auth/signup",
                #"{"username":"hana","email":"hana@example.com","password":"correct horse"}"#
            )
            let body = try Routes.json(signup)
            let issued = try #require(body["access_token"] as? String)
            let userID = try #require((body["user"] as? [String: Any])?["id"] as? String)
            // The real token names its key and carries every claim.
            let headerJSON = try #require(Self.part(0, of: issued).flatMap { String(data: $0, encoding: .utf8) })
            #expect(headerJSON.contains(Self.keyID), "\(headerJSON)")
            let sessionID = try #require(try Self.sessionID(of: issued))

            func me(_ token: String) async throws -> HTTPResponse.Status {
                try await client.execute(
                    uri: "/v1/users/me",
                    method: .get,
                    headers: [.authorization: "Bearer \(token)"]
                ).status
            }
            #expect(try await me(issued) == .ok)
            let now = Date()
            let good = Claims(
                iss: "plume",
                aud: AudienceClaim(value: ["plume-api"]),
                sub: SubjectClaim(value: userID),
                exp: ExpirationClaim(value: now.addingTimeInterval(600)),
                nbf: NotBeforeClaim(value: now),
                iat: IssuedAtClaim(value: now),
                sid: sessionID
            )
            // The forger's faithful copy passes (it knows the key): the checks below are the claims'.
            #expect(try await me(try await Self.token(good, kid: Self.keyID)) == .ok)
            var cases: [(String, Claims, String?)] = []
            var claims = good
            claims.iss = "someone-else"
            cases.append(("issuer", claims, Self.keyID))
            claims = good
            claims.iss = nil
            cases.append(("no issuer", claims, Self.keyID))
            claims = good
            claims.aud = AudienceClaim(value: ["another-api"])
            cases.append(("audience", claims, Self.keyID))
            claims = good
            claims.aud = nil
            cases.append(("no audience", claims, Self.keyID))
            claims = good
            claims.nbf = NotBeforeClaim(value: now.addingTimeInterval(3600))
            cases.append(("not yet valid", claims, Self.keyID))
            claims = good
            claims.iat = IssuedAtClaim(value: now.addingTimeInterval(3600))
            cases.append(("issued in the future", claims, Self.keyID))
            cases.append(("no key id", good, nil))
            cases.append(("another key id", good, "hs256-0000000000000000"))
            for (name, claims, kid) in cases {
                #expect(try await me(try await Self.token(claims, kid: kid)) == .unauthorized, "\(name)")
            }
        }
    }

    /// Part `index` of a JWT (header 0, claims 1), base64url-decoded.
    static func part(_ index: Int, of token: String) -> Data? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var padded = String(parts[index]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(
            of: "_",
            with: "/"
        )
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded)
    }

    static func sessionID(of token: String) throws -> String? {
        guard let data = part(1, of: token) else { return nil }
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["sid"] as? String
    }
}
