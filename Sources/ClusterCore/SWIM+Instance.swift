#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SWIM {
    /// One node's membership state machine.
    ///
    /// Drive it with ``start(now:random:)`` once, then ``onTick(now:random:)`` whenever a
    /// ``Directive/wakeUp(at:)`` falls due, ``onMessage(_:from:now:random:)`` for every
    /// message received, and ``leave(now:)`` before a graceful exit.
    public struct Instance: Sendable {
        public let settings: Settings
        /// This node as it gossips itself.
        public private(set) var myself: Member
        /// Whether this node has heard from the cluster (or is a seed of its own).
        public private(set) var isJoined = false
        /// Lifeguard's local health multiplier: 0 when healthy, up to `settings.localHealthMax`.
        public private(set) var localHealth = 0

        private let seeds: [NodeAddress]
        private var states: [NodeID: MemberState] = [:]
        private var suspects: Set<NodeID> = []
        private var probeOrder: [NodeID] = []
        private var probeIndex = 0
        private var pending: [UInt64: PendingProbe] = [:]
        private var gossip: [NodeID: GossipItem] = [:]
        private var nextSequence: UInt64 = 1
        private var nextProbeAt = MonotonicTime.zero
        private var nextPushPullAt = MonotonicTime.zero
        private var nextJoinAttemptAt = MonotonicTime.zero
        private var isLeaving = false
        private var started = false

        struct MemberState: Sendable {
            var member: Member
            var changedAt: MonotonicTime
            var suspicion: Suspicion?
        }

        struct Suspicion: Sendable {
            var startedAt: MonotonicTime
            /// Nodes that independently suspect the member; the first is the one who raised it.
            var confirmations: Set<NodeID>
            /// Lifeguard's K: how many independent confirmations are expected.
            var expected: Int
            var deadline: MonotonicTime
        }

        enum PendingProbe: Sendable {
            case direct(
                target: NodeID,
                sentAt: MonotonicTime,
                timeoutAt: MonotonicTime,
                periodEndsAt: MonotonicTime,
                indirectSent: Bool,
                nacksExpected: Int,
                nacksReceived: Int
            )
            case relay(requester: NodeAddress, requesterSequence: UInt64, target: NodeID, deadline: MonotonicTime)
            /// A ping whose answer nobody waits for (the buddy notification or a leave notice).
            case notice(deadline: MonotonicTime)

            var deadline: MonotonicTime {
                switch self {
                case .direct(_, _, let timeoutAt, let periodEndsAt, let indirectSent, _, _):
                    indirectSent ? periodEndsAt : timeoutAt
                case .relay(_, _, _, let deadline), .notice(let deadline): deadline
                }
            }
        }

        struct GossipItem: Sendable {
            var update: Update
            var transmissions: Int
        }

        /// Creates the instance of node `myself`, which joins through `seeds`.
        ///
        /// `myself.incarnation` should be higher than any incarnation a previous run of the same
        /// node used (the shell uses wall-clock milliseconds), so a restarted node wins over the
        /// stale `dead` claims about its former life.
        public init(myself: Member, seeds: [NodeAddress], settings: Settings = .default) {
            self.settings = settings
            var me = myself
            me.status = .alive
            self.myself = me
            self.seeds = seeds
        }

        // MARK: - Views

        /// Every known member, this node included, sorted by id.
        public var members: [Member] {
            var all = states.values.map(\.member)
            all.append(myself)
            return all.sorted { $0.id < $1.id }
        }

        /// The member with that id, if known.
        public func member(_ id: NodeID) -> Member? {
            id == myself.id ? myself : states[id]?.member
        }

        /// The ids of the members that hold shards: neither `dead` nor `left`.
        public var servingMembers: [NodeID] {
            members.filter(\.status.isServing).map(\.id)
        }

        // MARK: - Inputs

        /// Starts the protocol: contacts the seeds and schedules the first probe.
        public mutating func start(now: MonotonicTime, random: inout some RandomNumberGenerator) -> [Directive] {
            precondition(!started, "start(now:random:) is called once")
            started = true
            var directives: [Directive] = []
            nextProbeAt = now + settings.probeInterval
            nextPushPullAt = now + settings.pushPullInterval
            let otherSeeds = seeds.filter { $0 != myself.clusterAddress }
            if otherSeeds.count < seeds.count || seeds.isEmpty {
                // A seed of its own (or a standalone node) is the cluster it joins.
                isJoined = true
                directives.append(.joined)
            }
            contactSeeds(now: now, into: &directives)
            directives.append(.wakeUp(at: nextWakeUp()))
            return directives
        }

        /// Handles everything that fell due by `now`: probe timeouts, suspicion timeouts, the
        /// next probe, push-pull and join retries.
        public mutating func onTick(now: MonotonicTime, random: inout some RandomNumberGenerator) -> [Directive] {
            var directives: [Directive] = []
            guard started, !isLeaving else { return directives }
            expireProbes(now: now, random: &random, into: &directives)
            expireSuspicions(now: now, into: &directives)
            if now >= nextProbeAt {
                probeNext(now: now, random: &random, into: &directives)
                nextProbeAt = now + scaled(settings.probeInterval)
            }
            if now >= nextPushPullAt {
                pushPull(now: now, random: &random, into: &directives)
                reapDeparted(now: now)
                nextPushPullAt = now + settings.pushPullInterval
            }
            if !isJoined && now >= nextJoinAttemptAt {
                contactSeeds(now: now, into: &directives)
            }
            directives.append(.wakeUp(at: nextWakeUp()))
            return directives
        }

        /// Handles a message from an authenticated peer.
        public mutating func onMessage(
            _ message: Message,
            from peer: Peer,
            now: MonotonicTime,
            random: inout some RandomNumberGenerator
        ) -> [Directive] {
            var directives: [Directive] = []
            switch message {
            case .ping(let sequence, let updates):
                merge(updates, now: now, into: &directives)
                let reply = Message.ack(sequence: sequence, from: myself.id, gossip: takeGossip(for: peer.id))
                directives.append(.send(reply, to: peer.address))

            case .pingRequest(let sequence, let target, let targetAddress, let updates):
                merge(updates, now: now, into: &directives)
                guard !isLeaving else { break }
                let relaySequence = takeSequence()
                pending[relaySequence] = .relay(
                    requester: peer.address,
                    requesterSequence: sequence,
                    target: target,
                    deadline: now + scaled(settings.probeTimeout)
                )
                directives.append(
                    .send(.ping(sequence: relaySequence, gossip: takeGossip(for: target)), to: targetAddress)
                )
                directives.append(.wakeUp(at: nextWakeUp()))

            case .ack(let sequence, let from, let updates):
                merge(updates, now: now, into: &directives)
                handleAck(sequence: sequence, from: from, now: now, into: &directives)

            case .nack(let sequence, let updates):
                merge(updates, now: now, into: &directives)
                if case .direct(let target, let sentAt, let timeoutAt, let periodEndsAt, let indirect, let expected, let received)? =
                    pending[sequence]
                {
                    pending[sequence] = .direct(
                        target: target,
                        sentAt: sentAt,
                        timeoutAt: timeoutAt,
                        periodEndsAt: periodEndsAt,
                        indirectSent: indirect,
                        nacksExpected: expected,
                        nacksReceived: received + 1
                    )
                }

            case .pushPull(let members, let isReply):
                merge(members.map { Update(member: $0) }, now: now, into: &directives)
                if !isReply {
                    directives.append(.send(.pushPull(members: self.members, isReply: true), to: peer.address))
                }
                if !isJoined && peer.id != myself.id {
                    isJoined = true
                    directives.append(.joined)
                }
            }
            return directives
        }

        /// Leaves the cluster gracefully: marks this node `left` at a new incarnation and tells
        /// every serving member directly, so they do not have to detect the exit as a failure.
        public mutating func leave(now: MonotonicTime) -> [Directive] {
            var directives: [Directive] = []
            guard !isLeaving else { return directives }
            isLeaving = true
            myself.incarnation += 1
            myself.status = .left
            let notice = Update(member: myself)
            enqueue(notice)
            for state in states.values.sorted(by: { $0.member.id < $1.member.id }) where state.member.status.isServing {
                let sequence = takeSequence()
                pending[sequence] = .notice(deadline: now + settings.probeInterval)
                directives.append(.send(.ping(sequence: sequence, gossip: [notice]), to: state.member.clusterAddress))
            }
            return directives
        }

        // MARK: - Probing

        private mutating func probeNext(
            now: MonotonicTime,
            random: inout some RandomNumberGenerator,
            into directives: inout [Directive]
        ) {
            guard let target = nextProbeTarget(random: &random), let state = states[target] else { return }
            let sequence = takeSequence()
            pending[sequence] = .direct(
                target: target,
                sentAt: now,
                timeoutAt: now + scaled(settings.probeTimeout),
                periodEndsAt: now + scaled(settings.probeInterval),
                indirectSent: false,
                nacksExpected: 0,
                nacksReceived: 0
            )
            let ping = Message.ping(sequence: sequence, gossip: takeGossip(for: target))
            directives.append(.send(ping, to: state.member.clusterAddress))
        }

        /// Randomized round-robin (SWIM §4.3): every member is probed once per pass, in an order
        /// reshuffled for each pass, which bounds the time until a failed member is probed.
        private mutating func nextProbeTarget(random: inout some RandomNumberGenerator) -> NodeID? {
            for _ in 0..<2 {
                while probeIndex < probeOrder.count {
                    let candidate = probeOrder[probeIndex]
                    probeIndex += 1
                    if let state = states[candidate], state.member.status.isServing { return candidate }
                }
                probeOrder = states.values.filter { $0.member.status.isServing }.map(\.member.id).sorted()
                probeOrder.shuffle(using: &random)
                probeIndex = 0
                if probeOrder.isEmpty { return nil }
            }
            return nil
        }

        private mutating func handleAck(
            sequence: UInt64,
            from: NodeID,
            now: MonotonicTime,
            into directives: inout [Directive]
        ) {
            guard let probe = pending[sequence] else { return }
            switch probe {
            case .direct(let target, let sentAt, _, _, _, _, _):
                guard from == target else { return }
                pending[sequence] = nil
                adjustHealth(-1)
                directives.append(.probeRoundTrip(now - sentAt))
            case .relay(let requester, let requesterSequence, let target, _):
                guard from == target else { return }
                pending[sequence] = nil
                let forwarded = Message.ack(sequence: requesterSequence, from: target, gossip: takeGossip(for: nil))
                directives.append(.send(forwarded, to: requester))
            case .notice:
                pending[sequence] = nil
            }
        }

        private mutating func expireProbes(
            now: MonotonicTime,
            random: inout some RandomNumberGenerator,
            into directives: inout [Directive]
        ) {
            for sequence in pending.keys.sorted() {
                guard let probe = pending[sequence], probe.deadline <= now else { continue }
                switch probe {
                case .direct(let target, let sentAt, let timeoutAt, let periodEndsAt, let indirectSent, let expected, let nacks):
                    if !indirectSent {
                        let relays = indirectProbeRelays(excluding: target, random: &random)
                        if let targetAddress = states[target]?.member.clusterAddress {
                            for relay in relays {
                                let request = Message.pingRequest(
                                    sequence: sequence,
                                    target: target,
                                    targetAddress: targetAddress,
                                    gossip: takeGossip(for: relay.id)
                                )
                                directives.append(.send(request, to: relay.clusterAddress))
                            }
                        }
                        pending[sequence] = .direct(
                            target: target,
                            sentAt: sentAt,
                            timeoutAt: timeoutAt,
                            periodEndsAt: periodEndsAt,
                            indirectSent: true,
                            nacksExpected: relays.count,
                            nacksReceived: nacks
                        )
                        if periodEndsAt > now { continue }
                    }
                    pending[sequence] = nil
                    // Lifeguard §IV.A: missing nacks mean this node, not the target, may be slow.
                    adjustHealth(expected > 0 ? max(0, expected - nacks) : 1)
                    if let state = states[target], state.member.status == .alive {
                        var suspected = state.member
                        suspected.status = .suspect
                        let update = Update(member: suspected, origin: myself.id)
                        apply(update, now: now, into: &directives)
                        // Lifeguard's buddy system: tell the suspect directly so it can refute at once.
                        let noticeSequence = takeSequence()
                        pending[noticeSequence] = .notice(deadline: now + settings.probeInterval)
                        directives.append(
                            .send(.ping(sequence: noticeSequence, gossip: [update]), to: suspected.clusterAddress)
                        )
                    }
                case .relay(let requester, let requesterSequence, _, _):
                    pending[sequence] = nil
                    directives.append(
                        .send(.nack(sequence: requesterSequence, gossip: takeGossip(for: nil)), to: requester)
                    )
                case .notice:
                    pending[sequence] = nil
                }
            }
        }

        private func indirectProbeRelays(excluding target: NodeID, random: inout some RandomNumberGenerator) -> [Member] {
            var candidates = states.values
                .filter { $0.member.status == .alive && $0.member.id != target }
                .map(\.member)
                .sorted { $0.id < $1.id }
            candidates.shuffle(using: &random)
            return Array(candidates.prefix(settings.indirectProbes))
        }

        // MARK: - Suspicion

        private mutating func expireSuspicions(now: MonotonicTime, into directives: inout [Directive]) {
            for id in suspects.sorted() {
                guard let state = states[id], let suspicion = state.suspicion, suspicion.deadline <= now else { continue }
                var dead = state.member
                dead.status = .dead
                apply(Update(member: dead), now: now, into: &directives)
            }
        }

        /// Lifeguard §IV.B: the timeout falls from max to min, logarithmically, as independent
        /// confirmations arrive. With too few members to ever confirm, it starts at min.
        private func suspicionTimeout(confirmations: Int, expected: Int) -> Duration {
            guard expected > 0 else { return settings.suspicionMin }
            let fraction = log(Double(confirmations) + 1) / log(Double(expected) + 1)
            let span = Double((settings.suspicionMax - settings.suspicionMin).nanosecondsClamped)
            let timeout = settings.suspicionMax - .nanoseconds(Int64(span * min(1, fraction)))
            return max(settings.suspicionMin, timeout)
        }

        private func expectedConfirmations() -> Int {
            let serving = states.values.count { $0.member.status.isServing } + 1
            return serving - 2 < settings.indirectProbes ? 0 : settings.indirectProbes
        }

        // MARK: - Gossip

        private mutating func merge(_ updates: [Update], now: MonotonicTime, into directives: inout [Directive]) {
            for update in updates { apply(update, now: now, into: &directives) }
        }

        /// Applies one claim about a member, following SWIM's precedence rules.
        private mutating func apply(_ update: Update, now: MonotonicTime, into directives: inout [Directive]) {
            let claim = update.member
            if claim.id == myself.id {
                refuteIfNeeded(claim, into: &directives)
                return
            }
            guard var state = states[claim.id] else {
                states[claim.id] = MemberState(member: claim, changedAt: now)
                if claim.status == .suspect { startSuspicion(of: claim.id, origin: update.origin, now: now) }
                if claim.status.isServing {
                    // A new member joins the current pass at a random-ish place: right after the cursor.
                    probeOrder.insert(claim.id, at: min(probeIndex, probeOrder.count))
                    enqueue(update)
                }
                directives.append(.memberChanged(claim, previous: nil))
                return
            }
            let previous = state.member
            if claim.supersedes(previous) {
                state.member = claim
                if claim.status != previous.status { state.changedAt = now }
                state.suspicion = nil
                states[claim.id] = state
                suspects.remove(claim.id)
                if claim.status == .suspect { startSuspicion(of: claim.id, origin: update.origin, now: now) }
                enqueue(update)
                if claim.status != previous.status { directives.append(.memberChanged(claim, previous: previous.status)) }
                if claim.clusterAddress != previous.clusterAddress || claim.httpAddress != previous.httpAddress,
                    claim.status == previous.status
                {
                    directives.append(.memberChanged(claim, previous: previous.status))
                }
            } else if claim.status == .suspect, previous.status == .suspect, claim.incarnation == previous.incarnation,
                let origin = update.origin, var suspicion = state.suspicion, !suspicion.confirmations.contains(origin)
            {
                // An independent confirmation shortens the timeout; pass it on so others count it too.
                suspicion.confirmations.insert(origin)
                let timeout = suspicionTimeout(confirmations: suspicion.confirmations.count - 1, expected: suspicion.expected)
                suspicion.deadline = suspicion.startedAt + timeout
                state.suspicion = suspicion
                states[claim.id] = state
                if suspicion.confirmations.count - 1 <= suspicion.expected { enqueue(update) }
            }
        }

        private mutating func startSuspicion(of id: NodeID, origin: NodeID?, now: MonotonicTime) {
            let expected = expectedConfirmations()
            var confirmations: Set<NodeID> = []
            if let origin { confirmations.insert(origin) }
            let suspicion = Suspicion(
                startedAt: now,
                confirmations: confirmations,
                expected: expected,
                deadline: now + suspicionTimeout(confirmations: 0, expected: expected)
            )
            states[id]?.suspicion = suspicion
            suspects.insert(id)
        }

        /// A claim that this node is suspect, dead or left (while it is not leaving) is refuted
        /// by gossiping `alive` at a higher incarnation (SWIM §4.2).
        private mutating func refuteIfNeeded(_ claim: Member, into directives: inout [Directive]) {
            guard !isLeaving else { return }
            let contradicts = claim.status != .alive ? claim.incarnation >= myself.incarnation : claim.incarnation > myself.incarnation
            guard contradicts else { return }
            myself.incarnation = max(myself.incarnation, claim.incarnation) + 1
            if claim.status != .alive { adjustHealth(1) }
            enqueue(Update(member: myself))
        }

        private mutating func enqueue(_ update: Update) {
            gossip[update.member.id] = GossipItem(update: update, transmissions: 0)
        }

        /// Picks the least-sent updates to piggyback; a suspected target always gets its own
        /// suspicion first (Lifeguard's buddy system).
        private mutating func takeGossip(for target: NodeID?) -> [Update] {
            guard !gossip.isEmpty else { return [] }
            let limit = settings.retransmitLimit(memberCount: states.count + 1)
            var chosen: [NodeID] = []
            if let target, gossip[target]?.update.member.status == .suspect { chosen.append(target) }
            let rest = gossip.filter { $0.key != target || chosen.isEmpty }
                .sorted { ($0.value.transmissions, $0.key) < ($1.value.transmissions, $1.key) }
                .prefix(settings.gossipPerMessageMax - chosen.count)
            chosen.append(contentsOf: rest.map(\.key))
            var updates: [Update] = []
            updates.reserveCapacity(chosen.count)
            for id in chosen {
                guard var item = gossip[id] else { continue }
                updates.append(item.update)
                item.transmissions += 1
                gossip[id] = item.transmissions >= limit ? nil : item
            }
            return updates
        }

        // MARK: - Anti-entropy and joining

        /// Exchanges full state with one member. The partner is drawn from the serving and the
        /// dead members alike, so two sides of a healed partition find each other again; with
        /// nobody known, the seeds are asked.
        private mutating func pushPull(
            now: MonotonicTime,
            random: inout some RandomNumberGenerator,
            into directives: inout [Directive]
        ) {
            let candidates = states.values.filter { $0.member.status != .left }.map(\.member).sorted { $0.id < $1.id }
            if let partner = candidates.randomElement(using: &random) {
                directives.append(.send(.pushPull(members: members, isReply: false), to: partner.clusterAddress))
            }
            if !states.values.contains(where: { $0.member.status.isServing }) {
                contactSeeds(now: now, into: &directives)
            }
        }

        private mutating func contactSeeds(now: MonotonicTime, into directives: inout [Directive]) {
            nextJoinAttemptAt = now + settings.joinRetryInterval
            for seed in seeds where seed != myself.clusterAddress {
                directives.append(.send(.pushPull(members: members, isReply: false), to: seed))
            }
        }

        private mutating func reapDeparted(now: MonotonicTime) {
            for (id, state) in states
            where !state.member.status.isServing && now - state.changedAt >= settings.deadMemberRetention {
                states[id] = nil
                gossip[id] = nil
            }
        }

        // MARK: - Helpers

        private mutating func takeSequence() -> UInt64 {
            defer { nextSequence &+= 1 }
            return nextSequence
        }

        private mutating func adjustHealth(_ delta: Int) {
            localHealth = min(settings.localHealthMax, max(0, localHealth + delta))
        }

        /// Stretches a period by the local health multiplier (Lifeguard §IV.A).
        private func scaled(_ duration: Duration) -> Duration { duration * (1 + localHealth) }

        private func nextWakeUp() -> MonotonicTime {
            var earliest = min(nextProbeAt, nextPushPullAt)
            if !isJoined { earliest = min(earliest, nextJoinAttemptAt) }
            for probe in pending.values { earliest = min(earliest, probe.deadline) }
            for id in suspects {
                if let deadline = states[id]?.suspicion?.deadline { earliest = min(earliest, deadline) }
            }
            return earliest
        }
    }
}
