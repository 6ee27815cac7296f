import GameDomain
import Foundation

/// What the replicated log stores for one handled command: the entity's kind and key and the
/// events the command produced, each encoded with its kind's schema (``Plume_Entity_Record``).
public struct EntityRecord: Equatable, Sendable {
    public var kind: UInt32
    public var key: String
    public var events: [[UInt8]]

    public init(kind: UInt32, key: String, events: [[UInt8]]) {
        self.kind = kind
        self.key = key
        self.events = events
    }

    /// The record of `events` of the entity `key` of kind `K`.
    public static func encode<K: EntityKind>(_ kind: K.Type, key: String, events: [K.State.Event]) -> [UInt8] {
        EntityRecord(kind: K.tag, key: key, events: events.map { K.encode(event: $0) }).encoded
    }

    public var encoded: [UInt8] {
        var record = Plume_Entity_Record()
        record.kind = kind
        record.key = key
        record.events = events.map { Data($0) }
        return Protobuf.bytes(record)
    }

    public static func decode(_ bytes: [UInt8]) throws(SchemaError) -> EntityRecord {
        let record = try Protobuf.message(bytes, as: Plume_Entity_Record.self)
        return EntityRecord(kind: record.kind, key: record.key, events: record.events.map { Array($0) })
    }
}

/// A request for an entity of kind `K`: a command, which may change it, or a read, which does not.
public enum EntityRequest<K: EntityKind>: Sendable {
    case command(K.State.Command)
    case read(K.Read)

    /// The request as one node forwards it to another (``Plume_Entity_Request``).
    public var encoded: [UInt8] {
        var request = Plume_Entity_Request()
        request.kind = K.tag
        switch self {
        case .command(let command): request.command = Data(K.encode(command: command))
        case .read(let read): request.read = Data(K.encode(read: read))
        }
        return Protobuf.bytes(request)
    }

    init(_ envelope: Plume_Entity_Request) throws(SchemaError) {
        switch envelope.body {
        case .command(let bytes)?: self = .command(try K.decode(command: Array(bytes)))
        case .read(let bytes)?: self = .read(try K.decode(read: Array(bytes)))
        case nil: throw SchemaError.unknownCase("entity request body")
        }
    }
}

/// The kind tag and body of an encoded request, read before its kind is known.
enum EntityRequestEnvelope {
    static func decode(_ bytes: [UInt8]) throws(SchemaError) -> Plume_Entity_Request {
        try Protobuf.message(bytes, as: Plume_Entity_Request.self)
    }
}

/// The answer to an ``EntityRequest`` as it crosses the wire (``Plume_Entity_Reply``).
enum EntityReplyCodec {
    static func encode<K: EntityKind>(_ kind: K.Type, _ result: Result<K.Reply, K.Failure>) -> [UInt8] {
        var reply = Plume_Entity_Reply()
        switch result {
        case .success(let value): reply.reply = Data(K.encode(reply: value))
        case .failure(let failure): reply.failure = Data(K.encode(failure: failure))
        }
        return Protobuf.bytes(reply)
    }

    static func decode<K: EntityKind>(_ kind: K.Type, _ bytes: [UInt8]) throws(SchemaError) -> Result<K.Reply, K.Failure> {
        switch try Protobuf.message(bytes, as: Plume_Entity_Reply.self).result {
        case .reply(let bytes)?: .success(try K.decode(reply: Array(bytes)))
        case .failure(let bytes)?: .failure(try K.decode(failure: Array(bytes)))
        case nil: throw SchemaError.unknownCase("entity reply")
        }
    }
}
