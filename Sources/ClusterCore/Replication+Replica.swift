extension Replication {
    /// One node's replica of one shard.
    public struct Replica: Sendable {
        public let me: NodeID
        /// The configuration every node assumes before any epoch (placement over the configured nodes).
        public let genesis: Config
        /// The highest epoch this node promised; messages of lower epochs are refused. Durable.
        public private(set) var promised: Epoch = .genesis
        /// Configurations promised since the last committed start entry. Durable.
        public private(set) var history: [Config] = []
        /// The committed prefix kept as state instead of entries (see ``compact(upTo:state:)``). Durable.
        public private(set) var base: Base?
        /// The log after the base: `log[i].lsn == baseLSN + i + 1`. Durable.
        public private(set) var log: [Entry] = []
        /// Entries up to here are committed. Durable.
        public private(set) var commitLSN: UInt64 = 0
        private var role: Role = .follower
        private var changes = DurableChanges()
        /// Entries up to here are durable on this node (the shell reports it through
        /// ``onPersisted(upTo:)``). A primary counts itself towards a quorum only this far, so it
        /// may send entries to its followers before its own write of them completes.
        public private(set) var persistedLSN: UInt64 = 0

        /// How many entries one append message carries at most.
        public var appendBatchMax = 64
        /// Ticks without sending to a follower that still lacks entries before they are sent again
        /// (retransmission), and ticks of silence before an empty append (a heartbeat carrying the
        /// commit position). A candidate re-asks every `retransmitTicks`.
        public var retransmitTicks: UInt64 = 1
        public var heartbeatTicks: UInt64 = 1
        /// A read lease: after answering a primary's read probe, this node promises no other
        /// candidate for this many ticks, so that primary may serve reads without a round for a
        /// little less than that long after it sent the probe (see ``startReadRound()``). Ticks
        /// never run faster than real time. 0: no leases.
        public var leaseTicks: UInt64 = 0
        /// The epoch whose primary this node granted a read lease, and when (in ticks). A replica
        /// starts as if it had granted one to nobody at tick 0: it may have granted one just before
        /// it restarted, and it keeps that promise without remembering it.
        private var leaseGranted: (epoch: Epoch, tick: UInt64)? = (.genesis, 0)
        private var ticks: UInt64 = 0
        /// When the primary last sent to each follower, in ticks.
        private var lastSent: [NodeID: UInt64] = [:]

        enum Role: Sendable {
            case follower
            case candidate(Candidacy)
            case primary(Leadership)
        }

        struct Candidacy: Sendable {
            var epoch: Epoch
            var replicas: [NodeID]
            var fromLSN: UInt64
            var promises: [NodeID: Promise] = [:]
            var contacted: Set<NodeID> = []
            /// Stood while recovering: this node's own promise counts only for the new
            /// configuration (it may have forgotten what the earlier ones hold).
            var recovering = false
            /// Replicas that answered they are recovering, with what they learned.
            var abstained: [NodeID: RecoveryReport] = [:]
        }

        struct Leadership: Sendable {
            var epoch: Epoch
            /// The LSN of the epoch's start entry: everything up to it was adopted.
            var startLSN: UInt64
            var replicas: [NodeID]
            var next: [NodeID: UInt64]
            var match: [NodeID: UInt64]
            /// The last read round started, the last one each follower answered, and the last one
            /// a majority answered.
            var readRound: UInt64 = 0
            var readAcked: [NodeID: UInt64] = [:]
            var readConfirmed: UInt64 = 0
        }

        /// Set while this replica recovers from durable state it lost (see
        /// ``beginRecovery(nonce:contacts:)``).
        public private(set) var recovery: Recovery?

        public struct Recovery: Sendable {
            public fileprivate(set) var nonce: UInt64
            var contacts: Set<NodeID>
            var asked: Set<NodeID> = []
            var replies: [NodeID: RecoveryReport] = [:]
            /// Enough replicas answered: the newest epoch any of them reported is promised here.
            public fileprivate(set) var learned = false
            /// The primary of that epoch answered: this node follows it up to this LSN.
            var target: (epoch: Epoch, lsn: UInt64)?
            /// How far this node's log is known to match the target primary's.
            var matched: UInt64 = 0
            /// The newest committed start the answers reported (once learned).
            var floor = Epoch.genesis
        }

        public var isRecovering: Bool { recovery != nil }

        public init(me: NodeID, genesis: [NodeID]) {
            self.me = me
            self.genesis = Config(epoch: .genesis, replicas: genesis)
        }

        /// Rebuilds a replica from its durable state (after a restart).
        public init(me: NodeID, genesis: [NodeID], durable: Durable) {
            self.init(me: me, genesis: genesis)
            promised = durable.promised
            history = durable.history
            base = durable.base
            log = durable.log
            commitLSN = min(durable.commitLSN, lastLSN)
            persistedLSN = lastLSN
        }

        /// Everything that must survive a crash.
        public struct Durable: Sendable, Equatable {
            public var promised: Epoch = .genesis
            public var history: [Config] = []
            public var base: Base?
            public var log: [Entry] = []
            public var commitLSN: UInt64 = 0

            public init() {}

            var baseLSN: UInt64 { base?.lsn ?? 0 }

            /// Replays one persisted change.
            public mutating func apply(_ change: DurableChange) {
                switch change {
                case .promised(let config):
                    promised = max(promised, config.epoch)
                    history.append(config)
                case .promisedEpoch(let epoch):
                    promised = max(promised, epoch)
                case .entries(let entries):
                    let entries = entries.drop { $0.lsn <= baseLSN }
                    guard let first = entries.first else { return }
                    let index = Int(first.lsn - baseLSN) - 1
                    if index < log.count { log.removeSubrange(index...) }
                    log.append(contentsOf: entries)
                case .installed(let installed):
                    log = Replica.log(log, keptAfter: installed, currentBase: base)
                    base = installed
                    commitLSN = max(commitLSN, installed.lsn)
                    pruneHistory()
                case .forgot(let epochs):
                    history.removeAll { epochs.contains($0.epoch) }
                case .committed(let lsn):
                    let newly = Replica.slice(log, from: commitLSN + 1, through: lsn, base: base)
                    commitLSN = max(commitLSN, lsn)
                    // Only a newly committed start entry moves the floor: no need to rescan the log.
                    if let start = Replica.lastStart(in: newly) { history.removeAll { $0.epoch < start } }
                }
            }

            private mutating func pruneHistory() {
                let floor = Replica.committedStart(log: log, base: base, commitLSN: commitLSN)
                history.removeAll { $0.epoch < floor }
            }
        }

        /// One change to the durable state, in the order it happened.
        public enum DurableChange: Sendable, Equatable {
            /// A promise for the epoch of the configuration (which joins the history).
            case promised(Config)
            /// A newer primary was accepted without a prepare: only the epoch is promised.
            case promisedEpoch(Epoch)
            /// The log from `entries[0].lsn` on is replaced by these entries.
            case entries([Entry])
            /// A base from another node replaced the log up to its LSN (entries after it that
            /// agree with it are kept).
            case installed(Base)
            /// These configurations left the history: this node's own epochs that it never led.
            case forgot([Epoch])
            case committed(UInt64)
        }

        struct DurableChanges: Sendable {
            /// Promises and installed bases, in order.
            var promises: [DurableChange] = []
            var logFrom: UInt64?
            var committed: UInt64?
        }

        public var durable: Durable {
            var state = Durable()
            state.promised = promised
            state.history = history
            state.base = base
            state.log = log
            state.commitLSN = commitLSN
            return state
        }

        /// The durable changes since the last call, in an order that replays correctly. The
        /// shell persists them before it sends the messages of the same input.
        public mutating func takeDurableChanges() -> [DurableChange] {
            var result: [DurableChange] = changes.promises
            if let from = changes.logFrom.map({ max($0, baseLSN + 1) }), from <= lastLSN {
                result.append(.entries(Array(log[index(of: from)...])))
            }
            if let committed = changes.committed { result.append(.committed(committed)) }
            changes = DurableChanges()
            return result
        }

        private mutating func noteLogChange(from lsn: UInt64) {
            changes.logFrom = min(changes.logFrom ?? lsn, lsn)
            persistedLSN = min(persistedLSN, lsn - 1)
        }

        private mutating func notePromise(_ config: Config) {
            changes.promises.append(.promised(config))
        }

        // MARK: - Views

        public var isPrimary: Bool { if case .primary = role { true } else { false } }
        public var isCandidate: Bool { if case .candidate = role { true } else { false } }

        /// The epoch this node leads, if it is primary.
        public var primaryEpoch: Epoch? { if case .primary(let leadership) = role { leadership.epoch } else { nil } }

        /// Whether this node leads, has committed its epoch's start entry, and holds everything
        /// up to it durably itself, so its committed state is complete and it may serve once it
        /// has applied it (the shell also waits for that: ``servingFromLSN``). Before its own
        /// write of the adopted log is done, a majority of followers can commit the start entry;
        /// the node must not serve then, since it cannot apply what is not durable here.
        public var isServing: Bool {
            guard case .primary(let leadership) = role else { return false }
            return commitLSN >= leadership.startLSN && persistedLSN >= leadership.startLSN
        }

        /// The LSN of the start entry of the epoch this node leads: a primary decides and reads
        /// only on a state that has applied everything up to it.
        public var servingFromLSN: UInt64? {
            if case .primary(let leadership) = role { leadership.startLSN } else { nil }
        }

        /// The replica set this node leads, if it is primary.
        public var primaryReplicas: [NodeID]? {
            if case .primary(let leadership) = role { leadership.replicas } else { nil }
        }

        /// The LSN of the last compacted entry (0 when nothing is compacted).
        public var baseLSN: UInt64 { base?.lsn ?? 0 }
        public var lastLSN: UInt64 { baseLSN + UInt64(log.count) }
        public var lastEpoch: Epoch { log.last?.epoch ?? base?.epoch ?? .genesis }

        /// The entry at `lsn`, if it is in the log (after the base).
        public func entry(at lsn: UInt64) -> Entry? {
            lsn > baseLSN && lsn <= lastLSN ? log[index(of: lsn)] : nil
        }

        /// The committed entries after the base, in order.
        public var committedEntries: ArraySlice<Entry> { log[..<index(of: commitLSN + 1)] }

        /// The index in `log` of the entry at `lsn` (which is after the base).
        private func index(of lsn: UInt64) -> Int { Int(lsn - baseLSN) - 1 }

        /// The epoch of the entry at `lsn`: genesis for 0, the base's epoch at the base, nil
        /// before the base (compacted, so committed and identical everywhere) or past the end.
        private func epoch(at lsn: UInt64) -> Epoch? {
            if lsn == 0 { return .genesis }
            if lsn == baseLSN { return base?.epoch }
            return entry(at: lsn)?.epoch
        }

        /// The configuration of the last start entry in the log (or in the compacted prefix).
        public var latestConfig: Config { Self.latestConfig(log[...], base: base, genesis: genesis) }

        static func latestConfig(_ entries: ArraySlice<Entry>, base: Base?, genesis: Config) -> Config {
            for entry in entries.reversed() {
                if case .start(let replicas) = entry.payload { return Config(epoch: entry.epoch, replicas: replicas) }
            }
            return base?.config ?? genesis
        }

        /// The epoch of the last committed start entry.
        public var committedStart: Epoch { Self.committedStart(log: log, base: base, commitLSN: commitLSN) }

        static func committedStart(log: [Entry], base: Base?, commitLSN: UInt64) -> Epoch {
            let baseLSN = base?.lsn ?? 0
            let committed = Int(min(commitLSN - min(commitLSN, baseLSN), UInt64(log.count)))
            for entry in log[..<committed].reversed() {
                if case .start = entry.payload { return entry.epoch }
            }
            return base?.config.epoch ?? .genesis
        }

        /// The entries of `log` (after `base`) with LSNs in `from...through`, clamped to the log.
        static func slice(_ log: [Entry], from: UInt64, through: UInt64, base: Base?) -> ArraySlice<Entry> {
            let baseLSN = base?.lsn ?? 0
            let lower = Int(max(from, baseLSN + 1) - baseLSN) - 1
            let upper = min(Int(max(through, baseLSN) - baseLSN), log.count)
            return lower < upper ? log[lower..<upper] : []
        }

        /// The epoch of the last start entry among `entries`.
        static func lastStart(in entries: ArraySlice<Entry>) -> Epoch? {
            entries.last { if case .start = $0.payload { true } else { false } }?.epoch
        }

        /// The log after installing `installed`: the entries after its LSN when the log holds
        /// the same entry at its LSN, otherwise nothing (Raft §7).
        static func log(_ log: [Entry], keptAfter installed: Base, currentBase: Base?) -> [Entry] {
            let baseLSN = currentBase?.lsn ?? 0
            guard installed.lsn > baseLSN, installed.lsn <= baseLSN + UInt64(log.count) else { return [] }
            let index = Int(installed.lsn - baseLSN) - 1
            return log[index].epoch == installed.epoch ? Array(log[(index + 1)...]) : []
        }

        // MARK: - Compaction

        /// Drops the committed entries up to `lsn`, keeping `state` (the layer above's state
        /// after applying them) as the base instead. The caller persists the result (a snapshot
        /// of ``durable``) before it deletes the records of the dropped entries.
        public mutating func compact(upTo lsn: UInt64, state: [UInt8]) {
            precondition(lsn <= commitLSN, "only committed entries are compacted")
            guard lsn > baseLSN else { return }
            let upTo = index(of: lsn)
            let config = Self.latestConfig(log[...upTo], base: base, genesis: genesis)
            base = Base(lsn: lsn, epoch: log[upTo].epoch, config: config, state: state)
            log.removeSubrange(...upTo)
        }

        // MARK: - Recovering lost state

        /// Starts recovering this replica: its node came back without durable state it once had
        /// (an emptied data directory), so it may have promised epochs and acknowledged entries
        /// that it no longer knows of. Until it has recovered it promises nothing, answers no read
        /// probe and acknowledges nothing but the primary it follows: otherwise its word could
        /// complete a quorum that misses a committed entry, or let a deposed primary commit.
        ///
        /// It asks the nodes of every configuration it learns of (the genesis one, `contacts`, and
        /// those the answers name, from the newest committed start on) what they know, until
        /// enough answered: in a configuration that holds this node, more of the others than
        /// its size less a quorum (so every quorum that may have counted this node's forgotten
        /// word is heard from), in any other a quorum. Answers of nodes that are recovering too
        /// count only while no answer (nor this node) holds an entry (a new cluster). Then it promises the newest
        /// epoch reported, and
        /// - when nobody held an entry, or it is in no configuration that still matters, it is
        ///   done;
        /// - when that epoch's primary (another node) answered and its replica set holds this
        ///   node, it follows that primary and is done once its log durably matches the primary's
        ///   up to where the primary's log ended when it answered;
        /// - otherwise (that primary is gone, or was this node before it lost its state) it may
        ///   stand as candidate, counting its own promise only for its new configuration; it is
        ///   done once it leads.
        ///
        /// A newer epoch seen meanwhile starts the asking again. A `.recovered` directive says when
        /// it is done. Recovery is not durable: the shell records that it is under way and starts
        /// it again after a restart.
        ///
        /// - SeeAlso: Viewstamped Replication Revisited (Liskov, Cowling 2012) §4.3, recovery.
        public mutating func beginRecovery(nonce: UInt64, contacts: [NodeID] = []) -> [Directive] {
            var directives: [Directive] = []
            stepDown(into: &directives)
            recovery = Recovery(nonce: nonce, contacts: Set(contacts))
            continueRecovery(into: &directives)
            return directives
        }

        /// More nodes for a recovering replica to ask (the ring's current replica set).
        public mutating func addRecoveryContacts(_ nodes: [NodeID]) -> [Directive] {
            guard let recovery, !Set(nodes).subtracting([me]).isSubset(of: recovery.asked) else { return [] }
            var directives: [Directive] = []
            self.recovery?.contacts.formUnion(nodes)
            continueRecovery(into: &directives)
            return directives
        }

        /// What this node answers a recovering one.
        private var report: RecoveryReport {
            RecoveryReport(
                from: me,
                recovering: recovery != nil,
                promised: promised,
                primary: primaryEpoch == promised,
                lastLSN: lastLSN,
                latestConfig: latestConfig,
                history: history,
                committedStart: max(committedStart, recovery?.floor ?? .genesis)
            )
        }

        /// The configurations a recovering replica must hear from: every one known (its own,
        /// the genesis one, those reported) from the newest committed start reported on.
        private func recoveryConfigs(_ recovery: Recovery) -> [Config] {
            var learned: [Config] = [genesis, latestConfig] + history
            var floor = committedStart
            for report in recovery.replies.values {
                learned.append(report.latestConfig)
                learned.append(contentsOf: report.history)
                floor = max(floor, report.committedStart)
            }
            var required: [Epoch: Config] = [:]
            for config in learned where config.epoch >= floor { required[config.epoch] = config }
            return required.values.sorted { $0.epoch < $1.epoch }
        }

        private mutating func continueRecovery(into directives: inout [Directive]) {
            guard var recovery, recovery.target == nil else { return }
            let required = recoveryConfigs(recovery)
            var ask = recovery.contacts
            for config in required { ask.formUnion(config.replicas) }
            ask.remove(me)
            for node in ask.subtracting(recovery.asked).sorted(by: { $0.rawValue < $1.rawValue }) {
                directives.append(.send(.recover(nonce: recovery.nonce), to: node))
            }
            recovery.asked.formUnion(ask)
            self.recovery = recovery
            let allEmpty = lastLSN == 0 && recovery.replies.values.allSatisfy(\.isEmpty)
            // As a candidate counts abstainers (`Config.isQuorum(_:abstaining:)`): this node and
            // those that answered they recover too may have lost what they held.
            var abstaining: Set<NodeID> = [me]
            if !allEmpty { abstaining.formUnion(recovery.replies.values.filter(\.recovering).map(\.from)) }
            let heard = required.allSatisfy { config in
                config.isQuorum(Set(recovery.replies.keys), abstaining: abstaining)
            }
            guard heard else { return }
            if let newest = recovery.replies.values.map(\.promised).max(), newest > promised {
                promised = newest
                changes.promises.append(.promisedEpoch(newest))
            }
            // The configurations it learned join its history, as if it had promised them: a later
            // candidate asking it must learn of them (its lost self may have promised them).
            var known = Set(history.map(\.epoch))
            known.insert(latestConfig.epoch)
            for config in required where config.epoch != .genesis && !known.contains(config.epoch) {
                history.append(config)
                changes.promises.append(.promised(config))
            }
            recovery.learned = true
            recovery.floor = recovery.replies.values.map(\.committedStart).max() ?? .genesis
            self.recovery = recovery
            if allEmpty || !required.contains(where: { $0.replicas.contains(me) }) {
                finishRecovery(into: &directives)
                return
            }
            let primary = recovery.replies.values.first { report in
                report.primary && report.promised == promised && report.from != me
                    && report.latestConfig.epoch == promised && report.latestConfig.replicas.contains(me)
            }
            guard let primary else { return }  // no primary to follow (yet): it may stand itself
            recovery.target = (promised, primary.lastLSN)
            self.recovery = recovery
            checkCaughtUp(into: &directives)
        }

        /// Forgets the answers and asks again (a newer epoch appeared).
        private mutating func restartRecovery(into directives: inout [Directive]) {
            guard let recovery else { return }
            stepDown(into: &directives)
            self.recovery = Recovery(nonce: recovery.nonce &+ 1, contacts: recovery.contacts)
            continueRecovery(into: &directives)
        }

        /// Whether a recovering replica takes an append or base of `epoch` (one that is not
        /// recovering takes any it promised): only from the primary it follows. A newer epoch
        /// starts the asking again.
        private mutating func recoveryFollows(_ epoch: Epoch, into directives: inout [Directive]) -> Bool {
            guard let recovery else { return true }
            if epoch > promised {
                restartRecovery(into: &directives)
                return false
            }
            return recovery.target?.epoch == epoch
        }

        private mutating func checkCaughtUp(into directives: inout [Directive]) {
            guard let recovery, let target = recovery.target, recovery.matched >= target.lsn,
                persistedLSN >= target.lsn
            else { return }
            finishRecovery(into: &directives)
        }

        private mutating func finishRecovery(into directives: inout [Directive]) {
            guard recovery != nil else { return }
            recovery = nil
            directives.append(.recovered)
        }

        // MARK: - Becoming primary

        /// Starts a candidacy for a new epoch with `replicas` (this node first). Any earlier
        /// candidacy or leadership of this node ends.
        /// A recovering replica stands only once it has learned the newest epoch (see
        /// ``beginRecovery(nonce:contacts:)``); before that this does nothing.
        public mutating func startCandidacy(replicas: [NodeID]) -> [Directive] {
            precondition(replicas.first == me, "the candidate leads its replica set")
            if let recovery, !recovery.learned { return [] }
            var directives: [Directive] = []
            stepDown(into: &directives)
            forgetUnledEpochs()
            let epoch = Epoch(number: max(promised.number, lastEpoch.number) + 1, node: me.rawValue)
            promised = epoch
            history.append(Config(epoch: epoch, replicas: replicas))
            notePromise(Config(epoch: epoch, replicas: replicas))
            var candidacy = Candidacy(epoch: epoch, replicas: replicas, fromLSN: commitLSN)
            candidacy.recovering = recovery != nil
            candidacy.promises[me] = promise(fromLSN: commitLSN)
            candidacy.contacted = [me]
            role = .candidate(candidacy)
            continueCandidacy(into: &directives)
            return directives
        }

        /// Drops this node's own earlier epochs that it never led from the history: only the
        /// candidate of an epoch can lead it, and nothing of an epoch leaves its primary before
        /// the start entry is durable there (``sendAppend(to:into:)``), so if no entry of that
        /// epoch is in this log, the epoch committed nothing and no later candidate needs its
        /// quorum. Without this, a node that keeps failing to win
        /// (cut off from a majority) would grow its history by one configuration per attempt.
        private mutating func forgetUnledEpochs() {
            let mine = me.rawValue
            let unled = history.map(\.epoch).filter { epoch in
                epoch.node == mine && base?.epoch != epoch && base?.config.epoch != epoch
                    && !log.contains { $0.epoch == epoch }
            }
            guard !unled.isEmpty else { return }
            history.removeAll { unled.contains($0.epoch) }
            changes.promises.append(.forgot(unled))
        }

        private func promise(fromLSN: UInt64) -> Promise {
            let from = min(max(fromLSN, baseLSN), lastLSN)
            return Promise(
                from: me,
                lastEpoch: lastEpoch,
                lastLSN: lastLSN,
                latestConfig: latestConfig,
                history: history,
                committedStart: committedStart,
                commitLSN: commitLSN,
                base: fromLSN < baseLSN ? base : nil,
                entries: Array(log[index(of: from + 1)...])
            )
        }

        /// The configurations whose majority the candidacy needs: the new one, and every one
        /// learned at or after the latest committed start anybody reported.
        private func requiredConfigs(_ candidacy: Candidacy) -> [Config] {
            var learned: [Config] = [latestConfig] + history
            var floor = committedStart
            for promise in candidacy.promises.values {
                learned.append(promise.latestConfig)
                learned.append(contentsOf: promise.history)
                floor = max(floor, promise.committedStart)
            }
            for report in candidacy.abstained.values {
                learned.append(report.latestConfig)
                learned.append(contentsOf: report.history)
                floor = max(floor, report.committedStart)
            }
            var required: [Epoch: Config] = [
                candidacy.epoch: Config(epoch: candidacy.epoch, replicas: candidacy.replicas)
            ]
            for config in learned where config.epoch >= floor && config.epoch != candidacy.epoch {
                required[config.epoch] = config
            }
            return required.values.sorted { $0.epoch < $1.epoch }
        }

        private mutating func continueCandidacy(into directives: inout [Directive]) {
            guard case .candidate(var candidacy) = role else { return }
            let required = requiredConfigs(candidacy)
            for config in required {
                for node in config.replicas where !candidacy.contacted.contains(node) {
                    candidacy.contacted.insert(node)
                    directives.append(
                        .send(
                            .prepare(epoch: candidacy.epoch, replicas: candidacy.replicas, fromLSN: candidacy.fromLSN),
                            to: node
                        )
                    )
                }
            }
            role = .candidate(candidacy)
            // Recovering replicas (this one too, when it stands while recovering) count in no
            // earlier configuration: those need enough of the others instead.
            let voters = Set(candidacy.promises.keys)
            let abstaining = Set(candidacy.abstained.keys).union(candidacy.recovering ? [me] : [])
            guard
                required.allSatisfy({ config in
                    config.epoch == candidacy.epoch
                        ? config.isQuorum(voters) : config.isQuorum(voters, abstaining: abstaining)
                })
            else { return }
            activate(candidacy, into: &directives)
        }

        /// Adopts the most advanced log among the promises, appends the start entry, and leads.
        private mutating func activate(_ candidacy: Candidacy, into directives: inout [Directive]) {
            let best = candidacy.promises.values.max { a, b in
                (a.lastEpoch, a.lastLSN, a.from.rawValue) < (b.lastEpoch, b.lastLSN, b.from.rawValue)
            }!
            if best.from != me {
                if let installed = best.base {
                    // The best log starts after a base beyond what this node has committed.
                    install(installed, into: &directives)
                }
                // Everything up to fromLSN (and the base) is committed and therefore identical everywhere.
                let keep = max(candidacy.fromLSN, baseLSN)
                log.removeSubrange(index(of: keep + 1)...)
                log.append(contentsOf: best.entries.filter { $0.lsn > keep })
                noteLogChange(from: keep + 1)
            }
            log.append(Entry(epoch: candidacy.epoch, lsn: lastLSN + 1, payload: .start(replicas: candidacy.replicas)))
            noteLogChange(from: lastLSN)
            let followers = candidacy.replicas.filter { $0 != me }
            var leadership = Leadership(
                epoch: candidacy.epoch,
                startLSN: lastLSN,
                replicas: candidacy.replicas,
                next: Dictionary(uniqueKeysWithValues: followers.map { ($0, lastLSN) }),
                match: Dictionary(uniqueKeysWithValues: followers.map { ($0, 0) })
            )
            leadership.match[me] = persistedLSN
            role = .primary(leadership)
            directives.append(.becamePrimary(candidacy.epoch))
            if candidacy.recovering {
                // It adopted the most advanced log of quorums that did not count it: it holds
                // everything committed.
                finishRecovery(into: &directives)
            }
            for follower in followers { sendAppend(to: follower, into: &directives) }
            advanceCommit(into: &directives)
        }

        // MARK: - Proposing

        /// Appends a command as primary; returns its LSN. It is committed when a `.commit`
        /// directive covers that LSN while this node still leads the same epoch.
        public mutating func propose(_ command: [UInt8]) throws(ProposeError) -> (lsn: UInt64, directives: [Directive])
        {
            guard case .primary(let leadership) = role else { throw .notPrimary }
            let entry = Entry(epoch: leadership.epoch, lsn: lastLSN + 1, payload: .command(command))
            log.append(entry)
            noteLogChange(from: entry.lsn)
            var directives: [Directive] = []
            for follower in leadership.replicas where follower != me {
                // Followers that are caught up get the new entry at once; others on their next reply or tick.
                if leadership.next[follower] == entry.lsn { sendAppend(to: follower, into: &directives) }
            }
            advanceCommit(into: &directives)
            return (entry.lsn, directives)
        }

        /// The shell's report that the log up to `lsn` is durable here. `lsn` must describe the
        /// current log: a report from before a rewrite of the log below it would claim entries
        /// that were never written. A primary counts itself towards the quorum from here on.
        public mutating func onPersisted(upTo lsn: UInt64) -> [Directive] {
            let before = persistedLSN
            persistedLSN = max(persistedLSN, min(lsn, lastLSN))
            var directives: [Directive] = []
            if recovery?.target != nil {
                checkCaughtUp(into: &directives)
                return directives
            }
            guard case .primary(var leadership) = role, (leadership.match[me] ?? 0) < persistedLSN else { return [] }
            leadership.match[me] = persistedLSN
            role = .primary(leadership)
            if before < leadership.startLSN && persistedLSN >= leadership.startLSN {
                // The start entry is durable here: the epoch's first appends leave now.
                for follower in leadership.replicas where follower != me { sendAppend(to: follower, into: &directives) }
            }
            advanceCommit(into: &directives)
            return directives
        }

        /// Starts a read round: a probe to every follower, which answers whether it promised a
        /// newer epoch. Once a majority of the replica set (this node included) has answered
        /// this round or a later one, a `.readConfirmed` directive covers it: no newer epoch had
        /// committed anything when they answered, so a read (or a decision that writes nothing)
        /// made on this node's state before the round started saw every acknowledged write. A
        /// deposed primary that does not know it yet gets no majority: a newer epoch needs
        /// promises from a majority of every replica set that may hold committed entries (this
        /// one included), and a node that promised refuses the probe, which ends this
        /// leadership. With one replica the round is confirmed at once.
        ///
        /// A confirmed round is also a read lease, when the replicas grant them
        /// (``leaseTicks``): every follower that answered promises no other candidate for
        /// `leaseTicks` ticks after it answered, so no newer epoch can gather its majority in that
        /// time — except with this node's own promise, which ends its leadership. The shell may
        /// serve reads without a round until somewhat less than that long after the round
        /// *started* (by its own monotonic clock; the margin covers clock drift).
        public mutating func startReadRound() throws(ProposeError) -> (round: UInt64, directives: [Directive]) {
            guard case .primary(var leadership) = role else { throw .notPrimary }
            leadership.readRound += 1
            let round = leadership.readRound
            role = .primary(leadership)
            var directives: [Directive] = []
            for follower in leadership.replicas where follower != me {
                directives.append(.send(.readProbe(epoch: leadership.epoch, round: round), to: follower))
            }
            confirmReads(into: &directives)
            return (round, directives)
        }

        /// Emits `.readConfirmed` for the highest round a majority answered, if it is new.
        private mutating func confirmReads(into directives: inout [Directive]) {
            guard case .primary(var leadership) = role else { return }
            let answered = leadership.replicas.map { $0 == me ? leadership.readRound : leadership.readAcked[$0] ?? 0 }
                .sorted(by: >)
            let confirmed = answered[leadership.replicas.count / 2]
            guard confirmed > leadership.readConfirmed else { return }
            leadership.readConfirmed = confirmed
            role = .primary(leadership)
            directives.append(.readConfirmed(epoch: leadership.epoch, round: confirmed))
        }

        /// Ends this node's candidacy or leadership (it becomes a follower of whoever leads next).
        /// A primary whose write could not commit by its deadline resigns, so that the next
        /// epoch — which adopts the write or drops it — decides its fate before anything else
        /// is decided on the shard.
        public mutating func resign() -> [Directive] {
            var directives: [Directive] = []
            stepDown(into: &directives)
            return directives
        }

        /// Retransmits: a primary re-sends to every follower (a heartbeat when nothing is new), a
        /// candidate re-asks every node that has not promised.
        public mutating func onTick() -> [Directive] {
            var directives: [Directive] = []
            ticks += 1
            if let recovery, ticks % retransmitTicks == 0 {
                // Asked again, for news: a primary elected since, or one that stepped down.
                for node in recovery.asked.sorted(by: { $0.rawValue < $1.rawValue }) {
                    directives.append(.send(.recover(nonce: recovery.nonce), to: node))
                }
            }
            switch role {
            case .primary(let leadership):
                for follower in leadership.replicas where follower != me {
                    let silent = ticks - (lastSent[follower] ?? 0)
                    let behind = (leadership.next[follower] ?? 0) <= lastLSN
                    if silent >= heartbeatTicks || (behind && silent >= retransmitTicks) {
                        sendAppend(to: follower, into: &directives)
                    }
                    // A read round still open is asked again of whoever has not answered it.
                    if leadership.readConfirmed < leadership.readRound, ticks % retransmitTicks == 0,
                        leadership.readAcked[follower] ?? 0 < leadership.readRound
                    {
                        directives.append(
                            .send(.readProbe(epoch: leadership.epoch, round: leadership.readRound), to: follower)
                        )
                    }
                }
            case .candidate(var candidacy):
                guard ticks % retransmitTicks == 0 else { break }
                candidacy.contacted = Set(candidacy.promises.keys)
                role = .candidate(candidacy)
                continueCandidacy(into: &directives)
            case .follower:
                break
            }
            return directives
        }

        // MARK: - Messages

        public mutating func onMessage(_ message: Message, from sender: NodeID) -> [Directive] {
            var directives: [Directive] = []
            switch message {
            case .prepare(let epoch, let replicas, let fromLSN):
                // A recovering node may have forgotten what it promised and held: its promise
                // could complete a quorum that misses a committed entry. It abstains instead,
                // and acknowledges no older epoch from now on (so that its silence cannot let an
                // older primary commit behind the candidate's back).
                if recovery != nil, epoch >= promised {
                    if epoch > promised {
                        promised = epoch
                        changes.promises.append(.promisedEpoch(epoch))
                        restartRecovery(into: &directives)
                    }
                    directives.append(.send(.abstain(epoch: epoch, report), to: sender))
                    break
                }
                guard epoch > promised else {
                    directives.append(.send(.refuse(epoch: epoch, promised: promised), to: sender))
                    break
                }
                if let lease = leaseGranted, ticks - lease.tick < leaseTicks, epoch.node != lease.epoch.node {
                    // The primary this node granted a read lease may still be serving reads on it:
                    // no promise to anyone else until it runs out (the candidate asks again).
                    break
                }
                stepDown(into: &directives)
                promised = epoch
                history.append(Config(epoch: epoch, replicas: replicas))
                notePromise(Config(epoch: epoch, replicas: replicas))
                directives.append(.send(.promise(epoch: epoch, promise(fromLSN: fromLSN)), to: sender))

            case .promise(let epoch, let promise):
                guard case .candidate(var candidacy) = role, candidacy.epoch == epoch else { break }
                candidacy.promises[promise.from] = promise
                role = .candidate(candidacy)
                continueCandidacy(into: &directives)

            case .abstain(let epoch, let report):
                guard case .candidate(var candidacy) = role, candidacy.epoch == epoch,
                    candidacy.promises[sender] == nil
                else { break }
                candidacy.abstained[sender] = report
                role = .candidate(candidacy)
                continueCandidacy(into: &directives)

            case .refuse(let epoch, let higher):
                let mine: Epoch? =
                    switch role {
                    case .candidate(let candidacy): candidacy.epoch
                    case .primary(let leadership): leadership.epoch
                    case .follower: nil
                    }
                if let mine, mine == epoch, higher > mine { stepDown(into: &directives) }

            case .append(let epoch, let prevLSN, let prevEpoch, let entries, let leaderCommit):
                guard epoch >= promised else {
                    directives.append(.send(.refuse(epoch: epoch, promised: promised), to: sender))
                    break
                }
                guard recoveryFollows(epoch, into: &directives) else { break }
                follow(epoch, into: &directives)
                handleAppend(
                    epoch: epoch,
                    prevLSN: prevLSN,
                    prevEpoch: prevEpoch,
                    entries: entries,
                    leaderCommit: leaderCommit,
                    from: sender,
                    into: &directives
                )

            case .installSnapshot(let epoch, let installed):
                guard epoch >= promised else {
                    directives.append(.send(.refuse(epoch: epoch, promised: promised), to: sender))
                    break
                }
                guard recoveryFollows(epoch, into: &directives) else { break }
                follow(epoch, into: &directives)
                if installed.lsn > commitLSN { install(installed, into: &directives) }
                if let matched = recovery?.matched, installed.lsn >= commitLSN {
                    recovery?.matched = max(matched, installed.lsn)
                    checkCaughtUp(into: &directives)
                }
                directives.append(.send(.appendReply(epoch: epoch, success: true, lsn: installed.lsn), to: sender))

            case .recover(let nonce):
                directives.append(.send(.recoverReply(nonce: nonce, report), to: sender))

            case .recoverReply(let nonce, let report):
                guard var recovery, recovery.nonce == nonce else { break }
                if report.promised > promised && recovery.learned {
                    // A newer epoch than the one learned: learn again.
                    restartRecovery(into: &directives)
                    break
                }
                recovery.replies[sender] = report
                self.recovery = recovery
                continueRecovery(into: &directives)

            case .readProbe(let epoch, let round):
                // A recovering node may have forgotten a newer promise: it does not answer.
                guard recovery == nil else { break }
                // No state changes: the answer only says what this node has promised so far.
                if epoch < promised {
                    directives.append(.send(.refuse(epoch: epoch, promised: promised), to: sender))
                } else {
                    leaseGranted = (epoch, ticks)
                    directives.append(.send(.readAck(epoch: epoch, round: round), to: sender))
                }

            case .readAck(let epoch, let round):
                guard case .primary(var leadership) = role, leadership.epoch == epoch, leadership.next[sender] != nil,
                    round <= leadership.readRound
                else { break }
                leadership.readAcked[sender] = max(leadership.readAcked[sender] ?? 0, round)
                role = .primary(leadership)
                confirmReads(into: &directives)

            case .appendReply(let epoch, let success, let lsn):
                guard case .primary(var leadership) = role, leadership.epoch == epoch, leadership.next[sender] != nil
                else { break }
                if success {
                    leadership.match[sender] = max(leadership.match[sender] ?? 0, lsn)
                    leadership.next[sender] = max(leadership.next[sender] ?? 1, lsn + 1)
                    role = .primary(leadership)
                    advanceCommit(into: &directives)
                    if lsn < lastLSN { sendAppend(to: sender, into: &directives) }
                } else {
                    // The follower's log ends (or diverges) before our probe: back up and retry.
                    leadership.next[sender] = max(1, min((leadership.next[sender] ?? 1) - 1, lsn + 1))
                    role = .primary(leadership)
                    sendAppend(to: sender, into: &directives)
                }
            }
            return directives
        }

        /// Accepts the primary of `epoch` (at least the promised one): steps down from any own role.
        private mutating func follow(_ epoch: Epoch, into directives: inout [Directive]) {
            guard epoch > promised || primaryEpoch.map({ $0 != epoch }) ?? isCandidate else { return }
            stepDown(into: &directives)
            if epoch > promised {
                // Accepting a newer primary is a promise too; its configuration arrives in its start entry.
                promised = epoch
                changes.promises.append(.promisedEpoch(epoch))
            }
        }

        /// Replaces the log up to `installed.lsn` (beyond the commit position) by the base.
        private mutating func install(_ installed: Base, into directives: inout [Directive]) {
            log = Self.log(log, keptAfter: installed, currentBase: base)
            base = installed
            commitLSN = installed.lsn
            // Entries kept after the base stay as durable as they were (the base is committed,
            // so durable on a majority whatever this node's write of it does).
            persistedLSN = min(persistedLSN, lastLSN)
            changes.promises.append(.installed(installed))
            let floor = committedStart
            history.removeAll { $0.epoch < floor }
            directives.append(.installed(installed))
        }

        private mutating func handleAppend(
            epoch: Epoch,
            prevLSN: UInt64,
            prevEpoch: Epoch,
            entries: [Entry],
            leaderCommit: UInt64,
            from sender: NodeID,
            into directives: inout [Directive]
        ) {
            // Log matching (Raft §5.3): our entry at prevLSN must be from prevEpoch.
            // Entries up to the base are committed, so they match whatever the primary holds there.
            guard prevLSN <= lastLSN, prevLSN < baseLSN || self.epoch(at: prevLSN) == prevEpoch else {
                let hint = min(lastLSN, max(prevLSN, 1) - 1)
                directives.append(.send(.appendReply(epoch: epoch, success: false, lsn: hint), to: sender))
                return
            }
            for entry in entries where entry.lsn > baseLSN {
                let index = index(of: entry.lsn)
                if index < log.count {
                    if log[index].epoch == entry.epoch { continue }
                    precondition(entry.lsn > commitLSN, "a committed entry would be overwritten at \(entry.lsn)")
                    log.removeSubrange(index...)
                }
                log.append(entry)
                noteLogChange(from: entry.lsn)
            }
            let lastNew = prevLSN + UInt64(entries.count)
            let newCommit = min(leaderCommit, lastNew)
            if newCommit > commitLSN { commit(upTo: newCommit, into: &directives) }
            if let matched = recovery?.matched {
                recovery?.matched = max(matched, lastNew)
                checkCaughtUp(into: &directives)
            }
            directives.append(.send(.appendReply(epoch: epoch, success: true, lsn: lastNew), to: sender))
        }

        /// Sends the follower what it lacks (or a heartbeat). Nothing of an epoch leaves before its
        /// start entry is durable on this node: otherwise the followers could commit the epoch
        /// while this node, crashing before its write, would come back with no trace of it and
        /// take the epoch for one it never led (see ``forgetUnledEpochs()``).
        private mutating func sendAppend(to follower: NodeID, into directives: inout [Directive]) {
            guard case .primary(let leadership) = role, let next = leadership.next[follower],
                persistedLSN >= leadership.startLSN
            else { return }
            lastSent[follower] = ticks
            if next <= baseLSN, let base {
                // The follower needs entries compacted away: it gets the base instead.
                directives.append(.send(.installSnapshot(epoch: leadership.epoch, base: base), to: follower))
                return
            }
            let from = max(baseLSN + 1, min(next, lastLSN + 1))
            let prevLSN = from - 1
            let prevEpoch = epoch(at: prevLSN)!
            let end = min(lastLSN, prevLSN + UInt64(appendBatchMax))
            let entries = Array(log[index(of: from)..<index(of: end + 1)])
            directives.append(
                .send(
                    .append(
                        epoch: leadership.epoch,
                        prevLSN: prevLSN,
                        prevEpoch: prevEpoch,
                        entries: entries,
                        commitLSN: commitLSN
                    ),
                    to: follower
                )
            )
        }

        /// Commits the highest LSN of the current epoch held by a majority of the replica set.
        private mutating func advanceCommit(into directives: inout [Directive]) {
            guard case .primary(let leadership) = role, !leadership.replicas.isEmpty else { return }
            // The highest LSN a majority holds: the (n/2+1)-th highest match. Epochs only grow
            // along the log, so if that entry is not of this epoch, no lower one is either.
            let matches = leadership.replicas.map { leadership.match[$0] ?? 0 }.sorted(by: >)
            let candidate = min(matches[leadership.replicas.count / 2], lastLSN)
            if candidate > commitLSN && entry(at: candidate)?.epoch == leadership.epoch {
                commit(upTo: candidate, into: &directives)
            }
        }

        private mutating func commit(upTo lsn: UInt64, into directives: inout [Directive]) {
            let newly = Array(log[index(of: commitLSN + 1)..<index(of: lsn + 1)])
            commitLSN = lsn
            changes.committed = lsn
            if let floor = Self.lastStart(in: newly[...]) { history.removeAll { $0.epoch < floor } }
            directives.append(.commit(newly))
        }

        private mutating func stepDown(into directives: inout [Directive]) {
            switch role {
            case .candidate(let candidacy): directives.append(.steppedDown(candidacy.epoch))
            case .primary(let leadership): directives.append(.steppedDown(leadership.epoch))
            case .follower: break
            }
            role = .follower
        }

    }
}
