import EntityRuntime
import Foundation
import SwiftProtobuf
import Testing

/// ``EntityRecord`` encodes its protobuf envelope by hand (it is on every write's path): its bytes
/// must be exactly SwiftProtobuf's for the same `plume.entity.Record`, and it must read what
/// SwiftProtobuf writes, unknown fields included.
@Suite struct EntityRecordCodecTests {
    static func randomRecord(_ random: inout some RandomNumberGenerator) -> EntityRecord {
        let kinds: [UInt32] = [0, 1, 2, 127, 128, 900, 16_384, .max]
        let keys = ["", "user/u1", "name/username/ådå", String(repeating: "k", count: 300)]
        return EntityRecord(
            kind: kinds.randomElement(using: &random)!,
            key: keys.randomElement(using: &random)!,
            events: (0..<Int.random(in: 0...4, using: &random)).map { _ in
                (0..<Int.random(in: 0...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
        )
    }

    static func library(_ record: EntityRecord) -> Plume_Entity_Record {
        var message = Plume_Entity_Record()
        message.kind = record.kind
        message.key = record.key
        message.events = record.events.map { Data($0) }
        return message
    }

    @Test func theHandWrittenCodecAgreesWithSwiftProtobuf() throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let record = Self.randomRecord(&random)
            let expected: [UInt8] = try Self.library(record).serializedBytes()
            #expect(record.encoded == expected, "\(record)")
            #expect(try EntityRecord.decode(expected) == record)
        }
    }

    @Test func fieldsItDoesNotKnowAreSkippedAndDamageIsRefused() throws {
        let record = EntityRecord(kind: 1, key: "user/u1", events: [[1, 2, 3]])
        var message = Self.library(record)
        // A newer node's fields: a varint (9), a string (10), a fixed64 (11) and a fixed32 (12).
        try message.merge(
            serializedBytes: [0x48, 0x96, 0x01, 0x52, 0x02, 0x68, 0x69] + [0x59] + [UInt8](repeating: 7, count: 8) + [
                0x65, 1, 2, 3, 4,
            ]
        )
        let newer: [UInt8] = try message.serializedBytes()
        #expect(try EntityRecord.decode(newer) == record)
        let bytes = record.encoded
        for length in 1..<bytes.count {
            // Every cut inside a field is refused (a cut between fields is a shorter, valid record).
            if (try? EntityRecord.decode(Array(bytes.prefix(length)))) != nil {
                #expect((try? Plume_Entity_Record(serializedBytes: Array(bytes.prefix(length)))) != nil)
            }
        }
        #expect(throws: SchemaError.self) { try EntityRecord.decode([0x12, 0x05, 0x61]) }  // a key cut short
        #expect(throws: SchemaError.self) { try EntityRecord.decode([0x12, 0x01, 0xFF]) }  // a key that is not UTF-8
        #expect(throws: SchemaError.self) { try EntityRecord.decode([0x0B]) }  // a group (wire type 3)
        #expect(throws: SchemaError.self) { try EntityRecord.decode([0x08] + [UInt8](repeating: 0xFF, count: 11)) }
    }
}
