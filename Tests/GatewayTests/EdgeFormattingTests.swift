import Foundation
import Testing

@testable import Gateway

/// The edge's hand-rolled hot-path formatting writes exactly what Foundation would.
@Suite struct EdgeFormattingTests {
    @Test func timestampsMatchISO8601DateFormatter() {
        let formatter = ISO8601DateFormatter()
        var random = SystemRandomNumberGenerator()
        var samples: [Double] = [0, -1, 0.999, 59.5, 951_782_400, 1_795_000_000.75, 4_102_444_799, 253_402_300_799]
        samples += (0..<2000).map { _ in Double.random(in: -2_000_000_000...5_000_000_000, using: &random) }
        for seconds in samples {
            #expect(Timestamp.rfc3339(seconds) == formatter.string(from: Date(timeIntervalSince1970: seconds)), "\(seconds)")
        }
    }

    @Test func bearerTokensAreReadAsBefore() {
        #expect(BearerAuthenticator.bearerToken("Bearer abc.def") == "abc.def")
        #expect(BearerAuthenticator.bearerToken("bEaReR   abc \t") == "abc")
        #expect(BearerAuthenticator.bearerToken("Bearer ") == nil)
        #expect(BearerAuthenticator.bearerToken("Bearer \t ") == nil)
        #expect(BearerAuthenticator.bearerToken("Basic abc") == nil)
        #expect(BearerAuthenticator.bearerToken("Bearerabc") == nil)
        #expect(BearerAuthenticator.bearerToken("Bearer\u{0}abc") == nil)
        #expect(BearerAuthenticator.bearerToken("Bearer ✓é") == "✓é")
    }
}
