import ClusterCore
import GameDomain
import NIOCore

/// Binary codecs of entity commands, events and replies: what `ask` carries between nodes and
/// what the replicated log stores. Tags are append-only.
public enum EntityCodec {
    /// A command for one entity, as `ask` carries it.
    public enum Command: Sendable, Equatable {
        case user(User.Command)
        case name(NameReservation.Command)
        /// Read the user's current state.
        case getUser
        /// Read a name reservation's owner.
        case getName
    }

    /// What the log stores for one handled command: the entity key and the events it produced.
    public enum Events: Sendable, Equatable {
        case user([User.Event])
        case name([NameReservation.Event])
    }

    /// The answer to a command.
    public enum Reply: Sendable, Equatable {
        case done
        case user(User.State?)
        case owner(String?, confirmed: Bool)
        case failure(code: String, message: String)
    }

    // MARK: - Commands

    public static func encode(_ command: Command) -> [UInt8] {
        var buffer = ByteBuffer()
        switch command {
        case .user(let command):
            buffer.writeInteger(UInt8(1))
            switch command {
            case .create(let id, let username, let email, let passwordHash):
                buffer.writeInteger(UInt8(1))
                for text in [id, username, email, passwordHash] { buffer.writeWireString(text) }
            case .updateProfile(let change):
                buffer.writeInteger(UInt8(2))
                buffer.writeProfileChange(change)
            case .openSession(let id, let hash, let expiresAt):
                buffer.writeInteger(UInt8(3))
                buffer.writeWireString(id)
                buffer.writeWireString(hash)
                buffer.writeInteger(expiresAt.bitPattern)
            case .refresh(let sessionID, let presented, let newHash, let expiresAt):
                buffer.writeInteger(UInt8(4))
                buffer.writeWireString(sessionID)
                buffer.writeWireString(presented)
                buffer.writeWireString(newHash)
                buffer.writeInteger(expiresAt.bitPattern)
            case .closeSession(let id):
                buffer.writeInteger(UInt8(5))
                buffer.writeWireString(id)
            case .updateProfileInSession(let sessionID, let change):
                buffer.writeInteger(UInt8(6))
                buffer.writeWireString(sessionID)
                buffer.writeProfileChange(change)
            }
        case .name(let command):
            buffer.writeInteger(UInt8(2))
            switch command {
            case .reserve(let userID):
                buffer.writeInteger(UInt8(1))
                buffer.writeWireString(userID)
            case .confirm(let userID):
                buffer.writeInteger(UInt8(2))
                buffer.writeWireString(userID)
            case .release(let userID):
                buffer.writeInteger(UInt8(3))
                buffer.writeWireString(userID)
            }
        case .getUser:
            buffer.writeInteger(UInt8(3))
        case .getName:
            buffer.writeInteger(UInt8(4))
        }
        return Array(buffer.readableBytesView)
    }

    public static func decodeCommand(_ bytes: [UInt8]) throws(Wire.CodecError) -> Command {
        var buffer = ByteBuffer(bytes: bytes)
        let kind: UInt8 = try buffer.readWireInteger("command.kind")
        let command: Command
        switch kind {
        case 1:
            let tag: UInt8 = try buffer.readWireInteger("user_command.tag")
            switch tag {
            case 1:
                command = .user(
                    .create(
                        id: try buffer.readWireString("id"),
                        username: try buffer.readWireString("username"),
                        email: try buffer.readWireString("email"),
                        passwordHash: try buffer.readWireString("password_hash")
                    )
                )
            case 2:
                command = .user(.updateProfile(try buffer.readProfileChange()))
            case 3:
                command = .user(
                    .openSession(
                        id: try buffer.readWireString("session"),
                        refreshTokenHash: try buffer.readWireString("hash"),
                        expiresAt: Double(bitPattern: try buffer.readWireInteger("expires_at"))
                    )
                )
            case 4:
                command = .user(
                    .refresh(
                        sessionID: try buffer.readWireString("session"),
                        presentedHash: try buffer.readWireString("presented"),
                        newHash: try buffer.readWireString("new_hash"),
                        expiresAt: Double(bitPattern: try buffer.readWireInteger("expires_at"))
                    )
                )
            case 5:
                command = .user(.closeSession(id: try buffer.readWireString("session")))
            case 6:
                let sessionID = try buffer.readWireString("session")
                command = .user(.updateProfileInSession(sessionID: sessionID, try buffer.readProfileChange()))
            default:
                throw .invalid(field: "user_command.tag", reason: "unknown tag \(tag)")
            }
        case 2:
            let tag: UInt8 = try buffer.readWireInteger("name_command.tag")
            let userID = try buffer.readWireString("user_id")
            switch tag {
            case 1: command = .name(.reserve(userID: userID))
            case 2: command = .name(.confirm(userID: userID))
            case 3: command = .name(.release(userID: userID))
            default: throw .invalid(field: "name_command.tag", reason: "unknown tag \(tag)")
            }
        case 3:
            command = .getUser
        case 4:
            command = .getName
        default:
            throw .invalid(field: "command.kind", reason: "unknown kind \(kind)")
        }
        guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
        return command
    }

