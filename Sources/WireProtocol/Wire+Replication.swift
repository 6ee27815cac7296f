import ClusterCore
import NIOCore

extension Wire.Limits {
    public static let entriesMax = 4096
    public static let replicasMax = 64
    public static let historyMax = 1024
    public static let payloadBytesMax = 8 * 1024 * 1024
    /// A shard's state in a snapshot transfer or an install record.
    public static let stateBytesMax = 64 * 1024 * 1024
    /// The largest log position a message or record may name: no log gets near it, and the
    /// replicas' arithmetic on positions (`lsn + 1`, distances) stays far from overflowing.
    public static let lsnMax: UInt64 = 1 << 62
}

// MARK: - Replication messages

extension ByteBuffer {
    mutating func writeWireEpoch(_ epoch: Replication.Epoch) {
        writeInteger(epoch.number)
        writeWireString(epoch.node)
    }

    mutating func readWireEpoch(_ field: String) throws(Wire.CodecError) -> Replication.Epoch {
        Replication.Epoch(number: try readWireInteger("\(field).number"), node: try readWireString("\(field).node"))
    }

    mutating func writeWireNodeIDs(_ ids: [NodeID]) {
        writeInteger(UInt16(ids.count))
        for id in ids { writeWireString(id.rawValue) }
    }

    mutating func readWireNodeIDs(_ field: String) throws(Wire.CodecError) -> [NodeID] {
        let count = Int(try readWireInteger("\(field).count") as UInt16)
        guard count <= Wire.Limits.replicasMax else {
            throw .tooLong(field: field, count: count, limit: Wire.Limits.replicasMax)
        }
        var ids: [NodeID] = []
        for _ in 0..<count { ids.append(try readWireNodeID(field)) }
        return ids
    }

    mutating func writeWireConfig(_ config: Replication.Config) {
        writeWireEpoch(config.epoch)
        writeWireNodeIDs(config.replicas)
    }

    mutating func readWireConfig(_ field: String) throws(Wire.CodecError) -> Replication.Config {
        Replication.Config(
            epoch: try readWireEpoch("\(field).epoch"),
            replicas: try readWireNodeIDs("\(field).replicas")
        )
    }

    mutating func writeWireEntries(_ entries: [Replication.Entry]) {
        writeInteger(UInt32(entries.count))
        for entry in entries {
            writeWireEpoch(entry.epoch)
            writeInteger(entry.lsn)
            switch entry.payload {
            case .start(let replicas):
                writeInteger(UInt8(1))
                writeWireNodeIDs(replicas)
            case .command(let bytes):
                writeInteger(UInt8(2))
                writeWireBlob(bytes)
            }
        }
    }

    /// Reads entries; `limit` bounds the count (messages carry few, durable records and
    /// snapshots as many as a log holds, which the enclosing length already bounds).
    mutating func readWireEntries(limit: Int = Wire.Limits.entriesMax) throws(Wire.CodecError) -> [Replication.Entry] {
        let count = Int(try readWireInteger("entries.count") as UInt32)
        guard count <= limit else {
            throw .tooLong(field: "entries", count: count, limit: limit)
        }
        var entries: [Replication.Entry] = []
        entries.reserveCapacity(min(count, readableBytes / 16))
        for _ in 0..<count {
            let epoch = try readWireEpoch("entry.epoch")
            let lsn = try readWireLSN("entry.lsn")
            let kind: UInt8 = try readWireInteger("entry.kind")
            switch kind {
            case 1:
                entries.append(
                    .init(epoch: epoch, lsn: lsn, payload: .start(replicas: try readWireNodeIDs("entry.replicas")))
                )
            case 2:
                entries.append(.init(epoch: epoch, lsn: lsn, payload: .command(try readWireBlob("entry.payload"))))
            default:
                throw .invalid(field: "entry.kind", reason: "unknown kind \(kind)")
            }
        }
        return entries
    }

    mutating func writeWireBase(_ base: Replication.Base) {
        writeInteger(base.lsn)
        writeWireEpoch(base.epoch)
        writeWireConfig(base.config)
        writeInteger(UInt32(base.state.count))
        writeBytes(base.state)
    }

    /// Reads a base; `stateLimit` bounds its state (messages; local files are bounded by their size).
    mutating func readWireBase(_ field: String, stateLimit: Int = Wire.Limits.stateBytesMax) throws(Wire.CodecError)
        -> Replication.Base
    {
        let lsn = try readWireLSN("\(field).lsn")
        let epoch = try readWireEpoch("\(field).epoch")
        let config = try readWireConfig("\(field).config")
        let count = Int(try readWireInteger("\(field).state.count") as UInt32)
        guard count <= stateLimit else {
            throw .tooLong(field: "\(field).state", count: count, limit: stateLimit)
        }
        guard let state = readBytes(length: count) else { throw .truncated(field: "\(field).state") }
        return Replication.Base(lsn: lsn, epoch: epoch, config: config, state: state)
    }

