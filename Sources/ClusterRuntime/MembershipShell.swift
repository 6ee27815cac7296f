import ClusterCore
import Logging
import NIOConcurrencyHelpers
import WireProtocol

/// Drives a ``SWIM/Instance`` over the cluster transport: feeds it messages and clock ticks
/// in order, and carries out its directives. It holds no protocol logic of its own.
actor MembershipShell {
    enum Input: Sendable {
        case message(SWIM.Message, from: SWIM.Peer)
        case tick
    }

    private var swim: SWIM.Instance
    private let transport: ClusterTransport
    private let view: NIOLockedValueBox<ClusterView>
    private let metrics: ClusterMetrics
    private var logger: Logger
    private let origin = ContinuousClock.now
    private var timer: Task<Void, Never>?
    private var timerDeadline: MonotonicTime?
    private var random = SystemRandomNumberGenerator()
    private var serving: [NodeID] = []
    nonisolated let inbox: AsyncStream<Input>.Continuation
    private let inputs: AsyncStream<Input>

    init(swim: SWIM.Instance, transport: ClusterTransport, view: NIOLockedValueBox<ClusterView>, metrics: ClusterMetrics, logger: Logger) {
        self.swim = swim
        self.transport = transport
        self.view = view
        self.metrics = metrics
        self.logger = logger
        (inputs, inbox) = AsyncStream.makeStream(of: Input.self, bufferingPolicy: .bufferingNewest(10_000))
    }

    private var now: MonotonicTime { MonotonicTime.zero + (ContinuousClock.now - origin) }

    /// Starts the protocol and processes inputs until ``stop()``.
    func run() async {
        carryOut(swim.start(now: now, random: &random))
        for await input in inputs {
            switch input {
            case .message(let message, let peer):
                carryOut(swim.onMessage(message, from: peer, now: now, random: &random))
            case .tick:
                timerDeadline = nil
                carryOut(swim.onTick(now: now, random: &random))
            }
        }
    }

    /// Announces `left` to every serving member; returns how many were told.
    func leave() -> Int {
        let directives = swim.leave(now: now)
        carryOut(directives)
        return directives.count { if case .send = $0 { true } else { false } }
    }

    func stop() {
        timer?.cancel()
        inbox.finish()
    }

    private func carryOut(_ directives: [SWIM.Directive]) {
        var changed = false
        for directive in directives {
            switch directive {
            case .send(let message, let address):
                transport.send(.swim(message), to: address)
            case .wakeUp(let at):
                schedule(at)
            case .memberChanged(let member, let previous):
                changed = true
                let level: Logger.Level = member.status == .alive && previous == nil ? .info : .notice
                logger.log(
                    level: level,
                    "member \(member.status)",
                    metadata: [
                        "cluster/member": "\(member.id)",
                        "cluster/member-address": "\(member.clusterAddress)",
                        "previous": "\(previous.map(\.description) ?? "unknown")",
                        "incarnation": "\(member.incarnation)",
                    ]
                )
            case .probeRoundTrip(let duration):
                metrics.probeRoundTrip.recordNanoseconds(duration.nanosecondsClamped)
            case .joined:
                changed = true
                logger.info("joined the cluster")
            }
        }
        publish(force: changed)
    }

    private func publish(force: Bool) {
        let members = swim.members
        let newServing = members.filter(\.status.isServing).map(\.id)
        let servingChanged = newServing != serving
        serving = newServing
        let isJoined = swim.isJoined
        let localHealth = swim.localHealth
        view.withLockedValue { view in
            if servingChanged {
                view.shards = ShardTable(
                    shardCount: view.shards.shardCount,
                    replication: view.shards.replication,
                    nodes: newServing
                )
            }
            view.members = members
            view.isJoined = isJoined
            view.localHealth = localHealth
        }
        if force || servingChanged {
            for status in SWIM.Status.allCases {
                metrics.membersByStatus[status]?.record(members.count { $0.status == status })
            }
        }
    }

    private func schedule(_ deadline: MonotonicTime) {
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        let instant = origin + (deadline - .zero)
        let inbox = self.inbox
        timer = Task {
            do {
                try await Task.sleep(until: instant, clock: .continuous)
            } catch {
                return
            }
            inbox.yield(.tick)
        }
    }
}