    // MARK: - Log records

    /// The replicated-log payload: the entity key and its events.
    public static func encodeRecord(key: String, events: Events) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeWireString(key)
        switch events {
        case .user(let events):
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(UInt16(events.count))
            for event in events { buffer.writeUserEvent(event) }
        case .name(let events):
            buffer.writeInteger(UInt8(2))
            buffer.writeInteger(UInt16(events.count))
            for event in events {
                switch event {
                case .reserved(let userID, let at):
                    buffer.writeInteger(UInt8(1))
                    buffer.writeWireString(userID)
                    buffer.writeInteger(at.bitPattern)
                case .confirmed(let userID):
                    buffer.writeInteger(UInt8(2))
                    buffer.writeWireString(userID)
                case .released(let userID):
                    buffer.writeInteger(UInt8(3))
                    buffer.writeWireString(userID)
                }
            }
        }
        return Array(buffer.readableBytesView)
    }

    public static func decodeRecord(_ bytes: [UInt8]) throws(Wire.CodecError) -> (key: String, events: Events) {
        var buffer = ByteBuffer(bytes: bytes)
        let key = try buffer.readWireString("record.key")
        let kind: UInt8 = try buffer.readWireInteger("record.kind")
        let count = Int(try buffer.readWireInteger("record.count") as UInt16)
        let events: Events
        switch kind {
        case 1:
            var list: [User.Event] = []
            for _ in 0..<count { list.append(try buffer.readUserEvent()) }
            events = .user(list)
        case 2:
            var list: [NameReservation.Event] = []
            for _ in 0..<count {
                let tag: UInt8 = try buffer.readWireInteger("name_event.tag")
                let userID = try buffer.readWireString("user_id")
                switch tag {
                case 1: list.append(.reserved(userID: userID, at: Double(bitPattern: try buffer.readWireInteger("at"))))
                case 2: list.append(.confirmed(userID: userID))
                case 3: list.append(.released(userID: userID))
                default: throw .invalid(field: "name_event.tag", reason: "unknown tag \(tag)")
                }
            }
            events = .name(list)
        default:
            throw .invalid(field: "record.kind", reason: "unknown kind \(kind)")
        }
        guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
        return (key, events)
    }

    // MARK: - Replies

    /// One entity's state, as a shard snapshot stores it.
    public enum EntityState: Sendable, Equatable {
        case user(User.State)
        case name(NameReservation.State)
    }

    /// A shard's entity state (the snapshot of an `EntityStore`):
    /// `version u8 = 2 | count u32 | entries`, each entry `kind u8 | key | state bytes u32 | state`,
    /// so a reader can index entries by key without decoding their states.
    public enum ShardState {
        static let version: UInt8 = 2
        public static let headerBytes = 5

        /// An encoder that entries are appended to, then finished with their count.
        public struct Writer {
            var buffer = ByteBuffer()
            var count: UInt32 = 0

            public init(capacity: Int = 0) {
                buffer.reserveCapacity(capacity + ShardState.headerBytes)
                buffer.writeInteger(ShardState.version)
                buffer.writeInteger(UInt32(0))
            }

            /// Appends an entry; returns where it sits in the finished bytes.
            @discardableResult
            public mutating func append(key: String, _ state: EntityState) -> Range<Int> {
                let start = buffer.writerIndex
                switch state {
                case .user: buffer.writeInteger(UInt8(1))
                case .name: buffer.writeInteger(UInt8(2))
                }
                buffer.writeWireString(key)
                let lengthAt = buffer.writerIndex
                buffer.writeInteger(UInt32(0))
                switch state {
                case .user(let user): buffer.writeUserState(user)
                case .name(let name): buffer.writeNameState(name)
                }
                buffer.setInteger(UInt32(buffer.writerIndex - lengthAt - 4), at: lengthAt)
                count += 1
                return start..<buffer.writerIndex
            }

            /// Appends an entry exactly as ``entry(in:at:)`` found it in another encoding.
            public mutating func append(raw bytes: ArraySlice<UInt8>) {
                buffer.writeBytes(bytes)
                count += 1
            }

            public mutating func finish() -> [UInt8] {
                buffer.setInteger(count, at: 1)
                return Array(buffer.readableBytesView)
            }
        }

        /// The entries of an encoding: each key's hash (FNV-1a of its UTF-8 bytes) and the byte
        /// range of the whole entry. Checks the framing, not the states.
        public static func index(_ bytes: [UInt8]) throws(Wire.CodecError) -> [(keyHash: UInt64, entry: Range<Int>)] {
            guard bytes.count >= headerBytes else { throw .truncated(field: "shard_state.header") }
            guard bytes[0] == version else { throw .invalid(field: "shard_state.version", reason: "unknown version \(bytes[0])") }
            let count = Int(bytes[1]) << 24 | Int(bytes[2]) << 16 | Int(bytes[3]) << 8 | Int(bytes[4])
            // Every entry takes at least 7 bytes: a count beyond the payload is damage, not a reason to allocate.
            guard count <= bytes.count / 7 else { throw .truncated(field: "shard_state.entries") }
            var result: [(keyHash: UInt64, entry: Range<Int>)] = []
            result.reserveCapacity(count)
            var cursor = headerBytes
            // The scan reports its error as a value: `withUnsafeBytes` does not carry typed throws.
            let failure = bytes.withUnsafeBytes { raw -> Wire.CodecError? in
                for _ in 0..<count {
                    let start = cursor
                    guard raw.count - cursor >= 3 else { return .truncated(field: "shard_state.entry") }
                    guard raw[cursor] == 1 || raw[cursor] == 2 else {
                        return .invalid(field: "shard_state.entry.kind", reason: "unknown kind \(raw[cursor])")
                    }
                    let keyLength = Int(raw[cursor + 1]) << 8 | Int(raw[cursor + 2])
                    cursor += 3
                    guard raw.count - cursor >= keyLength + 4 else { return .truncated(field: "shard_state.entry.key") }
                    let keyHash = StableHash.fnv1a64(UnsafeRawBufferPointer(rebasing: raw[cursor..<(cursor + keyLength)]))
                    cursor += keyLength
                    let stateLength = Int(raw.loadUnaligned(fromByteOffset: cursor, as: UInt32.self).bigEndian)
                    cursor += 4
                    guard raw.count - cursor >= stateLength else { return .truncated(field: "shard_state.entry.state") }
                    cursor += stateLength
                    result.append((keyHash, start..<cursor))
                }
                return nil
            }
            if let failure { throw failure }
            guard cursor == bytes.count else { throw .trailingBytes(bytes.count - cursor) }
            return result
        }

        /// Decodes the entry occupying `range` of `bytes` (as ``index(_:)`` found it).
        public static func entry(in bytes: [UInt8], at range: Range<Int>) throws(Wire.CodecError) -> (key: String, state: EntityState) {
            var buffer = ByteBuffer(bytes: bytes[range])
            let kind: UInt8 = try buffer.readWireInteger("shard_state.entry.kind")
            let key = try buffer.readWireString("shard_state.entry.key")
            let length = Int(try buffer.readWireInteger("shard_state.entry.length") as UInt32)
            guard length == buffer.readableBytes else { throw .invalid(field: "shard_state.entry.length", reason: "does not match") }
            let state: EntityState
            switch kind {
            case 1: state = .user(try buffer.readUserState())
            case 2: state = .name(try buffer.readNameState())
            default: throw .invalid(field: "shard_state.entry.kind", reason: "unknown kind \(kind)")
            }
            guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
            return (key, state)
        }

        /// Whether the entry at `range` is the one of `key` (compares the stored key's bytes).
        public static func entry(in bytes: [UInt8], at range: Range<Int>, hasKey key: String) -> Bool {
            var key = key
            return key.withUTF8 { wanted in
                let start = range.lowerBound + 3
                guard range.count >= 3 + wanted.count,
                    Int(bytes[range.lowerBound + 1]) << 8 | Int(bytes[range.lowerBound + 2]) == wanted.count
                else { return false }
                return bytes[start..<(start + wanted.count)].elementsEqual(wanted)
            }
        }

        /// Decodes every entry (tests and tools; a node indexes instead).
        public static func decodeAll(_ bytes: [UInt8]) throws(Wire.CodecError) -> [String: EntityState] {
            var result: [String: EntityState] = [:]
            for (_, range) in try index(bytes) {
                let (key, state) = try entry(in: bytes, at: range)
                result[key] = state
            }
            return result
        }
    }

    public static func encode(_ reply: Reply) -> [UInt8] {
        var buffer = ByteBuffer()
        switch reply {
        case .done:
            buffer.writeInteger(UInt8(1))
        case .user(let state):
            buffer.writeInteger(UInt8(2))
            if let state {
                buffer.writeInteger(UInt8(1))
                buffer.writeUserState(state)
            } else {
                buffer.writeInteger(UInt8(0))
            }
        case .failure(let code, let message):
            buffer.writeInteger(UInt8(3))
            buffer.writeWireString(code)
            buffer.writeShortenedWireString(message)  // a message may quote a long key
        case .owner(let owner, let confirmed):
            buffer.writeInteger(UInt8(4))
            buffer.writeOptionalString(owner)
            buffer.writeInteger(UInt8(confirmed ? 1 : 0))
        }
        return Array(buffer.readableBytesView)
    }

    public static func decodeReply(_ bytes: [UInt8]) throws(Wire.CodecError) -> Reply {
        var buffer = ByteBuffer(bytes: bytes)
        let kind: UInt8 = try buffer.readWireInteger("reply.kind")
        let reply: Reply
        switch kind {
        case 1: reply = .done
        case 2:
            let present: UInt8 = try buffer.readWireInteger("reply.present")
            reply = .user(present == 1 ? try buffer.readUserState() : nil)
        case 3: reply = .failure(code: try buffer.readWireString("code"), message: try buffer.readWireString("message"))
        case 4: reply = .owner(try buffer.readOptionalString("owner"), confirmed: (try buffer.readWireInteger("confirmed") as UInt8) == 1)
        default: throw .invalid(field: "reply.kind", reason: "unknown kind \(kind)")
        }
        guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
        return reply
    }
}