    mutating func writeWireOptionalBase(_ base: Replication.Base?) {
        if let base {
            writeInteger(UInt8(1))
            writeWireBase(base)
        } else {
            writeInteger(UInt8(0))
        }
    }

    mutating func readWireOptionalBase(_ field: String, stateLimit: Int = Wire.Limits.stateBytesMax) throws(Wire
        .CodecError) -> Replication.Base?
    {
        switch try readWireInteger("\(field).present") as UInt8 {
        case 0: return nil
        case 1: return try readWireBase(field, stateLimit: stateLimit)
        default: throw .invalid(field: "\(field).present", reason: "not 0 or 1")
        }
    }

    mutating func writeWireReplication(shard: UInt32, _ message: Replication.Message) {
        writeInteger(shard)
        switch message {
        case .prepare(let epoch, let replicas, let fromLSN):
            writeInteger(UInt8(1))
            writeWireEpoch(epoch)
            writeWireNodeIDs(replicas)
            writeInteger(fromLSN)
        case .promise(let epoch, let promise):
            writeInteger(UInt8(2))
            writeWireEpoch(epoch)
            writeWireString(promise.from.rawValue)
            writeWireEpoch(promise.lastEpoch)
            writeInteger(promise.lastLSN)
            writeWireConfig(promise.latestConfig)
            writeWireConfigs(promise.history)
            writeWireEpoch(promise.committedStart)
            writeInteger(promise.commitLSN)
            writeWireOptionalBase(promise.base)
            writeWireEntries(promise.entries)
        case .refuse(let epoch, let promised):
            writeInteger(UInt8(3))
            writeWireEpoch(epoch)
            writeWireEpoch(promised)
        case .append(let epoch, let prevLSN, let prevEpoch, let entries, let commitLSN):
            writeInteger(UInt8(4))
            writeWireEpoch(epoch)
            writeInteger(prevLSN)
            writeWireEpoch(prevEpoch)
            writeWireEntries(entries)
            writeInteger(commitLSN)
        case .appendReply(let epoch, let success, let lsn):
            writeInteger(UInt8(5))
            writeWireEpoch(epoch)
            writeWireFlag(success)
            writeInteger(lsn)
        case .installSnapshot(let epoch, let base):
            writeInteger(UInt8(6))
            writeWireEpoch(epoch)
            writeWireBase(base)
        case .readProbe(let epoch, let round):
            writeInteger(UInt8(7))
            writeWireEpoch(epoch)
            writeInteger(round)
        case .readAck(let epoch, let round):
            writeInteger(UInt8(8))
            writeWireEpoch(epoch)
            writeInteger(round)
        case .recover(let nonce):
            writeInteger(UInt8(9))
            writeInteger(nonce)
        case .recoverReply(let nonce, let report):
            writeInteger(UInt8(10))
            writeInteger(nonce)
            writeWireRecoveryReport(report)
        case .abstain(let epoch, let report):
            writeInteger(UInt8(11))
            writeWireEpoch(epoch)
            writeWireRecoveryReport(report)
        }
    }

    /// Configurations (a promise history): a count, then each; at most ``Wire/Limits/historyMax``.
    mutating func writeWireConfigs(_ configs: [Replication.Config]) {
        writeInteger(UInt16(configs.count))
        for config in configs { writeWireConfig(config) }
    }

    mutating func readWireConfigs(_ field: String) throws(Wire.CodecError) -> [Replication.Config] {
        let count = Int(try readWireInteger("\(field).count") as UInt16)
        guard count <= Wire.Limits.historyMax else {
            throw .tooLong(field: field, count: count, limit: Wire.Limits.historyMax)
        }
        var configs: [Replication.Config] = []
        for _ in 0..<count { configs.append(try readWireConfig(field)) }
        return configs
    }

    mutating func writeWireRecoveryReport(_ report: Replication.RecoveryReport) {
        writeWireString(report.from.rawValue)
        writeWireFlag(report.recovering)
        writeWireEpoch(report.promised)
        writeWireFlag(report.primary)
        writeInteger(report.lastLSN)
        writeWireConfig(report.latestConfig)
        writeWireConfigs(report.history)
        writeWireEpoch(report.committedStart)
    }

    mutating func readWireRecoveryReport(_ field: String) throws(Wire.CodecError) -> Replication.RecoveryReport {
        let from = try readWireNodeID("\(field).from")
        let recovering = try readWireFlag("\(field).recovering")
        let promised = try readWireEpoch("\(field).promised")
        let primary = try readWireFlag("\(field).primary")
        let lastLSN = try readWireLSN("\(field).last_lsn")
        let latest = try readWireConfig("\(field).latest_config")
        let history = try readWireConfigs("\(field).history")
        return Replication.RecoveryReport(
            from: from,
            recovering: recovering,
            promised: promised,
            primary: primary,
            lastLSN: lastLSN,
            latestConfig: latest,
            history: history,
            committedStart: try readWireEpoch("\(field).committed_start")
        )
    }

