/// Per-shard replication: an epoch-fenced primary and its followers, as a pure state machine.
///
/// One ``Replication/Replica`` is one node's copy of one shard's log. A node designated
/// primary (by the ring) starts a *candidacy* for a fresh, unique epoch: it collects durable
/// promises from a majority of the new replica set **and** of every replica set that may hold
/// committed data it does not know about — found by following, from the configuration it
/// knows, the chain of configurations that later epochs promised. It adopts the most advanced
/// log among the promises, appends an epoch-start record, and replicates. An entry is committed
/// once the current epoch's start record and the entry are on a majority of the replica set.
///
/// The chain starts at a *genesis* configuration every node computes alike (the placement over
/// the configured node list), so even a node that knows nothing of a shard contacts a quorum
/// that does.
///
/// Durability contract for the shell: after every input, persist what changed (promised epoch,
/// promise history, log entries and truncations, commit position) *before* sending any message
/// the input produced.
///
/// - SeeAlso: Viewstamped Replication Revisited (Liskov, Cowling 2012); Raft §5.3-5.4 (log
///   matching, safety); Vertical Paxos (Lamport, Malkhi, Zhou 2009) for changing the replica set
///   between epochs.
public enum Replication {}

extension Replication {
    /// An epoch: a number and the node that started it, so two candidates never share one.
    public struct Epoch: Hashable, Comparable, Sendable, CustomStringConvertible {
        public var number: UInt64
        public var node: String

        public init(number: UInt64, node: String) {
            self.number = number
            self.node = node
        }

        /// The epoch of the genesis configuration, before any primary.
        public static let genesis = Epoch(number: 0, node: "")

        public static func < (lhs: Epoch, rhs: Epoch) -> Bool { (lhs.number, lhs.node) < (rhs.number, rhs.node) }

        public var description: String { "\(number).\(node)" }
    }

    /// The replica set of one epoch.
    public struct Config: Equatable, Sendable, CustomStringConvertible {
        public var epoch: Epoch
        public var replicas: [NodeID]

        public init(epoch: Epoch, replicas: [NodeID]) {
            self.epoch = epoch
            self.replicas = replicas
        }

        /// Whether `voters` include a majority of the replicas.
        public func isQuorum(_ voters: Set<NodeID>) -> Bool {
            replicas.count { voters.contains($0) } * 2 > replicas.count
        }

        /// Whether `voters`, none of them in `abstaining` (replicas that may have lost what they
        /// held), are enough to have heard from a holder of everything this configuration
        /// committed that survives, and to stop it committing more (abstainers acknowledge no
        /// older epoch either). Without abstainers: a majority. With: more than the size less a
        /// majority of the others (every commit was on a majority, so on at least a majority
        /// less one of them, and that many meet each such set), or every one of the others
        /// when fewer are left — what only abstainers held is lost whoever is asked.
        public func isQuorum(_ voters: Set<NodeID>, abstaining: Set<NodeID>) -> Bool {
            let abstainers = replicas.count { abstaining.contains($0) }
            guard abstainers > 0 else { return isQuorum(voters) }
            let counted = replicas.count { voters.contains($0) && !abstaining.contains($0) }
            return counted >= min(replicas.count - (replicas.count / 2 + 1) + 1, replicas.count - abstainers)
        }

        public var description: String { "\(epoch):[\(replicas.map(\.rawValue).joined(separator: ","))]" }
    }

    public enum Payload: Equatable, Sendable {
        /// The first entry of an epoch: its replica set.
        case start(replicas: [NodeID])
        /// An opaque command for the layer above (entity events).
        case command([UInt8])
    }

    public struct Entry: Equatable, Sendable {
        public var epoch: Epoch
        public var lsn: UInt64
        public var payload: Payload

        public init(epoch: Epoch, lsn: UInt64, payload: Payload) {
            self.epoch = epoch
            self.lsn = lsn
            self.payload = payload
        }
    }

    /// The committed prefix of a log that a replica keeps as state rather than entries: the
    /// layer above's state after applying every entry up to `lsn`.
    public struct Base: Equatable, Sendable {
        public var lsn: UInt64
        /// The epoch of the entry at `lsn`.
        public var epoch: Epoch
        /// The configuration of the last start entry at or before `lsn` (committed, since `lsn` is).
        public var config: Config
        /// The opaque state of the layer above after `lsn`.
        public var state: [UInt8]

        public init(lsn: UInt64, epoch: Epoch, config: Config, state: [UInt8]) {
            self.lsn = lsn
            self.epoch = epoch
            self.config = config
            self.state = state
        }
    }

    /// What a node tells a candidate when it promises.
    public struct Promise: Equatable, Sendable {
        public var from: NodeID
        /// (epoch, lsn) of the last entry, or genesis/0.
        public var lastEpoch: Epoch
        public var lastLSN: UInt64
        /// The configuration of the last start entry in its log (genesis if none).
        public var latestConfig: Config
        /// Configurations it promised since the last committed start it knows.
        public var history: [Config]
        /// The epoch of the last committed start entry it knows (genesis if none).
        public var committedStart: Epoch
        public var commitLSN: UInt64
        /// Its compacted base, when that covers entries after the candidate's `fromLSN`.
        public var base: Base?
        /// Its entries after the candidate's `fromLSN` (after `base` when there is one).
        public var entries: [Entry]