extension ByteBuffer {
    mutating func writeOptionalString(_ text: String?) {
        if let text {
            writeInteger(UInt8(1))
            writeWireString(text)
        } else {
            writeInteger(UInt8(0))
        }
    }

    mutating func readOptionalString(_ field: String) throws(Wire.CodecError) -> String? {
        let present: UInt8 = try readWireInteger("\(field).present")
        switch present {
        case 0: return nil
        case 1: return try readWireString(field)
        default: throw .invalid(field: field, reason: "bad presence flag")
        }
    }

    /// `nil` (leave), `.some(nil)` (clear) or `.some(text)`.
    mutating func writeDoubleOptionalString(_ value: String??) {
        switch value {
        case .none: writeInteger(UInt8(0))
        case .some(.none): writeInteger(UInt8(1))
        case .some(.some(let text)):
            writeInteger(UInt8(2))
            writeWireString(text)
        }
    }

    mutating func readDoubleOptionalString(_ field: String) throws(Wire.CodecError) -> String?? {
        let tag: UInt8 = try readWireInteger("\(field).tag")
        switch tag {
        case 0: return .none
        case 1: return .some(.none)
        case 2: return .some(.some(try readWireString(field)))
        default: throw .invalid(field: field, reason: "bad tag")
        }
    }

