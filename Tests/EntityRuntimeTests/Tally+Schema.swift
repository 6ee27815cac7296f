import EntityRuntime

/// The schema of both tally kinds (`Schema/tally.proto`).
protocol TallySchema: EntityKind
where State == Tally.State, Failure == Tally.Failure, Reply == Tally.State, Read == TallyKind.Read {}

extension TallyKind: TallySchema {}
extension SoftTallyKind: TallySchema {}

extension TallySchema {
    /// Every command and read answers with the tally.
    static func reply(to command: Tally.Command, events: [Tally.Event], state: Tally.State) throws(Tally.Failure)
        -> Tally.State
    { state }

    static func read(_ read: TallyKind.Read, state: Tally.State) throws(Tally.Failure) -> Tally.State { state }

    static func encode(command: Tally.Command) -> [UInt8] {
        var message = Plume_Tally_Command()
        switch command {
        case .add(let amount, let by):
            message.add = .with {
                $0.amount = amount
                $0.by = by
            }
        case .reset: message.reset = .init()
        }
        return Protobuf.bytes(message)
    }

    static func decode(command bytes: [UInt8]) throws(SchemaError) -> Tally.Command {
        switch try Protobuf.message(bytes, as: Plume_Tally_Command.self).command {
        case .add(let m)?: .add(m.amount, by: m.by)
        case .reset?: .reset
        case nil: throw SchemaError.unknownCase("tally command")
        }
    }

    static func encode(event: Tally.Event) -> [UInt8] {
        var message = Plume_Tally_Event()
        switch event {
        case .added(let amount, let by):
            message.added = .with {
                $0.amount = amount
                $0.by = by
            }
        case .reset: message.reset = .init()
        }
        return Protobuf.bytes(message)
    }

    static func decode(event bytes: [UInt8]) throws(SchemaError) -> Tally.Event {
        switch try Protobuf.message(bytes, as: Plume_Tally_Event.self).event {
        case .added(let m)?: .added(m.amount, by: m.by)
        case .reset?: .reset
        case nil: throw SchemaError.unknownCase("tally event")
        }
    }

    static func encode(state: Tally.State) -> [UInt8] {
        Protobuf.bytes(
            Plume_Tally_State.with {
                $0.total = state.total
                $0.additions = state.additions
                $0.lastBy = state.lastBy
            }
        )
    }

    static func decode(state bytes: [UInt8]) throws(SchemaError) -> Tally.State {
        let message = try Protobuf.message(bytes, as: Plume_Tally_State.self)
        return Tally.State(total: message.total, additions: message.additions, lastBy: message.lastBy)
    }

    static func encode(read: TallyKind.Read) -> [UInt8] { Protobuf.bytes(Plume_Tally_Read.with { $0.total = .init() }) }

    static func decode(read bytes: [UInt8]) throws(SchemaError) -> TallyKind.Read {
        switch try Protobuf.message(bytes, as: Plume_Tally_Read.self).read {
        case .total?: .total
        case nil: throw SchemaError.unknownCase("tally read")
        }
    }

    static func encode(reply: Tally.State) -> [UInt8] { encode(state: reply) }
    static func decode(reply bytes: [UInt8]) throws(SchemaError) -> Tally.State { try decode(state: bytes) }

    static func encode(failure: Tally.Failure) -> [UInt8] {
        switch failure {
        case .notPositive(let amount):
            Protobuf.bytes(Plume_Tally_Failure.with { $0.notPositive = .with { $0.amount = amount } })
        }
    }

    static func decode(failure bytes: [UInt8]) throws(SchemaError) -> Tally.Failure {
        switch try Protobuf.message(bytes, as: Plume_Tally_Failure.self).failure {
        case .notPositive(let m)?: .notPositive(m.amount)
        case nil: throw SchemaError.unknownCase("tally failure")
        }
    }
}
