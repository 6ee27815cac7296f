import ClusterCore

/// A seeded, single-threaded simulation of many ``SWIM/Instance``s on a simulated network.
///
/// There are no sockets and no real clock: messages are events delivered after a random
/// latency, possibly dropped, and every node's wake-ups are events too. The same seed and the
/// same calls give the same run, so a failing seed reproduces its failure.
public final class MembershipSimulation {
    public struct Network: Sendable {
        /// Latency of one message, drawn uniformly from this range.
        public var latency: ClosedRange<Duration> = .milliseconds(1)...(.milliseconds(10))
        /// Probability that a message is dropped.
        public var lossProbability = 0.0

        public init() {}
    }

    enum Event {
        case deliver(SWIM.Message, from: SWIM.Peer, to: Int, life: Int)
        case wakeUp(node: Int, life: Int)
    }

    struct SimNode {
        var instance: SWIM.Instance
        var peer: SWIM.Peer
        var isUp = true
        /// Bumped on every crash and restart so events of a former life are discarded.
        var life = 0
        var scheduledWakeUp: MonotonicTime?
    }

    public let seed: UInt64
    public var network: Network
    public let settings: SWIM.Settings
    public private(set) var now = MonotonicTime.zero
    public private(set) var messagesSent = 0
    public private(set) var messagesDropped = 0
    /// Every status change each node saw: (observer, member, new status, time).
    public private(set) var changes: [(observer: NodeID, member: NodeID, status: SWIM.Status, at: MonotonicTime)] = []

    private var random: SplitMix64
    private var nodes: [SimNode] = []
    private var indexByAddress: [NodeAddress: Int] = [:]
    private var queue = EventQueue<Event>()
    /// Partition groups: messages between nodes of different groups are dropped.
    private var groups: [Int] = []

    public init(seed: UInt64, network: Network = Network(), settings: SWIM.Settings = .default) {
        self.seed = seed
        self.network = network
        self.settings = settings
        self.random = SplitMix64(seed: seed)
    }

    public static func nodeID(_ index: Int) -> NodeID { NodeID("n\(index)")! }
    public static func address(_ index: Int) -> NodeAddress { NodeAddress(host: "sim", port: 10_000 + index) }

    public var nodeCount: Int { nodes.count }
    public func id(_ index: Int) -> NodeID { nodes[index].peer.id }

    // MARK: - Building the cluster

    /// Adds `count` nodes that join through the first `seedCount` of all nodes, and starts them.
    @discardableResult
    public func addNodes(_ count: Int, seedCount: Int = 2) -> [Int] {
        let first = nodes.count
        let seeds = (0..<max(1, seedCount)).map(Self.address)
        return (first..<(first + count)).map { index in
            let peer = SWIM.Peer(id: Self.nodeID(index), address: Self.address(index))
            let myself = SWIM.Member(id: peer.id, clusterAddress: peer.address, httpAddress: nil, incarnation: 1)
            nodes.append(SimNode(instance: SWIM.Instance(myself: myself, seeds: seeds, settings: settings), peer: peer))
            indexByAddress[peer.address] = index
            groups.append(0)
            var instance = nodes[index].instance
            let directives = instance.start(now: now, random: &random)
            nodes[index].instance = instance
            carryOut(directives, node: index)
            return index
        }
    }

    /// Stops a node at once: it sends nothing more and receives nothing.
    public func crash(_ index: Int) {
        nodes[index].isUp = false
        nodes[index].life += 1
        nodes[index].scheduledWakeUp = nil
    }

    /// Starts a crashed node again with a fresh instance at a higher incarnation.
    public func restart(_ index: Int) {
        precondition(!nodes[index].isUp, "restart a crashed node")
        let peer = nodes[index].peer
        let incarnation = UInt64(now.nanoseconds / 1_000_000) + 2
        let myself = SWIM.Member(id: peer.id, clusterAddress: peer.address, httpAddress: nil, incarnation: incarnation)
        let seeds = [Self.address(0), Self.address(1)]
        nodes[index].instance = SWIM.Instance(myself: myself, seeds: seeds, settings: settings)
        nodes[index].isUp = true
        nodes[index].life += 1
        var instance = nodes[index].instance
        let directives = instance.start(now: now, random: &random)
        nodes[index].instance = instance
        carryOut(directives, node: index)
    }

    /// Leaves gracefully; the node keeps running long enough to deliver its notices.
    public func leave(_ index: Int) {
        var instance = nodes[index].instance
        let directives = instance.leave(now: now)
        nodes[index].instance = instance
        carryOut(directives, node: index)
    }