    mutating func writeProfileChange(_ change: User.ProfileChange) {
        writeOptionalString(change.displayName)
        writeOptionalString(change.bio)
        writeDoubleOptionalString(change.avatarURL)
        writeDoubleOptionalString(change.country)
    }

    mutating func readProfileChange() throws(Wire.CodecError) -> User.ProfileChange {
        User.ProfileChange(
            displayName: try readOptionalString("display_name"),
            bio: try readOptionalString("bio"),
            avatarURL: try readDoubleOptionalString("avatar_url"),
            country: try readDoubleOptionalString("country")
        )
    }

    mutating func writeProfile(_ profile: User.Profile) {
        writeWireString(profile.displayName)
        writeWireString(profile.bio)
        writeOptionalString(profile.avatarURL)
        writeOptionalString(profile.country)
    }

    mutating func readProfile() throws(Wire.CodecError) -> User.Profile {
        User.Profile(
            displayName: try readWireString("display_name"),
            bio: try readWireString("bio"),
            avatarURL: try readOptionalString("avatar_url"),
            country: try readOptionalString("country")
        )
    }

    mutating func writeUserEvent(_ event: User.Event) {
        switch event {
        case .created(let id, let username, let email, let passwordHash, let at):
            writeInteger(UInt8(1))
            for text in [id, username, email, passwordHash] { writeWireString(text) }
            writeInteger(at.bitPattern)
        case .profileUpdated(let profile):
            writeInteger(UInt8(2))
            writeProfile(profile)
        case .sessionOpened(let id, let hash, let expiresAt):
            writeInteger(UInt8(3))
            writeWireString(id)
            writeWireString(hash)
            writeInteger(expiresAt.bitPattern)
        case .refreshRotated(let id, let hash, let expiresAt):
            writeInteger(UInt8(4))
            writeWireString(id)
            writeWireString(hash)
            writeInteger(expiresAt.bitPattern)
        case .sessionRevoked(let id, let reason):
            writeInteger(UInt8(5))
            writeWireString(id)
            writeInteger(reason.rawValue)
        case .sessionsForgotten(let ids):
            writeInteger(UInt8(6))
            writeInteger(UInt16(ids.count))
            for id in ids { writeWireString(id) }
        }
    }

