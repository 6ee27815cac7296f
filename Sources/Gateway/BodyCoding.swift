import Foundation
import Hummingbird

/// How JSON bodies are read and written at the edge: one decoder and one encoder, configured once
/// (no coder, formatter or `JSONSerialization` per request). Members are snake_case on the wire and
/// camelCase in Swift; the conversion is the coders' (no `CodingKeys` per body).
///
/// The decoder's key strategy is strict where Foundation's `.convertFromSnakeCase` is lenient: a
/// member that is not snake_case (`displayName`) matches no property, so a body that refuses
/// unknown members (``StrictMembers``) refuses it instead of reading it as `display_name`.
/// The keys of free-form maps (`[String: …]`) are never converted, in either direction.
public enum BodyCoding {
    /// The largest JSON body accepted.
    public static var bodyBytesMax: Int { 64 * 1024 }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in MemberKey(stringValue: camelCase(path.last?.stringValue ?? ""))
        }
        return decoder
    }()

    /// Marks a wire name that is not snake_case: it matches no Swift property.
    static let notSnakeCase: Character = "\u{1}"

    /// `display_name` → `displayName`; anything that is not lowercase snake_case keeps its text
    /// behind ``notSnakeCase``.
    static func camelCase(_ name: String) -> String {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard !name.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isLowerOrDigit) }) else {
            return String(notSnakeCase) + name
        }
        return parts.enumerated().map { index, part in
            index == 0 ? String(part) : part.prefix(1).uppercased() + part.dropFirst()
        }
        .joined()
    }

    /// The wire name of a decoded key (the inverse of ``camelCase(_:)``), for error messages.
    static func wireName(_ key: any CodingKey) -> String {
        let name = key.stringValue
        if name.first == notSnakeCase { return String(name.dropFirst()) }
        var wire = ""
        for character in name {
            if character.isUppercase {
                wire += "_" + character.lowercased()
            } else {
                wire.append(character)
            }
        }
        return wire
    }

    private static func isLowerOrDigit(_ byte: UInt8) -> Bool {
        (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
    }
}

/// Any member name.
struct MemberKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// `request.decode` for Plume's bodies: reads at most ``BodyCoding/bodyBytesMax`` bytes, decodes
/// with ``BodyCoding``'s decoder, and turns every failure into the error a client sees:
/// 413 `payload_too_large`, 400 `malformed_json` (not JSON, or not an object), 422
/// `invalid_<member>` (missing, or of the wrong type); a body's own checks throw ``APIError``s,
/// which pass unchanged.
public struct BodyDecoder: RequestDecoder {
    public func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws
        -> T
    {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: context.maxUploadSize)
        } catch {
            throw APIError(
                .contentTooLarge,
                code: "payload_too_large",
                message: "the body exceeds \(context.maxUploadSize) bytes"
            )
        }
        do {
            return try BodyCoding.decoder.decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw Self.apiError(error)
        }
    }

    static func apiError(_ error: DecodingError) -> APIError {
        switch error {
        case .keyNotFound(let key, _):
            let name = BodyCoding.wireName(key)
            return APIError(.unprocessableContent, code: "invalid_\(name)", message: "\(name) is required")
        case .typeMismatch(let type, let context) where !context.codingPath.isEmpty:
            return invalid(context.codingPath, expected: type)
        case .valueNotFound(let type, let context) where !context.codingPath.isEmpty:
            return invalid(context.codingPath, expected: type)
        default:
            return APIError(.badRequest, code: "malformed_json", message: "the body is not a JSON object")
        }
    }

    static func invalid(_ path: [any CodingKey], expected type: Any.Type) -> APIError {
        let name = BodyCoding.wireName(path[0])
        let kind = type == String.self ? "a string" : type == Bool.self ? "true or false" : "\(type)".lowercased()
        return APIError(.unprocessableContent, code: "invalid_\(name)", message: "\(name) must be \(kind)")
    }
}

/// A body that refuses members it does not know (422 `unknown_field`).
protocol StrictMembers {
    associatedtype CodingKeys: CodingKey
}

extension StrictMembers {
    /// Throws `unknown_field` naming the first unknown member (by wire name) if there is one.
    /// The names are worked out only then: a body with known members pays one count.
    static func refuseUnknownMembers(_ decoder: any Decoder) throws {
        let members = try decoder.container(keyedBy: MemberKey.self).allKeys
        let known = members.lazy.filter { CodingKeys(stringValue: $0.stringValue) != nil }.count
        guard known < members.count else { return }
        let unknown = members.map(BodyCoding.wireName).sorted().first { wire in
            CodingKeys(stringValue: BodyCoding.camelCase(wire)) == nil
        }
        throw APIError(.unprocessableContent, code: "unknown_field", message: "unknown field \(unknown ?? "?")")
    }
}
