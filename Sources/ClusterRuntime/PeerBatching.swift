import ClusterCore
import WireProtocol

/// Replication messages to other nodes go out as one frame per peer per burst of work, whatever
/// the number of shards, split when a frame would hold too many messages or bytes.
enum PeerBatching {
    /// Sends messages to other nodes, one frame per peer (split when large), in order.
    static func ship(
        _ messages: [(shard: UInt32, message: Replication.Message, to: NodeID)],
        over transport: ClusterTransport,
        addressOf: (NodeID) -> NodeAddress?,
        settings: ReplicationSettings
    ) {
        var byPeer: [NodeID: [Wire.ShardMessage]] = [:]
        var order: [NodeID] = []
        for (shard, message, to) in messages {
            if byPeer[to] == nil { order.append(to) }
            byPeer[to, default: []].append(Wire.ShardMessage(shard: shard, message: message))
        }
        for peer in order {
            guard let address = addressOf(peer), let items = byPeer[peer] else { continue }
            var frame: [Wire.ShardMessage] = []
            var bytes = 0
            func flush() {
                if frame.count == 1 {
                    transport.send(.replication(shard: frame[0].shard, frame[0].message), to: address)
                } else if !frame.isEmpty {
                    transport.send(.replicationBatch(frame), to: address)
                }
                frame.removeAll(keepingCapacity: true)
                bytes = 0
            }
            for item in items {
                let size = approximateBytes(item.message)
                if !frame.isEmpty && (frame.count >= settings.batchMessagesMax || bytes + size > settings.batchBytesMax)
                {
                    flush()
                }
                frame.append(item)
                bytes += size
            }
            flush()
        }
    }

    /// About how many bytes a message takes on the wire (to keep batches well under the frame limit).
    static func approximateBytes(_ message: Replication.Message) -> Int {
        func size(_ entries: [Replication.Entry]) -> Int {
            entries.reduce(0) { total, entry in
                if case .command(let bytes) = entry.payload { total + 48 + bytes.count } else { total + 128 }
            }
        }
        switch message {
        case .append(_, _, _, let entries, _): return 96 + size(entries)
        case .promise(_, let promise): return 512 + size(promise.entries) + (promise.base?.state.count ?? 0)
        case .installSnapshot(_, let base): return 256 + base.state.count
        case .prepare, .refuse, .appendReply, .readProbe, .readAck, .recover: return 96
        case .recoverReply(_, let report), .abstain(_, let report): return 256 + 128 * report.history.count
        }
    }
}
