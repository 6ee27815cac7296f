import Crypto
import Foundation
import Testing

@testable import PlatformServices

/// Refresh-token digests and random tokens are encoded by hand on the hot path: exactly as
/// Foundation's formatting and base64 (with the URL alphabet, unpadded) would.
@Suite struct TokenEncodingTests {
    @Test func digestsAreLowercaseHexOfSHA256() {
        for token in ["", "a", "u1.s1.secret", String(repeating: "✓", count: 100)] {
            let expected = SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(AccountService.digest(token) == expected)
        }
    }

    @Test func randomTokensAreUnpaddedBase64URL() {
        var random = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            let expected = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(AccountService.base64URL(bytes) == expected, "\(bytes)")
        }
        #expect(AccountService.randomToken(bytes: 32).utf8.count == 43)
    }
}