        public init(
            from: NodeID,
            lastEpoch: Epoch,
            lastLSN: UInt64,
            latestConfig: Config,
            history: [Config],
            committedStart: Epoch,
            commitLSN: UInt64,
            base: Base? = nil,
            entries: [Entry]
        ) {
            self.from = from
            self.lastEpoch = lastEpoch
            self.lastLSN = lastLSN
            self.latestConfig = latestConfig
            self.history = history
            self.committedStart = committedStart
            self.commitLSN = commitLSN
            self.base = base
            self.entries = entries
        }
    }

    /// What a node tells a recovering node (one that came back without its durable state)
    /// about a shard: see ``Replica/beginRecovery(nonce:contacts:)``.
    public struct RecoveryReport: Equatable, Sendable {
        public var from: NodeID
        /// The reporter is recovering too: what it says may have been forgotten.
        public var recovering: Bool
        public var promised: Epoch
        /// It leads `promised` (a recovering node catches up from it, to `lastLSN`).
        public var primary: Bool
        public var lastLSN: UInt64
        /// The configuration of the last start entry in its log (genesis if none).
        public var latestConfig: Config
        /// Configurations it promised since the last committed start it knows.
        public var history: [Config]
        /// The epoch of the last committed start entry it knows (genesis if none).
        public var committedStart: Epoch

        public init(
            from: NodeID,
            recovering: Bool,
            promised: Epoch,
            primary: Bool,
            lastLSN: UInt64,
            latestConfig: Config,
            history: [Config],
            committedStart: Epoch
        ) {
            self.from = from
            self.recovering = recovering
            self.promised = promised
            self.primary = primary
            self.lastLSN = lastLSN
            self.latestConfig = latestConfig
            self.history = history
            self.committedStart = committedStart
        }

        /// It holds no entry of the shard (nor a base): nothing was ever committed through it.
        public var isEmpty: Bool { lastLSN == 0 }
    }

    public enum Message: Equatable, Sendable {
        case prepare(epoch: Epoch, replicas: [NodeID], fromLSN: UInt64)
        case promise(epoch: Epoch, Promise)
        /// The receiver has promised a higher epoch than the message's.
        case refuse(epoch: Epoch, promised: Epoch)
        case append(epoch: Epoch, prevLSN: UInt64, prevEpoch: Epoch, entries: [Entry], commitLSN: UInt64)
        case appendReply(epoch: Epoch, success: Bool, lsn: UInt64)
        /// Sent instead of `append` when the follower needs entries the primary compacted away;
        /// answered with an `appendReply`.
        case installSnapshot(epoch: Epoch, base: Base)
        /// A primary asks whether anyone of its replica set promised a newer epoch (a read
        /// round, see ``Replica/startReadRound()``).
        case readProbe(epoch: Epoch, round: UInt64)
        /// The answer to a read probe: the sender had promised no epoch newer than `epoch` when
        /// the probe arrived. (One that had answers `refuse`.)
        case readAck(epoch: Epoch, round: UInt64)
        /// A node that lost its durable state asks what the shard's replicas know (answered
        /// with `recoverReply` carrying the same nonce).
        case recover(nonce: UInt64)
        case recoverReply(nonce: UInt64, RecoveryReport)
        /// The answer of a recovering node to a prepare: it promises nothing, having perhaps
        /// forgotten what it promised and held (a candidate then needs more of the others, see
        /// ``Replica/beginRecovery(nonce:contacts:)``), and tells what it learned so far (the
        /// configurations to ask, and the newest committed start).
        case abstain(epoch: Epoch, RecoveryReport)
    }

    public enum Directive: Equatable, Sendable {
        case send(Message, to: NodeID)
        /// These entries are now committed, in order: apply them.
        case commit([Entry])
        /// The replica adopted a compacted base from another node: replace the state with
        /// `base.state`; entries after `base.lsn` follow in `.commit` directives.
        case installed(Base)
        case becamePrimary(Epoch)
        /// This node is no longer primary (or candidate); proposals in flight have unknown outcomes.
        case steppedDown(Epoch)
        /// A majority of the replica set answered the read rounds up to `round` of `epoch`: no
        /// newer epoch had been established when they answered, so a read made before those
        /// rounds started saw every acknowledged write.
        case readConfirmed(epoch: Epoch, round: UInt64)
        /// The replica finished recovering (``Replica/beginRecovery(nonce:contacts:)``): it holds
        /// everything it must and promises, acknowledges and leads again.
        case recovered
    }

    /// Why a proposal was refused.
    public enum ProposeError: Error, Equatable, Sendable {
        case notPrimary
    }
}
