import ClusterCore
import Logging
import NIOPosix
import Persistence
import Synchronization
import WireProtocol

/// The outbox: the replicas' directives carried out — durable changes handed to the WAL, messages
/// held until the write they depend on is done (a primary's appends leave at once), commit
/// positions deferred to the next write, and a failed write halting the node.
extension ReplicationHost {
    // MARK: - Directives and the outbox

    func collect(shard: UInt32, _ directives: [Replication.Directive]) {
        let changes = slots[Int(shard)].replica.takeDurableChanges()
        // An installed base rewrites the log before the entries that follow it in these changes
        // (a new primary adopting a base, then the log after it): noted first, so the batch that
        // writes those entries is not taken for stale and marks them durable.
        for case .installed(let base) in directives {
            slots[Int(shard)].durability.installed(baseLSN: base.lsn, lastLSN: slots[Int(shard)].replica.lastLSN)
        }
        if let mark = slots[Int(shard)].durability.queue(changes) { outbox.durableUpTo.append((shard, mark)) }
        for change in changes {
            for part in ReplicationLog.walSized(change) {
                let (type, payload) = Wire.DurableRecord.encode(part)
                let (epoch, lsn): (UInt64, UInt64) =
                    switch part {
                    case .promised(let config): (config.epoch.number, 0)
                    case .promisedEpoch(let epoch): (epoch.number, 0)
                    case .entries(let entries): (entries.first?.epoch.number ?? 0, entries.first?.lsn ?? 0)
                    case .committed(let lsn): (0, lsn)
                    case .installed(let base): (base.epoch.number, base.lsn)
                    case .forgot: (0, 0)
                    }
                outbox.records.append(WALRecord(shard: shard, epoch: epoch, lsn: lsn, type: type, payload: payload))
            }
        }
        for directive in directives {
            switch directive {
            case .send(let message, let to):
                if Replication.Durability.leavesBeforeWrite(message) {
                    appendsToSend.append((shard, message, to))
                    if !appendsScheduled {
                        appendsScheduled = true
                        Task { self.sendAppends() }
                    }
                } else {
                    outbox.messages.append((shard, message, to))
                }
            case .commit:
                // Applied (and waiters answered) as far as the entries are durable here too;
                // the commit position itself need not be durable first.
                applyCommitted(shard: shard)
            case .installed(let base):
                // Another node's base replaces this shard's state (it is durable with this batch;
                // nobody reads a follower's state, and a primary serves only after its start entry
                // commits, which takes this batch's write first).
                if let ready = prepared[shard], ready.base == base {
                    machines[Int(shard)] = ready.machine
                } else {
                    do {
                        try machines[Int(shard)].restore(Self.decodeState(base.state))
                    } catch {
                        // Checked when it arrived; applying later entries to the old state would
                        // diverge from every other replica.
                        fatalError("shard \(shard): the installed state (lsn \(base.lsn)) does not decode: \(error)")
                    }
                }
                prepared[shard] = nil
                slots[Int(shard)].appliedLSN = base.lsn
                metrics.snapshotsInstalled.increment()
                snapshotsInstalled += 1
                logger.info("installed shard state", metadata: ["shard/id": "\(shard)", "lsn": "\(base.lsn)"])
            case .readConfirmed(let epoch, let round):
                confirmReads(shard: shard, epoch: epoch, upTo: round)
            case .recovered:
                recovered(shard: shard)
            case .becamePrimary(let epoch):
                slots[Int(shard)].candidacyStartedAt = nil
                logger.debug("leading shard", metadata: ["shard/id": "\(shard)", "shard/epoch": "\(epoch)"])
            case .steppedDown(let epoch):
                failWaiters(of: Int(shard), with: .outcomeUnknown)
                // Nothing was read yet: the caller may ask the next primary.
                failReadWaiters(of: Int(shard), with: .notPrimary(leader: nil))
                logger.debug("stepped down", metadata: ["shard/id": "\(shard)", "shard/epoch": "\(epoch)"])
            }
        }
        publishServing(shard: shard)
        if holdingOutbox == 0 { submitOutbox() }
    }