    /// A byte that is 0 (false) or 1 (true).
    mutating func writeWireFlag(_ flag: Bool) { writeInteger(UInt8(flag ? 1 : 0)) }

    mutating func readWireFlag(_ field: String) throws(Wire.CodecError) -> Bool {
        let flag: UInt8 = try readWireInteger(field)
        guard flag <= 1 else { throw .invalid(field: field, reason: "not 0 or 1") }
        return flag == 1
    }

    /// A log position, at most ``Wire/Limits/lsnMax``.
    mutating func readWireLSN(_ field: String) throws(Wire.CodecError) -> UInt64 {
        let lsn: UInt64 = try readWireInteger(field)
        guard lsn <= Wire.Limits.lsnMax else {
            throw .invalid(field: field, reason: "\(lsn) is past the largest log position")
        }
        return lsn
    }

    /// Entries that a message carries as one run of the log: `after + 1`, `after + 2`, …
    static func checkConsecutive(_ entries: [Replication.Entry], after: UInt64, field: String) throws(Wire.CodecError) {
        for (offset, entry) in entries.enumerated() where entry.lsn != after + 1 + UInt64(offset) {
            throw .invalid(
                field: field,
                reason: "entry \(offset) is at \(entry.lsn), not \(after + 1 + UInt64(offset))"
            )
        }
    }

    mutating func readWireReplication() throws(Wire.CodecError) -> (UInt32, Replication.Message) {
        let shard: UInt32 = try readWireInteger("replication.shard")
        let kind: UInt8 = try readWireInteger("replication.kind")
        switch kind {
        case 1:
            return (
                shard,
                .prepare(
                    epoch: try readWireEpoch("prepare.epoch"),
                    replicas: try readWireNodeIDs("prepare.replicas"),
                    fromLSN: try readWireLSN("prepare.from_lsn")
                )
            )
        case 2:
            let epoch = try readWireEpoch("promise.epoch")
            let from = try readWireNodeID("promise.from")
            let lastEpoch = try readWireEpoch("promise.last_epoch")
            let lastLSN = try readWireLSN("promise.last_lsn")
            let latest = try readWireConfig("promise.latest_config")
            let history = try readWireConfigs("promise.history")
            let committedStart = try readWireEpoch("promise.committed_start")
            let commitLSN = try readWireLSN("promise.commit_lsn")
            let base = try readWireOptionalBase("promise.base")
            let entries = try readWireEntries(limit: Int.max)
            try Self.checkConsecutive(
                entries,
                after: entries.first.map { max($0.lsn, 1) - 1 } ?? 0,
                field: "promise.entries"
            )
            return (
                shard,
                .promise(
                    epoch: epoch,
                    Replication.Promise(
                        from: from,
                        lastEpoch: lastEpoch,
                        lastLSN: lastLSN,
                        latestConfig: latest,
                        history: history,
                        committedStart: committedStart,
                        commitLSN: commitLSN,
                        base: base,
                        entries: entries
                    )
                )
            )
        case 3:
            return (
                shard, .refuse(epoch: try readWireEpoch("refuse.epoch"), promised: try readWireEpoch("refuse.promised"))
            )
        case 4:
            let epoch = try readWireEpoch("append.epoch")
            let prevLSN = try readWireLSN("append.prev_lsn")
            let prevEpoch = try readWireEpoch("append.prev_epoch")
            let entries = try readWireEntries()
            try Self.checkConsecutive(entries, after: prevLSN, field: "append.entries")
            let commitLSN = try readWireLSN("append.commit_lsn")
            return (
                shard,
                .append(epoch: epoch, prevLSN: prevLSN, prevEpoch: prevEpoch, entries: entries, commitLSN: commitLSN)
            )
        case 5:
            let epoch = try readWireEpoch("append_reply.epoch")
            let success = try readWireFlag("append_reply.success")
            return (shard, .appendReply(epoch: epoch, success: success, lsn: try readWireLSN("append_reply.lsn")))
        case 6:
            return (
                shard,
                .installSnapshot(epoch: try readWireEpoch("install.epoch"), base: try readWireBase("install.base"))
            )
        case 7:
            return (
                shard,
                .readProbe(epoch: try readWireEpoch("read_probe.epoch"), round: try readWireInteger("read_probe.round"))
            )
        case 8:
            return (
                shard,
                .readAck(epoch: try readWireEpoch("read_ack.epoch"), round: try readWireInteger("read_ack.round"))
            )
        case 9:
            return (shard, .recover(nonce: try readWireInteger("recover.nonce")))
        case 10:
            let nonce: UInt64 = try readWireInteger("recover_reply.nonce")
            return (shard, .recoverReply(nonce: nonce, try readWireRecoveryReport("recover_reply")))
        case 11:
            let epoch = try readWireEpoch("abstain.epoch")
            return (shard, .abstain(epoch: epoch, try readWireRecoveryReport("abstain")))
        default:
            throw .invalid(field: "replication.kind", reason: "unknown kind \(kind)")
        }
    }
}