    /// Splits the nodes into groups that cannot reach each other.
    public func partition(_ sides: [[Int]]) {
        for (group, members) in sides.enumerated() {
            for index in members { groups[index] = group + 1 }
        }
    }

    /// Removes every partition.
    public func heal() {
        for index in groups.indices { groups[index] = 0 }
    }

    // MARK: - Running

    /// Runs every event up to `time`.
    public func run(until time: MonotonicTime) {
        while let next = queue.nextTime, next <= time {
            guard let (at, event) = queue.pop() else { break }
            now = at
            handle(event)
        }
        now = max(now, time)
    }

    /// Runs for `duration` of simulated time.
    public func run(for duration: Duration) { run(until: now + duration) }

    /// Runs in steps of `step` until `condition` holds or `limit` passes; returns the time it held, if it did.
    @discardableResult
    public func run(
        until condition: (MembershipSimulation) -> Bool,
        step: Duration = .milliseconds(50),
        limit: Duration
    ) -> MonotonicTime? {
        let deadline = now + limit
        while now < deadline {
            if condition(self) { return now }
            run(for: step)
        }
        return condition(self) ? now : nil
    }

    // MARK: - Observing

    /// What node `observer` believes of `member`.
    public func status(of member: Int, seenBy observer: Int) -> SWIM.Status? {
        nodes[observer].instance.member(nodes[member].peer.id)?.status
    }

    public func member(_ member: Int, seenBy observer: Int) -> SWIM.Member? {
        nodes[observer].instance.member(nodes[member].peer.id)
    }

    public func isUp(_ index: Int) -> Bool { nodes[index].isUp }

    public func instance(_ index: Int) -> SWIM.Instance { nodes[index].instance }

    /// The running nodes.
    public var upNodes: [Int] { nodes.indices.filter { nodes[$0].isUp } }

    /// Whether every running node sees exactly the running nodes as alive.
    public var hasConverged: Bool {
        let up = upNodes
        return up.allSatisfy { observer in
            up.allSatisfy { status(of: $0, seenBy: observer) == .alive }
                && nodes.indices.filter { !nodes[$0].isUp }.allSatisfy {
                    let seen = status(of: $0, seenBy: observer)
                    return seen == nil || seen == .dead || seen == .left
                }
        }
    }

    /// Whether every running node other than `member` holds `member` in `status`.
    public func everyoneSees(_ member: Int, as status: SWIM.Status) -> Bool {
        upNodes.filter { $0 != member }.allSatisfy { self.status(of: member, seenBy: $0) == status }
    }

    // MARK: - Internals

    private func handle(_ event: Event) {
        switch event {
        case .deliver(let message, let from, let to, let life):
            guard nodes[to].isUp, nodes[to].life == life else { return }
            var instance = nodes[to].instance
            let directives = instance.onMessage(message, from: from, now: now, random: &random)
            nodes[to].instance = instance
            carryOut(directives, node: to)
        case .wakeUp(let index, let life):
            guard nodes[index].isUp, nodes[index].life == life, let due = nodes[index].scheduledWakeUp, due <= now else {
                return
            }
            nodes[index].scheduledWakeUp = nil
            var instance = nodes[index].instance
            let directives = instance.onTick(now: now, random: &random)
            nodes[index].instance = instance
            carryOut(directives, node: index)
        }
    }

    private func carryOut(_ directives: [SWIM.Directive], node index: Int) {
        for directive in directives {
            switch directive {
            case .send(let message, let address):
                send(message, from: index, to: address)
            case .wakeUp(let at):
                if let scheduled = nodes[index].scheduledWakeUp, scheduled <= at { continue }
                nodes[index].scheduledWakeUp = at
                queue.push(.wakeUp(node: index, life: nodes[index].life), at: max(at, now))
            case .memberChanged(let member, _):
                changes.append((nodes[index].peer.id, member.id, member.status, now))
            case .probeRoundTrip, .joined:
                break
            }
        }
    }

    private func send(_ message: SWIM.Message, from: Int, to address: NodeAddress) {
        messagesSent += 1
        guard let to = indexByAddress[address] else { return }
        if groups[from] != groups[to] || Double.random(in: 0..<1, using: &random) < network.lossProbability {
            messagesDropped += 1
            return
        }
        let low = network.latency.lowerBound.nanosecondsClamped
        let high = network.latency.upperBound.nanosecondsClamped
        let latency = Duration.nanoseconds(Int64.random(in: low...high, using: &random))
        queue.push(.deliver(message, from: nodes[from].peer, to: to, life: nodes[to].life), at: now + latency)
    }
}
