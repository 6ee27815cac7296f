import Foundation
import GameDomain
import PlatformServices

/// The WebSocket protocol of `/v1/ws`, without the socket: client frames in, reply frames out.
///
/// - A request is `{"op": "<name>", "id": <string or number>, "data": {…}}`.
/// - A reply carries the request's `id`: `{"id": …, "ok": true, "data": {…}}` or
///   `{"id": …, "ok": false, "error": {"code", "message"}}`.
/// - A push is `{"push": "<kind>", "data": {…}}`.
///
/// A text frame that is not a JSON object with a string `op` (or a binary frame) answers
/// `malformed_frame` with a null id; an op this server does not know answers `unknown_op`;
/// data of the wrong shape answers `invalid_<field>`. None of them closes the socket.
enum RealtimeProtocol {
    /// A request's `id`, echoed as it came (a string or a number; null when missing).
    enum RequestID: Sendable, Equatable {
        case string(String)
        /// The number's JSON text, as the client wrote it.
        case number(String)
        case null

        var json: String {
            switch self {
            case .string(let text): RealtimeProtocol.quoted(text)
            case .number(let text): text
            case .null: "null"
            }
        }
    }

    /// A parsed request: its op, id and `data` (as JSON bytes, `{}` when absent).
    struct Request: Sendable {
        var op: String
        var id: RequestID
        var data: Data
    }

    /// Parses a text frame; a frame that is not a request is refused with the reply to send.
    static func parse(_ text: String) -> Result<Request, Refusal> {
        guard case .object(let members)? = try? plainDecoder.decode(JSONValue.self, from: Data(text.utf8)) else {
            return .failure(Refusal(id: .null, code: "malformed_frame", message: "a frame is a JSON object"))
        }
        let id: RequestID
        switch members["id"] {
        case nil, .null?: id = .null
        case .string(let text)?: id = .string(text)
        case .number(let number)?:
            id = .number(number.rounded() == number && abs(number) < 9e15 ? String(Int64(number)) : "\(number)")
        default:
            return .failure(Refusal(id: .null, code: "malformed_frame", message: "id must be a string or a number"))
        }
        guard case .string(let op)? = members["op"] else {
            return .failure(Refusal(id: id, code: "malformed_frame", message: "a request names its op"))
        }
        switch members["data"] {
        case nil, .null?:
            return .success(Request(op: op, id: id, data: Data("{}".utf8)))
        case .object(let data)?:
            let bytes = (try? plainEncoder.encode(JSONValue.object(data))) ?? Data("{}".utf8)
            return .success(Request(op: op, id: id, data: bytes))
        default:
            return .failure(Refusal(id: id, code: "invalid_data", message: "data must be an object"))
        }
    }

    static let plainDecoder = JSONDecoder()
    static let plainEncoder = JSONEncoder()

    /// Any JSON value (the envelope is read before its op says what `data` holds).
    enum JSONValue: Codable, Sendable {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([JSONValue])
        case object([String: JSONValue])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let value = try? container.decode(Bool.self) {
                self = .bool(value)
            } else if let value = try? container.decode(Double.self) {
                self = .number(value)
            } else if let value = try? container.decode(String.self) {
                self = .string(value)
            } else if let value = try? container.decode([JSONValue].self) {
                self = .array(value)
            } else {
                self = .object(try container.decode([String: JSONValue].self))
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .null: try container.encodeNil()
            case .bool(let value): try container.encode(value)
            case .number(let value): try container.encode(value)
            case .string(let value): try container.encode(value)
            case .array(let value): try container.encode(value)
            case .object(let value): try container.encode(value)
            }
        }
    }

    /// A refused request: the error reply to send.
    struct Refusal: Error, Sendable {
        var id: RequestID
        var code: String
        var message: String

        var frame: String { RealtimeProtocol.error(id: id, code: code, message: message) }
    }

    static func reply(id: RequestID, data: some Encodable) -> String {
        "{\"id\":\(id.json),\"ok\":true,\"data\":\(encoded(data))}"
    }

    static func error(id: RequestID, code: String, message: String) -> String {
        "{\"id\":\(id.json),\"ok\":false,\"error\":{\"code\":\(quoted(code)),\"message\":\(quoted(message))}}"
    }

    static func push(_ kind: String, data: some Encodable) -> String {
        "{\"push\":\(quoted(kind)),\"data\":\(encoded(data))}"
    }

    /// `data` as JSON with the edge's coder (snake_case members).
    static func encoded(_ data: some Encodable) -> String {
        // The edge's bodies always encode (strings, numbers, arrays and maps of them).
        let bytes = (try? BodyCoding.encoder.encode(data)) ?? Data("{}".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `text` as a JSON string (RFC 8259 escapes; `/` left alone, as the edge's coder does).
    static func quoted(_ text: String) -> String {
        let plain = text.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        if plain { return "\"" + text + "\"" }
        var out = "\""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// The push `presence` P, written directly: the hottest frame (one per change per watching
    /// node), and the same JSON as ``push(_:data:)`` of a `PresenceBody` at a fraction of the cost.
    static func presencePush(_ view: Presence.View) -> String {
        let rich = view.rich.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + quoted($0.value) }
            .joined(separator: ",")
        let updatedAt = view.updatedAt.map { quoted(Timestamp.rfc3339($0)) } ?? "null"
        return "{\"push\":\"presence\",\"data\":{\"user_id\":\(quoted(view.userID)),\"status\":"
            + "\(quoted(view.status.rawValue)),\"rich\":{\(rich)},\"updated_at\":\(updatedAt)}}"
    }

    /// An op's `data` decoded as `T`: a member missing or of the wrong type is `invalid_<member>`,
    /// an unknown member `unknown_field`.
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request) throws(Refusal) -> T {
        do {
            return try BodyCoding.decoder.decode(T.self, from: request.data)
        } catch let error as DecodingError {
            let api = BodyDecoder.apiError(error)
            throw Refusal(id: request.id, code: api.code, message: api.message)
        } catch let error as APIError {
            throw Refusal(id: request.id, code: error.code, message: error.message)
        } catch {
            throw Refusal(id: request.id, code: "invalid_data", message: "\(error)")
        }
    }
}

/// The empty object (`ping`'s reply).
struct EmptyBody: Encodable {}
