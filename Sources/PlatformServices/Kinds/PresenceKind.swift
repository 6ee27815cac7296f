import EntityRuntime
import GameDomain

/// A user's presence as an entity: `presence/<user id>`, **soft** — kept in memory by the
/// primary of its shard (the user's *presence owner*), never logged. The edges that hold the
/// user's sockets register them here and announce them again to a new owner.
public enum PresenceKind: EntityKind {
    public typealias State = Presence.State
    public typealias Failure = Presence.Failure

    /// The user's presence (as the user sees it) and the nodes holding their sockets.
    public struct Reply: Sendable, Equatable {
        public var view: Presence.View
        /// Whether others see something new: the change to push to friends and devices.
        public var changed: Bool
        public var nodes: [String]

        public init(view: Presence.View, changed: Bool, nodes: [String]) {
            self.view = view
            self.changed = changed
            self.nodes = nodes
        }
    }

    public enum Read: Sendable, Equatable {
        case current
    }

    public static let tag: UInt32 = 6
    public static let keyPrefix = "presence/"
    public static let durability = Durability.soft

    public static func reply(to command: State.Command, events: [State.Event], state: State) -> Reply {
        var view = state.view(of: "")
        // A cleared presence keeps when it went offline.
        for case .cleared(let at) in events { view.updatedAt = at }
        return Reply(view: view, changed: events.contains(where: \.isVisible), nodes: state.nodes)
    }

    public static func read(_ read: Read, state: State) -> Reply {
        Reply(view: state.view(of: ""), changed: false, nodes: state.nodes)
    }
}

