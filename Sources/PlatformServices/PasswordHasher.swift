import Crypto
import Foundation
import NIOPosix
import _CryptoExtras

/// scrypt password hashes, stored as `scrypt$N$r$p$salt$hash` (salt and hash base64).
///
/// The cost parameters travel with each hash, so raising them later only affects new passwords.
public struct PasswordHasher: Sendable {
    /// scrypt's N (a power of two). 2^15 is the usual interactive-login cost; tests use less.
    public var rounds: Int
    public var blockSize = 8
    public var parallelism = 1

    public init(rounds: Int = 1 << 15) {
        precondition(rounds > 1 && rounds & (rounds - 1) == 0, "scrypt rounds must be a power of two")
        self.rounds = rounds
    }

    public func hash(_ password: String) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var random = SystemRandomNumberGenerator()
        for index in salt.indices { salt[index] = random.next() }
        let derived = try derive(password, salt: salt, rounds: rounds, blockSize: blockSize, parallelism: parallelism)
        return "scrypt$\(rounds)$\(blockSize)$\(parallelism)$\(Data(salt).base64EncodedString())$\(Data(derived).base64EncodedString())"
    }

    /// ``hash(_:)`` on a thread of `pool`: scrypt is tens of milliseconds of CPU by design, which
    /// must not hold an event loop or a thread of the concurrency pool.
    public func hash(_ password: String, on pool: NIOThreadPool = .singleton) async throws -> String {
        try await pool.runIfActive { try self.hash(password) }
    }

    /// ``verify(_:against:)`` on a thread of `pool` (see ``hash(_:on:)``).
    public func verify(_ password: String, against stored: String, on pool: NIOThreadPool = .singleton) async -> Bool {
        (try? await pool.runIfActive { self.verify(password, against: stored) }) ?? false
    }

    /// Whether `password` matches `stored`; compares in constant time.
    public func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let rounds = Int(parts[1]), let blockSize = Int(parts[2]),
            let parallelism = Int(parts[3]), let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]),
            rounds > 1, rounds <= 1 << 20, blockSize <= 32, parallelism <= 16,
            let derived = try? derive(password, salt: Array(salt), rounds: rounds, blockSize: blockSize, parallelism: parallelism),
            derived.count == expected.count
        else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(derived, expected) { difference |= a ^ b }
        return difference == 0
    }

    private func derive(_ password: String, salt: [UInt8], rounds: Int, blockSize: Int, parallelism: Int) throws -> [UInt8] {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8),
            salt: salt,
            outputByteCount: 32,
            rounds: rounds,
            blockSize: blockSize,
            parallelism: parallelism
        )
        return key.withUnsafeBytes { Array($0) }
    }
}
