/// The direct messages between two users: a durable history with a retention bound, paged
/// newest first by cursor.
///
/// One conversation per pair, keyed by the two user ids in order, so both sides append to and
/// read the same history. Message text is the players' own: never logged.
public enum Conversation {
    /// Messages kept per conversation (older ones are dropped as new ones arrive).
    public static let retainedMax = 1000
    /// The most bytes (UTF-8) a message's text takes.
    public static let textBytesMax = 4096
    /// The most messages one page holds.
    public static let pageMax = 100

    /// The conversation's key for two users, the same whichever of them asks.
    public static func key(_ a: String, _ b: String) -> String { a < b ? "\(a):\(b)" : "\(b):\(a)" }

    /// A message (M).
    public struct Message: Sendable, Equatable {
        /// The position in the conversation: grows by one per message, never reused.
        public var seq: UInt64
        public var from: String
        public var to: String
        public var text: String
        public var sentAt: Double

        public init(seq: UInt64, from: String, to: String, text: String, sentAt: Double) {
            self.seq = seq
            self.from = from
            self.to = to
            self.text = text
            self.sentAt = sentAt
        }
    }

    public static func validate(text: String) throws(Failure) {
        guard !text.trimmingWhitespace.isEmpty, text.utf8.count <= textBytesMax else {
            throw .invalid(field: "text", message: "must be 1 to \(textBytesMax) bytes, not only spaces")
        }
    }

    public struct State: Aggregate {
        /// Oldest first, at most ``retainedMax``.
        public private(set) var messages: [Message] = []
        public private(set) var nextSeq: UInt64 = 1

        public static let initial = State()

        public init() {}

        /// A conversation holding `messages` (oldest first; what a snapshot restores).
        public init(messages: [Message], nextSeq: UInt64) {
            self.messages = messages
            self.nextSeq = nextSeq
        }

        public func handle(_ command: Command, now: Double) throws(Failure) -> [Event] {
            switch command {
            case .send(let from, let to, let text):
                guard from != to else { throw .invalid(field: "to", message: "is the sender") }
                try Conversation.validate(text: text)
                return [.sent(Message(seq: nextSeq, from: from, to: to, text: text, sentAt: now))]
            }
        }

        public mutating func apply(_ event: Event) {
            switch event {
            case .sent(let message):
                messages.append(message)
                nextSeq = message.seq + 1
                if messages.count > Conversation.retainedMax {
                    messages.removeFirst(messages.count - Conversation.retainedMax)
                }
            }
        }

        /// A page, newest first: the messages before `cursor` (a `seq`; nil for the newest), at most
        /// `limit`; and the cursor of the next page, nil when there is nothing older.
        public func page(before cursor: UInt64?, limit: Int) -> (messages: [Message], next: UInt64?) {
            let page = Paging.newestFirst(
                messages,
                position: \.seq,
                before: cursor,
                limit: limit,
                pageMax: Conversation.pageMax
            )
            return (page.items, page.next)
        }
    }

    public enum Command: Sendable, Equatable {
        case send(from: String, to: String, text: String)
    }

    public enum Event: Sendable, Equatable {
        case sent(Message)
    }

    public enum Failure: Error, Equatable, Sendable {
        case invalid(field: String, message: String)
    }
}
