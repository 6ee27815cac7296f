extension Replication {
    /// Which of a replica's log entries are durable on this node while its durable changes are
    /// written in batches (group commit: one batch is written while the next one fills), and the
    /// rules of what may leave before a write. The shell's policy, pure, so that
    /// `ReplicationSimulation` runs the same policy the node does.
    ///
    /// A batch that carries entries is marked with the log's rewrite count: if the log is
    /// rewritten below those entries before the batch is written (a new primary's log replaced
    /// them, a base was installed), the batch's news is stale and marks nothing durable — the
    /// batch carrying the rewrite does.
    public struct Durability: Sendable, Equatable {
        /// Entries up to here are written (and synced) on this node.
        public private(set) var durableLSN: UInt64
        /// The highest LSN handed to a batch.
        public private(set) var queuedLSN: UInt64
        /// How many times the log was rewritten below what was queued.
        public private(set) var rewrites: UInt64 = 0

        /// What a batch carries about one replica: the last entry it writes, in which rewrite.
        public struct Mark: Sendable, Equatable {
            public let lsn: UInt64
            public let rewrites: UInt64

            public init(lsn: UInt64, rewrites: UInt64) {
                self.lsn = lsn
                self.rewrites = rewrites
            }
        }

        /// A replica whose log up to `lastLSN` is durable already (as recovered).
        public init(lastLSN: UInt64) {
            durableLSN = lastLSN
            queuedLSN = lastLSN
        }

        /// Notes the replica's durable changes going into the next batch; returns the mark that
        /// batch carries, if they hold entries.
        public mutating func queue(_ changes: [Replica.DurableChange]) -> Mark? {
            var mark: Mark?
            for change in changes {
                guard case .entries(let entries) = change, let first = entries.first, let last = entries.last else {
                    continue
                }
                // Rewritten from `first`: only the prefix before it stays durable until this batch is written.
                if first.lsn <= queuedLSN { rewrites += 1 }
                queuedLSN = last.lsn
                durableLSN = min(durableLSN, first.lsn - 1)
                mark = Mark(lsn: last.lsn, rewrites: rewrites)
            }
            return mark
        }

        /// A base from another node replaced the log up to `baseLSN`; `lastLSN` is where the log
        /// ends now. Its change goes into the next batch: a batch in flight must not mark entries
        /// durable past the rewrite.
        public mutating func installed(baseLSN: UInt64, lastLSN: UInt64) {
            rewrites += 1
            durableLSN = max(baseLSN, min(durableLSN, lastLSN))
            queuedLSN = max(baseLSN, min(queuedLSN, lastLSN))
        }

        /// The batch carrying `mark` is written: the new durable LSN, or nil if the log was
        /// rewritten since (a later batch carries that news).
        public mutating func written(_ mark: Mark) -> UInt64? {
            guard mark.rewrites == rewrites else { return nil }
            durableLSN = max(durableLSN, mark.lsn)
            return durableLSN
        }

        /// Whether `message` may leave before the write of the changes made with it: a primary's
        /// appends may (the primary counts its own copy towards a majority only once its write is
        /// done, so its write and its followers' overlap), and so may read rounds (a read ack
        /// claims only that no newer epoch was promised, and every promise is durable before it
        /// leaves); everything else waits.
        public static func leavesBeforeWrite(_ message: Message) -> Bool {
            switch message {
            case .append, .readProbe, .readAck: true
            default: false
            }
        }

        /// Whether a batch of changes may wait for the next write instead of being written on its
        /// own: one that holds nothing but commit positions (after a crash the commit position is
        /// learned again, from the primary or the next epoch).
        public static func mayWaitForNextWrite(_ changes: [Replica.DurableChange]) -> Bool {
            changes.allSatisfy { if case .committed = $0 { true } else { false } }
        }
    }
}