    /// A shard finished recovering; once all have, and a write after theirs is durable, the
    /// node is told (it forgets that it was recovering).
    func recovered(shard: UInt32) {
        guard recoveringShards.remove(shard) != nil else { return }
        logger.debug("recovered shard", metadata: ["shard/id": "\(shard)"])
        guard recoveringShards.isEmpty else { return }
        Task {
            self.submitOutbox(includingCommitPositions: true)
            do {
                try await self.log.append([])
            } catch {
                return  // the write failed: the node halts (see `halt`), still recovering at its next start
            }
            self.logger.info("recovered every shard")
            self.recoveryFinished()
        }
    }

    func sendAppends() {
        appendsScheduled = false
        guard !halted else { return }
        let appends = appendsToSend
        appendsToSend.removeAll()
        send(appends)
    }

    /// Hands the outbox's records to the WAL (unless they are only commit positions, which wait
    /// for the next records; `includingCommitPositions` sends them now) and queues its messages
    /// until that write is reported (at once if there is nothing to wait for).
    func submitOutbox(includingCommitPositions: Bool = false) {
        guard !halted, !(outbox.isEmpty && (deferredRecords.isEmpty || !includingCommitPositions)) else { return }
        let batch = outbox
        outbox = Outbox()
        var records = batch.records
        if !includingCommitPositions && records.allSatisfy({ $0.type == Wire.DurableRecord.committed }) {
            deferredRecords += records
            records = []
        } else if !deferredRecords.isEmpty {
            records = deferredRecords + records
            deferredRecords = []
        }
        if !records.isEmpty {
            do {
                lastSubmitted = try log.submit(records)
            } catch {
                halt(error)
                return
            }
            metrics.walRecords.increment(by: records.count)
            walBytesSinceCheckpoint += records.reduce(0) { $0 + $1.encodedBytes }
        }
        let released = gate.hold(
            .init(sequence: lastSubmitted, messages: batch.messages, durableUpTo: batch.durableUpTo)
        )
        if !released.isEmpty { apply(released) }
    }

    /// Handles what a durable write released here: messages to this node, and entries now durable.
    func apply(_ released: DurabilityGate.Released) {
        for (shard, message, _) in released.messages { receive(shard: shard, message, from: me) }
        for (shard, mark) in released.durableUpTo where slots.indices.contains(Int(shard)) {
            // Unless the log was rewritten since this batch was collected (a newer batch carries that).
            if let durable = slots[Int(shard)].durability.written(mark) {
                let directives = slots[Int(shard)].replica.onPersisted(upTo: durable)
                if !directives.isEmpty { collect(shard: shard, directives) }
            }
            applyCommitted(shard: shard)
        }
    }

    /// A WAL write failed: its durability is unknown, so nothing that waited for it (or comes
    /// later) may leave the node, and it takes no more writes. Proposers still waiting are told
    /// at once (their entries may yet commit through the followers' copies, hence "unknown"),
    /// and ``storageFailures`` tells the node, which leaves the cluster and stops; restarted, it
    /// recovers from what its log holds.
    func halt(_ error: any Error) {
        guard !halted else { return }
        halted = true
        logger.critical(
            "write-ahead log append failed; this node takes no more writes until it is restarted",
            metadata: ["error": "\(error)"]
        )
        gate.halt()
        outbox = Outbox()
        deferredRecords = []
        appendsToSend = []
        for shard in slots.indices {
            failWaiters(of: shard, with: .outcomeUnknown)
            failReadWaiters(of: shard, with: .storageFailed)
        }
        storageFailure.yield("\(error)")
        storageFailure.finish()
    }

    /// Sends messages: those to this node are handled here, the others shipped.
    func send(_ messages: [(shard: UInt32, message: Replication.Message, to: NodeID)]) {
        var remote: [(shard: UInt32, message: Replication.Message, to: NodeID)] = []
        for outgoing in messages {
            if outgoing.to == me {
                receive(shard: outgoing.shard, outgoing.message, from: me)
            } else {
                remote.append(outgoing)
            }
        }
        PeerBatching.ship(remote, over: transport, addressOf: addressOf, settings: settings)
    }
}
