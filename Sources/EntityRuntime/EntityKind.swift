import GameDomain
import SwiftProtobuf

/// Where an entity kind's state lives, and what a reply promises about it.
public enum Durability: Sendable, Equatable {
    /// In the shard's replicated log: a command's events are durable on a majority of the
    /// shard's replicas before its reply, and the state is in every snapshot.
    case replicated
    /// In memory on the shard's primary only: no log, no fsync, never in a snapshot. When the
    /// shard moves (or its primary restarts) the state starts over from ``Aggregate/initial``,
    /// and its owners rebuild it (an edge re-announces the sockets it holds, say).
    case soft
}

/// One kind of entity (users, name reservations, lobbies …), declared in one place: its stable
/// tag, its key prefix, its aggregate, its reads, its durability and its schema. Registered in
/// an ``EntityRegistry``, it is applied, snapshotted, restored, passivated, served and reached
/// through ``EntityRef`` without any runtime code naming it.
///
/// The schema functions turn every value that is stored or sent between nodes into bytes and
/// back; Plume's kinds use Protocol Buffers for them (see <doc:EvolvingASchema>), so an older
/// node reads what a newer one wrote as long as the rules there are kept.
public protocol EntityKind: Sendable {
    /// The aggregate: state, commands, events and its typed failure.
    associatedtype State: Aggregate where State.Failure == Failure, State.Command: Sendable
    /// Questions to an entity that change nothing.
    associatedtype Read: Sendable
    /// What a command or a read answers.
    associatedtype Reply: Sendable
    /// Why a command or a read is refused.
    associatedtype Failure: Error & Sendable

    /// The kind's number in logs, snapshots and requests. **Never changed, never reused.**
    static var tag: UInt32 { get }
    /// The start of every key of this kind, ending in `/` (`"user/"`).
    static var keyPrefix: String { get }
    static var durability: Durability { get }
    /// Whether ``reply(to:events:state:)`` reads the state after the events (true unless the
    /// kind says otherwise). A kind whose reply needs only the events says false: a replicated
    /// entity is then never copied to apply them before the commit (a queue of 10,000 tickets
    /// would be copied for every enqueue), and `reply` gets the state *before* the events.
    static var replyReadsState: Bool { get }

    /// The reply to `command`, once its `events` are applied and `state` is the result. May refuse
    /// even though events were written (a replayed refresh token revokes its session, then fails).
    static func reply(to command: State.Command, events: [State.Event], state: State) throws(Failure) -> Reply
    /// The answer to `read` on the entity's current state (``Aggregate/initial`` if it has none).
    static func read(_ read: Read, state: State) throws(Failure) -> Reply

    // MARK: - Schema

    static func encode(command: State.Command) -> [UInt8]
    static func decode(command: [UInt8]) throws(SchemaError) -> State.Command
    static func encode(event: State.Event) -> [UInt8]
    static func decode(event: [UInt8]) throws(SchemaError) -> State.Event
    static func encode(state: State) -> [UInt8]
    static func decode(state: [UInt8]) throws(SchemaError) -> State
    static func encode(read: Read) -> [UInt8]
    static func decode(read: [UInt8]) throws(SchemaError) -> Read
    static func encode(reply: Reply) -> [UInt8]
    static func decode(reply: [UInt8]) throws(SchemaError) -> Reply
    static func encode(failure: Failure) -> [UInt8]
    static func decode(failure: [UInt8]) throws(SchemaError) -> Failure
}

extension EntityKind {
    public static var replyReadsState: Bool { true }

    /// The key of the entity `id` of this kind.
    public static func key(_ id: String) -> String { keyPrefix + id }
}

/// Bytes that do not decode as the schema says: damage, or a value from a newer node (a case
/// this build does not know).
public struct SchemaError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    /// A `oneof` without a case this build knows: written by a newer node.
    public static func unknownCase(_ message: String) -> SchemaError {
        SchemaError("\(message): no case this node knows (written by a newer version?)")
    }
}

/// Protocol Buffers encoding for the kinds' schemas.
public enum Protobuf {
    private static let deterministic: BinaryEncodingOptions = {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        return options
    }()

    /// The message's bytes, map entries in key order (equal values, equal bytes). Proto3
    /// messages have no required fields, so encoding cannot fail.
    public static func bytes(_ message: some SwiftProtobuf.Message) -> [UInt8] {
        do {
            return try message.serializedBytes(options: deterministic)
        } catch {
            preconditionFailure("a proto3 message did not encode: \(error)")
        }
    }

    /// The message in `bytes`; unknown fields are kept in it.
    public static func message<M: SwiftProtobuf.Message>(_ bytes: [UInt8], as type: M.Type = M.self) throws(SchemaError)
        -> M
    {
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw SchemaError("\(M.protoMessageName): \(error)")
        }
    }
}
