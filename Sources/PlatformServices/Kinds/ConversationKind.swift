import EntityRuntime
import GameDomain

/// The direct messages between two users as an entity: `conversation/<id>:<id>` (the two ids
/// in order, ``Conversation/key(_:_:)``), replicated.
public enum ConversationKind: EntityKind {
    public typealias State = Conversation.State
    public typealias Failure = Conversation.Failure
    public typealias Reply = Page

    /// Messages, newest first, and the cursor of the next page (nil when nothing is older).
    /// A send answers with the one message it sent.
    public struct Page: Sendable, Equatable {
        public var messages: [Conversation.Message]
        public var next: UInt64?

        public init(messages: [Conversation.Message], next: UInt64? = nil) {
            self.messages = messages
            self.next = next
        }
    }

    public enum Read: Sendable, Equatable {
        /// The messages before `before` (the newest for nil), at most `limit`.
        case page(before: UInt64?, limit: Int)
    }

    public static let tag: UInt32 = 4
    public static let keyPrefix = "conversation/"
    public static let durability = Durability.replicated

    /// The conversation of two users, whichever of them asks.
    public static func between(_ a: String, _ b: String) -> String { Conversation.key(a, b) }

    public static func reply(
        to command: Conversation.Command,
        events: [Conversation.Event],
        state: Conversation.State
    ) throws(Conversation.Failure) -> Page {
        Page(
            messages: events.map { event in
                switch event {
                case .sent(let message): message
                }
            }
        )
    }

    public static func read(_ read: Read, state: Conversation.State) throws(Conversation.Failure) -> Page {
        switch read {
        case .page(let before, let limit):
            let page = state.page(before: before, limit: limit)
            return Page(messages: page.messages, next: page.next)
        }
    }
}

/// ``ConversationKind``'s schema: `Schema/conversation.proto`.
extension ConversationKind {
    public static func encode(command: Conversation.Command) -> [UInt8] {
        var message = Plume_Conversation_Command()
        switch command {
        case .send(let from, let to, let text):
            message.send = .with {
                $0.from = from
                $0.to = to
                $0.text = text
            }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(command bytes: [UInt8]) throws(SchemaError) -> Conversation.Command {
        switch try Protobuf.message(bytes, as: Plume_Conversation_Command.self).command {
        case .send(let m)?: .send(from: m.from, to: m.to, text: m.text)
        case nil: throw SchemaError.unknownCase("conversation command")
        }
    }

    public static func encode(event: Conversation.Event) -> [UInt8] {
        var message = Plume_Conversation_Event()
        switch event {
        case .sent(let sent): message.sent = wire(sent)
        }
        return Protobuf.bytes(message)
    }

    public static func decode(event bytes: [UInt8]) throws(SchemaError) -> Conversation.Event {
        switch try Protobuf.message(bytes, as: Plume_Conversation_Event.self).event {
        case .sent(let m)?: .sent(message(m))
        case nil: throw SchemaError.unknownCase("conversation event")
        }
    }

    public static func encode(state: Conversation.State) -> [UInt8] {
        var message = Plume_Conversation_State()
        message.messages = state.messages.map(wire)
        message.nextSeq = state.nextSeq
        return Protobuf.bytes(message)
    }

    public static func decode(state bytes: [UInt8]) throws(SchemaError) -> Conversation.State {
        let m = try Protobuf.message(bytes, as: Plume_Conversation_State.self)
        return Conversation.State(messages: m.messages.map(message), nextSeq: m.nextSeq)
    }

    public static func encode(read: Read) -> [UInt8] {
        var message = Plume_Conversation_Read()
        switch read {
        case .page(let before, let limit):
            message.page = .with {
                if let before { $0.before = before }
                $0.limit = UInt32(clamping: limit)
            }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(read bytes: [UInt8]) throws(SchemaError) -> Read {
        switch try Protobuf.message(bytes, as: Plume_Conversation_Read.self).read {
        case .page(let m)?: .page(before: m.hasBefore ? m.before : nil, limit: Int(m.limit))
        case nil: throw SchemaError.unknownCase("conversation read")
        }
    }

    public static func encode(reply: Page) -> [UInt8] {
        var message = Plume_Conversation_Page()
        message.messages = reply.messages.map(wire)
        if let next = reply.next { message.next = next }
        return Protobuf.bytes(message)
    }

    public static func decode(reply bytes: [UInt8]) throws(SchemaError) -> Page {
        let m = try Protobuf.message(bytes, as: Plume_Conversation_Page.self)
        return Page(messages: m.messages.map(message), next: m.hasNext ? m.next : nil)
    }

    public static func encode(failure: Conversation.Failure) -> [UInt8] {
        var message = Plume_Conversation_Failure()
        switch failure {
        case .invalid(let field, let text):
            message.invalid = .with {
                $0.field = field
                $0.message = text
            }
        }
        return Protobuf.bytes(message)
    }

    public static func decode(failure bytes: [UInt8]) throws(SchemaError) -> Conversation.Failure {
        switch try Protobuf.message(bytes, as: Plume_Conversation_Failure.self).failure {
        case .invalid(let m)?: .invalid(field: m.field, message: m.message)
        case nil: throw SchemaError.unknownCase("conversation failure")
        }
    }

    static func wire(_ message: Conversation.Message) -> Plume_Conversation_Message {
        .with {
            $0.seq = message.seq
            $0.from = message.from
            $0.to = message.to
            $0.text = message.text
            $0.sentAt = message.sentAt
        }
    }

    static func message(_ m: Plume_Conversation_Message) -> Conversation.Message {
        Conversation.Message(seq: m.seq, from: m.from, to: m.to, text: m.text, sentAt: m.sentAt)
    }
}
