import EntityRuntime
import GameDomain

/// ``NameReservationKind``'s schema: `Schema/name_reservation.proto`.
extension NameReservationKind {
    public static func encode(command: NameReservation.Command) -> [UInt8] {
        var message = Plume_Name_Command()
        switch command {
        case .reserve(let userID): message.reserve = .with { $0.userID = userID }
        case .confirm(let userID): message.confirm = .with { $0.userID = userID }
        case .release(let userID): message.release = .with { $0.userID = userID }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(command bytes: [UInt8]) throws(SchemaError) -> NameReservation.Command {
        switch try Protobuf.message(bytes, as: Plume_Name_Command.self).command {
        case .reserve(let m)?: .reserve(userID: m.userID)
        case .confirm(let m)?: .confirm(userID: m.userID)
        case .release(let m)?: .release(userID: m.userID)
        case nil: throw SchemaError.unknownCase("name command")
        }
    }

    public static func encode(event: NameReservation.Event) -> [UInt8] {
        var message = Plume_Name_Event()
        switch event {
        case .reserved(let userID, let at):
            message.reserved = .with {
                $0.userID = userID
                $0.at = at
            }
        case .confirmed(let userID): message.confirmed = .with { $0.userID = userID }
        case .released(let userID): message.released = .with { $0.userID = userID }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(event bytes: [UInt8]) throws(SchemaError) -> NameReservation.Event {
        switch try Protobuf.message(bytes, as: Plume_Name_Event.self).event {
        case .reserved(let m)?: .reserved(userID: m.userID, at: m.at)
        case .confirmed(let m)?: .confirmed(userID: m.userID)
        case .released(let m)?: .released(userID: m.userID)
        case nil: throw SchemaError.unknownCase("name event")
        }
    }

    public static func encode(state: NameReservation.State) -> [UInt8] {
        var message = Plume_Name_State()
        if let owner = state.owner { message.owner = owner }
        message.reservedAt = state.reservedAt
        message.confirmed = state.isConfirmed
        return Protobuf.bytes(message)
    }

    public static func decode(state bytes: [UInt8]) throws(SchemaError) -> NameReservation.State {
        let message = try Protobuf.message(bytes, as: Plume_Name_State.self)
        var state = NameReservation.State()
        state.owner = message.hasOwner ? message.owner : nil
        state.reservedAt = message.reservedAt
        state.isConfirmed = message.confirmed
        return state
    }

    public static func encode(read: Read) -> [UInt8] {
        var message = Plume_Name_Read()
        switch read {
        case .owner: message.owner = .init()
        }
        return Protobuf.bytes(message)
    }

    public static func decode(read bytes: [UInt8]) throws(SchemaError) -> Read {
        switch try Protobuf.message(bytes, as: Plume_Name_Read.self).read {
        case .owner?: .owner
        case nil: throw SchemaError.unknownCase("name read")
        }
    }

    public static func encode(reply: NameReservation.State) -> [UInt8] { encode(state: reply) }
    public static func decode(reply bytes: [UInt8]) throws(SchemaError) -> NameReservation.State {
        try decode(state: bytes)
    }

    public static func encode(failure: NameReservation.Failure) -> [UInt8] {
        var message = Plume_Name_Failure()
        switch failure {
        case .taken: message.taken = .init()
        case .notReservedBy(let userID): message.notReservedBy = .with { $0.userID = userID }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(failure bytes: [UInt8]) throws(SchemaError) -> NameReservation.Failure {
        switch try Protobuf.message(bytes, as: Plume_Name_Failure.self).failure {
        case .taken?: .taken
        case .notReservedBy(let m)?: .notReservedBy(m.userID)
        case nil: throw SchemaError.unknownCase("name failure")
        }
    }
}
