import EntityRuntime
import GameDomain

/// ``FriendListKind``'s schema: `Schema/friend_list.proto`.
extension FriendListKind {
    public static func encode(command: FriendList.Command) -> [UInt8] {
        var message = Plume_Friends_Command()
        func request(_ from: String, _ to: String) -> Plume_Friends_Command.Request {
            .with {
                $0.from = from
                $0.to = to
            }
        }
        func other(_ id: String) -> Plume_Friends_Command.Other { .with { $0.userID = id } }
        switch command {
        case .request(let from, let to): message.request = request(from, to)
        case .requested(let from, let to): message.requested = request(from, to)
        case .remove(let id): message.remove = other(id)
        case .removed(let id): message.removed = other(id)
        case .block(let id): message.block = other(id)
        case .blocked(let id): message.blocked = other(id)
        case .unblock(let id): message.unblock = other(id)
        case .unblocked(let id): message.unblocked = other(id)
        case .settle(let id, let mirror):
            message.settle = .with {
                $0.userID = id
                $0.mirror = Self.wire(mirror)
            }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(command bytes: [UInt8]) throws(SchemaError) -> FriendList.Command {
        switch try Protobuf.message(bytes, as: Plume_Friends_Command.self).command {
        case .request(let m)?: return .request(from: m.from, to: m.to)
        case .requested(let m)?: return .requested(from: m.from, to: m.to)
        case .remove(let m)?: return .remove(m.userID)
        case .removed(let m)?: return .removed(by: m.userID)
        case .block(let m)?: return .block(m.userID)
        case .blocked(let m)?: return .blocked(by: m.userID)
        case .unblock(let m)?: return .unblock(m.userID)
        case .unblocked(let m)?: return .unblocked(by: m.userID)
        case .settle(let m)?: return .settle(other: m.userID, try mirror(m.mirror))
        case nil: throw SchemaError.unknownCase("friends command")
        }
    }

    public static func encode(event: FriendList.Event) -> [UInt8] {
        var message = Plume_Friends_Event()
        func block(_ id: String, _ on: Bool, _ at: Double) -> Plume_Friends_Event.Block {
            .with {
                $0.userID = id
                $0.on = on
                $0.at = at
            }
        }
        switch event {
        case .linked(let other, let link, let at):
            message.linked = .with {
                $0.userID = other
                $0.link = wire(link)
                $0.at = at
            }
        case .unlinked(let other, let at):
            message.unlinked = .with {
                $0.userID = other
                $0.at = at
            }
        case .blocking(let other, let on, let at): message.blocking = block(other, on, at)
        case .blockedBy(let other, let on, let at): message.blockedBy = block(other, on, at)
        case .owes(let other, let mirror):
            message.owes = .with {
                $0.userID = other
                $0.mirror = wire(mirror)
            }
        case .settled(let other): message.settled = .with { $0.userID = other }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(event bytes: [UInt8]) throws(SchemaError) -> FriendList.Event {
        switch try Protobuf.message(bytes, as: Plume_Friends_Event.self).event {
        case .linked(let m)?:
            guard let link = try link(m.link) else { throw SchemaError("friends event: a link to nothing") }
            return .linked(other: m.userID, link, at: m.at)
        case .unlinked(let m)?: return .unlinked(other: m.userID, at: m.at)
        case .blocking(let m)?: return .blocking(other: m.userID, m.on, at: m.at)
        case .blockedBy(let m)?: return .blockedBy(other: m.userID, m.on, at: m.at)
        case .owes(let m)?: return .owes(other: m.userID, try mirror(m.mirror))
        case .settled(let m)?: return .settled(other: m.userID)
        case nil: throw SchemaError.unknownCase("friends event")
        }
    }

    public static func encode(state: FriendList.State) -> [UInt8] {
        var message = Plume_Friends_State()
        for (other, relationship) in state.relationships {
            message.relationships[other] = .with {
                $0.link = relationship.link.map(wire) ?? .none
                $0.blocking = relationship.blocking
                $0.blockedBy = relationship.blockedBy
                $0.since = relationship.since
            }
        }
        for (other, mirror) in state.owed { message.owed[other] = wire(mirror) }
        return Protobuf.bytes(message)
    }

    public static func decode(state bytes: [UInt8]) throws(SchemaError) -> FriendList.State {
        let message = try Protobuf.message(bytes, as: Plume_Friends_State.self)
        var relationships: [String: FriendList.Relationship] = [:]
        for (other, m) in message.relationships {
            relationships[other] = FriendList.Relationship(
                link: try link(m.link),
                blocking: m.blocking,
                blockedBy: m.blockedBy,
                since: m.since
            )
        }
        var owed: [String: FriendList.Mirror] = [:]
        for (other, m) in message.owed { owed[other] = try mirror(m) }
        return FriendList.State(relationships: relationships, owed: owed)
    }

    public static func encode(read: Read) -> [UInt8] {
        var message = Plume_Friends_Read()
        switch read {
        case .all: message.all = .init()
        case .with(let other): message.with = .with { $0.userID = other }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(read bytes: [UInt8]) throws(SchemaError) -> Read {
        switch try Protobuf.message(bytes, as: Plume_Friends_Read.self).read {
        case .all?: .all
        case .with(let m)?: .with(m.userID)
        case nil: throw SchemaError.unknownCase("friends read")
        }
    }

    public static func encode(reply: FriendList.State) -> [UInt8] { encode(state: reply) }
    public static func decode(reply bytes: [UInt8]) throws(SchemaError) -> FriendList.State {
        try decode(state: bytes)
    }

    public static func encode(failure: FriendList.Failure) -> [UInt8] {
        var message = Plume_Friends_Failure()
        switch failure {
        case .cannotFriendSelf: message.cannotFriendSelf = .init()
        case .blocked: message.blocked = .init()
        case .friendLimit: message.friendLimit = .init()
        }
        return Protobuf.bytes(message)
    }

    public static func decode(failure bytes: [UInt8]) throws(SchemaError) -> FriendList.Failure {
        switch try Protobuf.message(bytes, as: Plume_Friends_Failure.self).failure {
        case .cannotFriendSelf?: .cannotFriendSelf
        case .blocked?: .blocked
        case .friendLimit?: .friendLimit
        case nil: throw SchemaError.unknownCase("friends failure")
        }
    }

    // MARK: - Enums

    static func wire(_ link: FriendList.Link) -> Plume_Friends_Link {
        switch link {
        case .friend: .friend
        case .requestSent: .requestSent
        case .requestReceived: .requestReceived
        }
    }

    static func link(_ wire: Plume_Friends_Link) throws(SchemaError) -> FriendList.Link? {
        switch wire {
        case .none: nil
        case .friend: .friend
        case .requestSent: .requestSent
        case .requestReceived: .requestReceived
        case .UNRECOGNIZED(let value): throw SchemaError.unknownCase("friends link \(value)")
        }
    }

    static func wire(_ mirror: FriendList.Mirror) -> Plume_Friends_Mirror {
        switch mirror {
        case .requested: .requested
        case .removed: .removed
        case .blocked: .blocked
        case .unblocked: .unblocked
        }
    }

    static func mirror(_ wire: Plume_Friends_Mirror) throws(SchemaError) -> FriendList.Mirror {
        switch wire {
        case .requested: .requested
        case .removed: .removed
        case .blocked: .blocked
        case .unblocked: .unblocked
        case .none: throw SchemaError("friends mirror: none")
        case .UNRECOGNIZED(let value): throw SchemaError.unknownCase("friends mirror \(value)")
        }
    }
}
