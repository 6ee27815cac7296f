import ClusterCore
import NIOCore

extension Wire {
    /// Binary encoding of replication's durable changes, the payloads of WAL records.
    ///
    /// The record type says which change it is (append-only numbers):
    /// 1 promised configuration, 2 promised epoch only, 3 log entries from an LSN on, 4 commit position.
    public enum DurableRecord {
        public static let promised: UInt8 = 1
        public static let promisedEpoch: UInt8 = 2
        public static let entries: UInt8 = 3
        public static let committed: UInt8 = 4

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
            }
            return (type, Array(buffer.readableBytesView))
        }

        public static func decode(type: UInt8, payload: [UInt8]) throws(CodecError) -> Replication.Replica.DurableChange {
            var buffer = ByteBuffer(bytes: payload)
            let change: Replication.Replica.DurableChange
            switch type {
            case promised: change = .promised(try buffer.readWireConfig("promised"))
            case promisedEpoch: change = .promisedEpoch(try buffer.readWireEpoch("promised_epoch"))
            case entries: change = .entries(try buffer.readWireEntries())
            case committed: change = .committed(try buffer.readWireInteger("committed"))
            default: throw .unknownType(type)
            }
            guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
            return change
        }
    }
}