    mutating func readUserEvent() throws(Wire.CodecError) -> User.Event {
        let tag: UInt8 = try readWireInteger("user_event.tag")
        switch tag {
        case 1:
            return .created(
                id: try readWireString("id"),
                username: try readWireString("username"),
                email: try readWireString("email"),
                passwordHash: try readWireString("password_hash"),
                at: Double(bitPattern: try readWireInteger("at"))
            )
        case 2:
            return .profileUpdated(try readProfile())
        case 3, 4:
            let id = try readWireString("session")
            let hash = try readWireString("hash")
            let expiresAt = Double(bitPattern: try readWireInteger("expires_at"))
            return tag == 3
                ? .sessionOpened(id: id, refreshTokenHash: hash, expiresAt: expiresAt)
                : .refreshRotated(id: id, refreshTokenHash: hash, expiresAt: expiresAt)
        case 5:
            let id = try readWireString("session")
            let raw: UInt8 = try readWireInteger("reason")
            guard let reason = User.RevocationReason(rawValue: raw) else {
                throw .invalid(field: "reason", reason: "unknown reason \(raw)")
            }
            return .sessionRevoked(id: id, reason: reason)
        case 6:
            let count = Int(try readWireInteger("sessions.count") as UInt16)
            var ids: [String] = []
            for _ in 0..<count { ids.append(try readWireString("session")) }
            return .sessionsForgotten(ids: ids)
        default:
            throw .invalid(field: "user_event.tag", reason: "unknown tag \(tag)")
        }
    }

    mutating func writeNameState(_ state: NameReservation.State) {
        writeOptionalString(state.owner)
        writeInteger(state.reservedAt.bitPattern)
        writeInteger(UInt8(state.isConfirmed ? 1 : 0))
    }

    mutating func readNameState() throws(Wire.CodecError) -> NameReservation.State {
        var state = NameReservation.State()
        state.owner = try readOptionalString("name.owner")
        state.reservedAt = Double(bitPattern: try readWireInteger("name.reserved_at"))
        let confirmed: UInt8 = try readWireInteger("name.confirmed")
        guard confirmed <= 1 else { throw .invalid(field: "name.confirmed", reason: "not 0 or 1") }
        state.isConfirmed = confirmed == 1
        return state
    }

    mutating func writeUserState(_ state: User.State) {
        writeWireString(state.id ?? "")
        writeWireString(state.username)
        writeWireString(state.email)
        writeWireString(state.passwordHash)
        writeProfile(state.profile)
        writeInteger(state.createdAt.bitPattern)
        writeInteger(UInt16(state.sessions.count))
        for session in state.sessions.values.sorted(by: { $0.id < $1.id }) {
            writeWireString(session.id)
            writeWireString(session.refreshTokenHash)
            writeInteger(session.expiresAt.bitPattern)
            writeInteger(UInt8(session.isRevoked ? 1 : 0))
        }
    }

    mutating func readUserState() throws(Wire.CodecError) -> User.State {
        var state = User.State()
        let id = try readWireString("id")
        state.id = id.isEmpty ? nil : id
        state.username = try readWireString("username")
        state.email = try readWireString("email")
        state.passwordHash = try readWireString("password_hash")
        state.profile = try readProfile()
        state.createdAt = Double(bitPattern: try readWireInteger("created_at"))
        let count = Int(try readWireInteger("sessions.count") as UInt16)
        for _ in 0..<count {
            let session = User.Session(
                id: try readWireString("session.id"),
                refreshTokenHash: try readWireString("session.hash"),
                expiresAt: Double(bitPattern: try readWireInteger("session.expires_at")),
                isRevoked: (try readWireInteger("session.revoked") as UInt8) == 1
            )
            state.sessions[session.id] = session
        }
        return state
    }
}
