import Foundation
import GameDomain

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

    /// The record's bytes: a `plume.entity.Record` message, encoded here by hand because every
    /// write encodes one and every replica decodes one (SwiftProtobuf's generic path, with its
    /// `Data` copies, cost a tenth of a write's CPU). The bytes are exactly what SwiftProtobuf
    /// writes (the fixtures and `EntityRecordCodecTests` compare the two).
    public var encoded: [UInt8] {
        var writer = ProtobufWriter(capacity: 16 + key.utf8.count + events.reduce(0) { $0 + $1.count + 6 })
        if kind != 0 { writer.varintField(1, UInt64(kind)) }
        if !key.isEmpty { writer.bytesField(2, key.utf8) }
        for event in events { writer.bytesField(3, event) }
        return writer.bytes
    }

    /// Decodes a `plume.entity.Record` message (fields it does not know are skipped, as
    /// SwiftProtobuf would).
    public static func decode(_ bytes: [UInt8]) throws(SchemaError) -> EntityRecord {
        var reader = ProtobufReader(bytes)
        var record = EntityRecord(kind: 0, key: "", events: [])
        while let (field, wireType) = try reader.nextField() {
            switch (field, wireType) {
            case (1, .varint): record.kind = UInt32(truncatingIfNeeded: try reader.varint())
            case (2, .lengthDelimited):
                guard let key = String(validating: try reader.lengthDelimited(), as: UTF8.self) else {
                    throw SchemaError("plume.entity.Record: the key is not UTF-8")
                }
                record.key = key
            case (3, .lengthDelimited): record.events.append(Array(try reader.lengthDelimited()))
            default: try reader.skip(wireType)
            }
        }
        return record
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
        case .search?: throw SchemaError("a search is not a request for one entity")
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

    static func decode<K: EntityKind>(_ kind: K.Type, _ bytes: [UInt8]) throws(SchemaError) -> Result<
        K.Reply, K.Failure
    > {
        switch try Protobuf.message(bytes, as: Plume_Entity_Reply.self).result {
        case .reply(let bytes)?: .success(try K.decode(reply: Array(bytes)))
        case .failure(let bytes)?: .failure(try K.decode(failure: Array(bytes)))
        case nil: throw SchemaError.unknownCase("entity reply")
        }
    }
}
