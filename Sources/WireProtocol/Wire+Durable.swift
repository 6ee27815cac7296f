import ClusterCore
import NIOCore

extension Wire {
    /// Binary encoding of replication's durable changes, the payloads of WAL records.
    ///
    /// The record type says which change it is (append-only numbers):
    /// 1 promised configuration, 2 promised epoch only, 3 log entries from an LSN on, 4 commit
    /// position, 5 a base installed from another node, 6 configurations dropped from the history.
    public enum DurableRecord {
        public static let promised: UInt8 = 1
        public static let promisedEpoch: UInt8 = 2
        public static let entries: UInt8 = 3
        public static let committed: UInt8 = 4
        public static let installed: UInt8 = 5
        public static let forgot: UInt8 = 6

        /// The record type and payload of a change.
        public static func encode(_ change: Replication.Replica.DurableChange) -> (type: UInt8, payload: [UInt8]) {
            var buffer = ByteBuffer()
            let type: UInt8
            switch change {
            case .promised(let config):
                buffer.writeWireConfig(config)
                type = promised
            case .promisedEpoch(let epoch):
                buffer.writeWireEpoch(epoch)
                type = promisedEpoch
            case .entries(let list):
                buffer.writeWireEntries(list)
                type = entries
            case .committed(let lsn):
                buffer.writeInteger(lsn)
                type = committed
            case .installed(let base):
                buffer.writeWireBase(base)
                type = installed
            case .forgot(let epochs):
                buffer.writeInteger(UInt32(epochs.count))
                for epoch in epochs { buffer.writeWireEpoch(epoch) }
                type = forgot
            }
            return (type, Array(buffer.readableBytesView))
        }

        public static func decode(type: UInt8, payload: [UInt8]) throws(CodecError) -> Replication.Replica.DurableChange {
            var buffer = ByteBuffer(bytes: payload)
            let change: Replication.Replica.DurableChange
            switch type {
            case promised: change = .promised(try buffer.readWireConfig("promised"))
            case promisedEpoch: change = .promisedEpoch(try buffer.readWireEpoch("promised_epoch"))
            case entries: change = .entries(try buffer.readWireEntries(limit: Int.max))
            case committed: change = .committed(try buffer.readWireInteger("committed"))
            case installed: change = .installed(try buffer.readWireBase("installed", stateLimit: Int.max))
            case forgot:
                let count = Int(try buffer.readWireInteger("forgot.count") as UInt32)
                guard count <= buffer.readableBytes / 10 else { throw .truncated(field: "forgot") }
                var epochs: [Replication.Epoch] = []
                for _ in 0..<count { epochs.append(try buffer.readWireEpoch("forgot.epoch")) }
                change = .forgot(epochs)
            default: throw .unknownType(type)
            }
            guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
            return change
        }
    }
}

extension Wire {
    /// Binary encoding of a replica's whole durable state, the content of a shard snapshot:
    /// `version u8 | promised | history | base? | commit u64 | entries`.
    public enum ReplicaSnapshot {
        static let version: UInt8 = 1

        public static func encode(_ durable: Replication.Replica.Durable) -> [UInt8] {
            var buffer = ByteBuffer()
            buffer.reserveCapacity(64 + (durable.base?.state.count ?? 0) + durable.log.count * 32)
            buffer.writeInteger(version)
            buffer.writeWireEpoch(durable.promised)
            buffer.writeInteger(UInt32(durable.history.count))
            for config in durable.history { buffer.writeWireConfig(config) }
            buffer.writeWireOptionalBase(durable.base)
            buffer.writeInteger(durable.commitLSN)
            buffer.writeWireEntries(durable.log)
            return Array(buffer.readableBytesView)
        }

        public static func decode(_ bytes: [UInt8]) throws(CodecError) -> Replication.Replica.Durable {
            var buffer = ByteBuffer(bytes: bytes)
            let found: UInt8 = try buffer.readWireInteger("snapshot.version")
            guard found == version else { throw .invalid(field: "snapshot.version", reason: "unknown version \(found)") }
            var durable = Replication.Replica.Durable()
            durable.promised = try buffer.readWireEpoch("snapshot.promised")
            // A local file, checksummed when read: bounded by its size, not by message limits.
            let count = Int(try buffer.readWireInteger("snapshot.history.count") as UInt32)
            guard count <= buffer.readableBytes / 10 else { throw .truncated(field: "snapshot.history") }
            for _ in 0..<count { durable.history.append(try buffer.readWireConfig("snapshot.history")) }
            durable.base = try buffer.readWireOptionalBase("snapshot.base", stateLimit: Int.max)
            durable.commitLSN = try buffer.readWireInteger("snapshot.commit_lsn")
            durable.log = try buffer.readWireEntries(limit: Int.max)
            guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
            if let first = durable.log.first, first.lsn != (durable.base?.lsn ?? 0) + 1 {
                throw .invalid(field: "snapshot.entries", reason: "the log does not start after the base")
            }
            return durable
        }
    }
}