/// ``PresenceKind``'s schema: `Schema/presence.proto`.
extension PresenceKind {
    public static func encode(command: State.Command) -> [UInt8] {
        var message = Plume_Presence_Command()
        switch command {
        case .connect(let node, let socket):
            message.connect = .with {
                $0.node = node
                $0.socket = socket
            }
        case .disconnect(let node, let socket):
            message.disconnect = .with {
                $0.node = node
                $0.socket = socket
            }
        case .drop(let node, let socket):
            message.drop = .with {
                $0.node = node
                $0.socket = socket
            }
        case .announce(let node, let sockets, let parked, let status, let rich):
            message.announce = .with {
                $0.node = node
                $0.sockets = sockets.sorted()
                $0.parked = parked.sorted()
                if let status { $0.status = status.rawValue }
                if let rich { $0.rich = .with { $0.values = rich } }
            }
        case .nodeLost(let node): message.nodeLost = .with { $0.node = node }
        case .suspect(let status, let rich):
            message.suspect = .with {
                $0.status = status.rawValue
                $0.rich = .with { $0.values = rich }
            }
        case .set(let status, let rich):
            message.set = .with {
                $0.status = status.rawValue
                if let rich { $0.rich = .with { $0.values = rich } }
            }
        case .expire(let graceSeconds): message.expire = .with { $0.graceSeconds = graceSeconds }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(command bytes: [UInt8]) throws(SchemaError) -> State.Command {
        switch try Protobuf.message(bytes, as: Plume_Presence_Command.self).command {
        case .connect(let m)?: .connect(node: m.node, socket: m.socket)
        case .disconnect(let m)?: .disconnect(node: m.node, socket: m.socket)
        case .announce(let m)?:
            .announce(
                node: m.node,
                sockets: Set(m.sockets),
                parked: Set(m.parked),
                status: m.hasStatus ? try status(m.status) : nil,
                rich: m.hasRich ? m.rich.values : nil
            )
        case .nodeLost(let m)?: .nodeLost(node: m.node)
        case .suspect(let m)?: .suspect(status: try status(m.status), rich: m.rich.values)
        case .set(let m)?: .set(status: try status(m.status), rich: m.hasRich ? m.rich.values : nil)
        case .expire(let m)?: .expire(graceSeconds: m.graceSeconds)
        case .drop(let m)?: .drop(node: m.node, socket: m.socket)
        case nil: throw SchemaError.unknownCase("presence command")
        }
    }

    public static func encode(event: State.Event) -> [UInt8] {
        var message = Plume_Presence_Event()
        switch event {
        case .sockets(let node, let ids):
            message.sockets = .with {
                $0.node = node
                $0.ids = ids.sorted()
            }
        case .shows(let status, let rich, let lostAt, let at):
            message.shows = .with {
                $0.status = status.rawValue
                $0.rich = .with { $0.values = rich }
                if let lostAt { $0.lostAt = lostAt }
                $0.at = at
            }
        case .cleared(let at): message.cleared = .with { $0.at = at }
        case .parked(let node, let ids):
            message.parked = .with {
                $0.node = node
                $0.ids = ids.sorted()
            }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(event bytes: [UInt8]) throws(SchemaError) -> State.Event {
        switch try Protobuf.message(bytes, as: Plume_Presence_Event.self).event {
        case .sockets(let m)?: .sockets(node: m.node, ids: Set(m.ids))
        case .shows(let m)?:
            .shows(status: try status(m.status), rich: m.rich.values, lostAt: m.hasLostAt ? m.lostAt : nil, at: m.at)
        case .cleared(let m)?: .cleared(at: m.at)
        case .parked(let m)?: .parked(node: m.node, ids: Set(m.ids))
        case nil: throw SchemaError.unknownCase("presence event")
        }
    }

    public static func encode(state: State) -> [UInt8] {
        var message = Plume_Presence_State()
        message.status = state.status.rawValue
        message.rich = state.rich
        message.updatedAt = state.updatedAt
        message.sockets = state.sockets.mapValues { ids in .with { $0.ids = ids.sorted() } }
        if let lostAt = state.lostAt { message.lostAt = lostAt }
        message.parked = state.parked.mapValues { ids in .with { $0.ids = ids.sorted() } }
        return Protobuf.bytes(message)
    }

    public static func decode(state bytes: [UInt8]) throws(SchemaError) -> State {
        let m = try Protobuf.message(bytes, as: Plume_Presence_State.self)
        return State(
            status: try status(m.status),
            rich: m.rich,
            updatedAt: m.updatedAt,
            sockets: m.sockets.mapValues { Set($0.ids) },
            lostAt: m.hasLostAt ? m.lostAt : nil,
            parked: m.parked.mapValues { Set($0.ids) }
        )
    }

    public static func encode(read: Read) -> [UInt8] {
        var message = Plume_Presence_Read()
        switch read {
        case .current: message.current = .init()
        }
        return Protobuf.bytes(message)
    }

    public static func decode(read bytes: [UInt8]) throws(SchemaError) -> Read {
        switch try Protobuf.message(bytes, as: Plume_Presence_Read.self).read {
        case .current?: .current
        case nil: throw SchemaError.unknownCase("presence read")
        }
    }

    public static func encode(reply: Reply) -> [UInt8] {
        var message = Plume_Presence_Answer()
        message.view = wire(reply.view)
        message.changed = reply.changed
        message.nodes = reply.nodes
        return Protobuf.bytes(message)
    }

    public static func decode(reply bytes: [UInt8]) throws(SchemaError) -> Reply {
        let m = try Protobuf.message(bytes, as: Plume_Presence_Answer.self)
        return Reply(view: try view(m.view), changed: m.changed, nodes: m.nodes)
    }

    /// P on the wire (an answer's, a delivery's).
    static func wire(_ view: Presence.View) -> Plume_Presence_View {
        .with {
            $0.userID = view.userID
            $0.status = view.status.rawValue
            $0.rich = view.rich
            if let updatedAt = view.updatedAt { $0.updatedAt = updatedAt }
        }
    }

    /// P from the wire; a status this build does not know is refused.
    static func view(_ m: Plume_Presence_View) throws(SchemaError) -> Presence.View {
        guard let shown = Presence.Shown(rawValue: m.status) else {
            throw SchemaError.unknownCase("presence status \(m.status)")
        }
        return Presence.View(
            userID: m.userID,
            status: shown,
            rich: m.rich,
            updatedAt: m.hasUpdatedAt ? m.updatedAt : nil
        )
    }

    public static func encode(failure: Failure) -> [UInt8] {
        var message = Plume_Presence_Failure()
        switch failure {
        case .invalid(let field, let text):
            message.invalid = .with {
                $0.field = field
                $0.message = text
            }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(failure bytes: [UInt8]) throws(SchemaError) -> Failure {
        switch try Protobuf.message(bytes, as: Plume_Presence_Failure.self).failure {
        case .invalid(let m)?: .invalid(field: m.field, message: m.message)
        case nil: throw SchemaError.unknownCase("presence failure")
        }
    }

    static func status(_ name: String) throws(SchemaError) -> Presence.Status {
        guard let status = Presence.Status(rawValue: name) else {
            throw SchemaError.unknownCase("presence status \(name)")
        }
        return status
    }
}
