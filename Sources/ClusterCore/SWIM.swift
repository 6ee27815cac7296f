/// SWIM membership with the Lifeguard refinements, as a pure state machine.
///
/// ``SWIM/Instance`` holds one node's view of the cluster. Every input (a tick of the clock, a
/// message from a peer, a request to leave) is a `mutating` call that returns the
/// ``SWIM/Directive``s the shell must carry out: messages to send, the next time to wake the
/// instance up, and status changes to publish. The instance never touches a socket, a clock
/// or a random source of its own, so a seeded simulation can run hundreds of them.
///
/// - SeeAlso: SWIM (Das, Gupta, Motivala, DSN 2002) and Lifeguard (Dadgar et al., 2017).
public enum SWIM {}

extension SWIM {
    /// A member's status as this node believes it.
    ///
    /// The raw values are the wire encoding and are append-only.
    public enum Status: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        case alive = 0
        case suspect = 1
        case dead = 2
        case left = 3

        /// The precedence between two claims of equal incarnation: a higher rank wins.
        var rank: Int {
            switch self {
            case .alive: 0
            case .suspect: 1
            case .dead: 2
            case .left: 3
            }
        }

        /// Whether a member in this status still holds shards and is probed.
        public var isServing: Bool { self == .alive || self == .suspect }

        public var description: String {
            switch self {
            case .alive: "alive"
            case .suspect: "suspect"
            case .dead: "dead"
            case .left: "left"
            }
        }
    }

    /// A member as gossiped: identity, addresses, status and incarnation.
    public struct Member: Sendable, Equatable, CustomStringConvertible {
        public var id: NodeID
        public var clusterAddress: NodeAddress
        public var httpAddress: NodeAddress?
        public var status: Status
        /// SWIM's per-node counter; only the member itself raises it, to refute a suspicion.
        public var incarnation: UInt64

        public init(
            id: NodeID,
            clusterAddress: NodeAddress,
            httpAddress: NodeAddress?,
            status: Status = .alive,
            incarnation: UInt64 = 0
        ) {
            self.id = id
            self.clusterAddress = clusterAddress
            self.httpAddress = httpAddress
            self.status = status
            self.incarnation = incarnation
        }

        /// Whether this claim supersedes `other` about the same node (SWIM §4.2).
        public func supersedes(_ other: Member) -> Bool {
            incarnation > other.incarnation || (incarnation == other.incarnation && status.rank > other.status.rank)
        }

        public var description: String { "\(id)@\(clusterAddress) \(status) inc=\(incarnation)" }
    }

    /// One piggybacked membership update. `origin` names who raised a suspicion, so that
    /// independent confirmations can shorten the suspicion timeout (Lifeguard §IV.B).
    public struct Update: Sendable, Equatable {
        public var member: Member
        public var origin: NodeID?

        public init(member: Member, origin: NodeID? = nil) {
            self.member = member
            self.origin = origin
        }
    }

    /// The messages of the protocol. Each carries piggybacked gossip except the push-pull
    /// exchange, which carries the whole member list.
    public enum Message: Sendable, Equatable {
        /// A direct probe; answered with an ``ack(sequence:from:gossip:)`` of the same sequence.
        case ping(sequence: UInt64, gossip: [Update])
        /// Asks the receiver to probe `target` on the sender's behalf (SWIM §3.1).
        case pingRequest(sequence: UInt64, target: NodeID, targetAddress: NodeAddress, gossip: [Update])
        /// `from` answered the probe of that sequence.
        case ack(sequence: UInt64, from: NodeID, gossip: [Update])
        /// A relay could not reach the target in time (Lifeguard §IV.A): the relay itself is fine.
        case nack(sequence: UInt64, gossip: [Update])
        /// Full-state anti-entropy exchange; used to join and to heal partitions.
        case pushPull(members: [Member], isReply: Bool)
    }

    /// The node a message came from, as authenticated by the transport.
    public struct Peer: Sendable, Hashable {
        public var id: NodeID
        public var address: NodeAddress

        public init(id: NodeID, address: NodeAddress) {
            self.id = id
            self.address = address
        }
    }

    /// What the instance asks its shell to do.
    public enum Directive: Sendable, Equatable {
        /// Send the message to the node listening at the address.
        case send(Message, to: NodeAddress)
        /// Call ``Instance/onTick(now:random:)`` at (or soon after) this time.
        case wakeUp(at: MonotonicTime)
        /// A member was added or changed status; `previous` is `nil` for a new member.
        case memberChanged(Member, previous: Status?)
        /// A probe was answered after this round trip.
        case probeRoundTrip(Duration)
        /// The node has joined the cluster (heard from a seed, or is its own seed).
        case joined
    }
}
