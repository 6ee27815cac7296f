/// The input rules of accounts, shared by the aggregates and the HTTP edge.
public enum Validation {
    public static let usernameLength = 3...32
    /// Limits in characters (what a player counts) and in UTF-8 bytes (what is stored: a
    /// character may take many bytes — an emoji four, a letter with combining marks more).
    public static let displayNameCharactersMax = 64
    public static let displayNameBytesMax = 256
    public static let bioCharactersMax = 512
    public static let bioBytesMax = 2048
    public static let passwordLengthMin = 8
    public static let emailBytesMax = 254
    public static let urlBytesMax = 2048

    /// 3-32 characters of `[a-zA-Z0-9_.-]`; unique case-insensitively.
    public static func username(_ text: String) throws(User.Failure) {
        guard usernameLength.contains(text.count),
            text.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else {
            throw .invalid(field: "username", message: "must be 3 to 32 characters of letters, digits, '_', '.' or '-'")
        }
    }

    /// The form under which uniqueness is checked.
    public static func usernameKey(_ text: String) -> String { text.lowercased() }

    /// A plausible address: one `@`, a non-empty local part, a dotted domain of letters, digits and `-`.
    public static func email(_ text: String) throws(User.Failure) {
        let failure = User.Failure.invalid(field: "email", message: "is not a valid email address")
        guard text.utf8.count <= emailBytesMax, !text.contains(where: { $0.isWhitespace }) else { throw failure }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64 else { throw failure }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2,
            labels.allSatisfy({ label in
                !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
            }),
            labels.last!.count >= 2
        else { throw failure }
    }

    /// Emails are unique and stored with the domain lowercased; the whole address is compared lowercased.
    public static func normalizedEmail(_ text: String) -> String {
        let parts = text.split(separator: "@", maxSplits: 1)
        guard parts.count == 2 else { return text }
        return "\(parts[0])@\(parts[1].lowercased())"
    }

    public static func emailKey(_ text: String) -> String { text.lowercased() }

    public static func password(_ text: String) throws(User.Failure) {
        guard text.count >= passwordLengthMin else {
            throw .invalid(field: "password", message: "must be at least \(passwordLengthMin) characters")
        }
    }

    public static func displayName(_ text: String) throws(User.Failure) {
        guard !text.trimmingWhitespace.isEmpty, text.utf8.count <= displayNameBytesMax,
            text.count <= displayNameCharactersMax
        else {
            throw .invalid(
                field: "display_name",
                message: "must be 1 to \(displayNameCharactersMax) characters (at most \(displayNameBytesMax) bytes)"
            )
        }
    }

    public static func bio(_ text: String) throws(User.Failure) {
        guard text.utf8.count <= bioBytesMax, text.count <= bioCharactersMax else {
            throw .invalid(field: "bio", message: "must be at most \(bioCharactersMax) characters (\(bioBytesMax) bytes)")
        }
    }

    public static func avatarURL(_ text: String) throws(User.Failure) {
        let lower = text.lowercased()
        guard text.utf8.count <= urlBytesMax, lower.hasPrefix("https://") || lower.hasPrefix("http://"),
            !text.contains(where: { $0.isWhitespace }), text.split(separator: "/", omittingEmptySubsequences: true).count >= 2
        else { throw .invalid(field: "avatar_url", message: "must be an http(s) URL of at most \(urlBytesMax) bytes") }
    }

    /// An ISO 3166-1 alpha-2 code such as `FR` (letters, either case).
    public static func country(_ text: String) throws(User.Failure) {
        guard text.utf8.count == 2, text.utf8.allSatisfy({ isLetter($0) }) else {
            throw .invalid(field: "country", message: "must be a two-letter ISO 3166-1 code")
        }
    }

    static func isLetter(_ byte: UInt8) -> Bool { (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) }
    public static func isAlphanumeric(_ byte: UInt8) -> Bool { isLetter(byte) || (byte >= 0x30 && byte <= 0x39) }
}

extension String {
    var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? endIndex
        return start < end ? self[start..<end] : ""
    }
}
