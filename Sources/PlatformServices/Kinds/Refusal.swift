import EntityRuntime
import GameDomain

/// The schema of failures that are codes (`Schema/refusal.proto`), for every kind whose
/// failure is a ``CodedRefusal``.
enum Refusal {
    static func encode(_ failure: some CodedRefusal) -> [UInt8] {
        var message = Plume_Refusal_Refusal()
        if let (field, text) = failure.invalidInput {
            message.invalid = .with {
                $0.field = field
                $0.message = text
            }
        } else {
            message.refused = failure.code
        }
        return Protobuf.bytes(message)
    }

    static func decode<F: CodedRefusal>(_ bytes: [UInt8], as type: F.Type, kind: String) throws(SchemaError) -> F {
        switch try Protobuf.message(bytes, as: Plume_Refusal_Refusal.self).failure {
        case .invalid(let m)?: return F.invalid(field: m.field, message: m.message)
        case .refused(let code)?:
            guard let failure = F(code: code) else { throw SchemaError.unknownCase("\(kind) failure \(code)") }
            return failure
        case nil: throw SchemaError.unknownCase("\(kind) failure")
        }
    }
}
