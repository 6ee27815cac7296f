extension SWIM {
    /// The timing and fan-out of the membership protocol.
    ///
    /// The defaults are the `[membership]` defaults of `cluster.conf`: a crashed node is
    /// suspected within about two probe periods and declared dead by every member a suspicion
    /// timeout later, a few seconds on a LAN.
    public struct Settings: Sendable, Equatable {
        /// How often a member probes the next member in its round-robin order.
        public var probeInterval: Duration = .milliseconds(500)
        /// How long a direct probe waits for its ack before asking others to probe indirectly.
        public var probeTimeout: Duration = .milliseconds(200)
        /// How many members are asked to probe indirectly (SWIM's k).
        public var indirectProbes: Int = 3
        /// The shortest suspicion timeout, reached with enough independent confirmations.
        public var suspicionMin: Duration = .milliseconds(1000)
        /// The suspicion timeout with no confirmation (Lifeguard §IV.B).
        public var suspicionMax: Duration = .milliseconds(4000)
        /// How often a member exchanges its full member list with another (anti-entropy).
        public var pushPullInterval: Duration = .seconds(10)
        /// λ: each update is piggybacked about λ·⌈log₂(n+1)⌉ times (SWIM §4.1).
        public var retransmitMultiplier: Int = 3
        /// The most updates piggybacked on one message.
        public var gossipPerMessageMax: Int = 8
        /// The highest local health multiplier (Lifeguard §IV.A); periods stretch by `1 + score`.
        public var localHealthMax: Int = 8
        /// How often a node that has not joined yet contacts its seeds again.
        public var joinRetryInterval: Duration = .seconds(1)
        /// How long a dead or left member stays listed before it is forgotten.
        public var deadMemberRetention: Duration = .seconds(3600)

        public init() {}

        /// The values used by the seeded simulation tests: the defaults, so tests prove them.
        public static let `default` = Settings()

        /// Why a setting is refused.
        public struct ValidationError: Error, Equatable, Sendable, CustomStringConvertible {
            public let key: String
            public let message: String
            public var description: String { "\(key): \(message)" }
        }

        /// The longest interval or timeout the settings take.
        public static let durationMax = Duration.seconds(3600)

        /// Checks each setting's range and the relations between them; the error names the
        /// offending key as in `cluster.conf`.
        public func validate() throws(ValidationError) {
            // Above zero, and at most an hour: the timers add these to the clock, and a span
            // of centuries would wrap it.
            func sensible(_ value: Duration, _ key: String) throws(ValidationError) {
                if value <= .zero || value > Self.durationMax {
                    throw ValidationError(key: key, message: "must be between 1 and \(Self.durationMax.components.seconds * 1000) (ms)")
                }
            }
            try sensible(probeInterval, "probe_interval_ms")
            try sensible(probeTimeout, "probe_timeout_ms")
            try sensible(suspicionMin, "suspicion_min_ms")
            try sensible(suspicionMax, "suspicion_max_ms")
            try sensible(pushPullInterval, "push_pull_interval_ms")
            if probeTimeout >= probeInterval {
                throw ValidationError(key: "probe_timeout_ms", message: "must be less than probe_interval_ms")
            }
            if !(0...16).contains(indirectProbes) {
                throw ValidationError(key: "indirect_probes", message: "must be between 0 and 16")
            }
            if suspicionMax < suspicionMin {
                throw ValidationError(key: "suspicion_max_ms", message: "must be at least suspicion_min_ms")
            }
            if !(1...16).contains(retransmitMultiplier) {
                throw ValidationError(key: "retransmit_multiplier", message: "must be between 1 and 16")
            }
        }

        /// How many times an update is piggybacked in a cluster of `memberCount` members.
        public func retransmitLimit(memberCount: Int) -> Int {
            retransmitMultiplier * Self.ceilLog2(memberCount + 1)
        }

        /// An upper bound on the time from a crash to every member declaring the node dead,
        /// with no message loss: the crashed node is suspected within a few probe periods, the
        /// suspicion spreads in O(log n) periods, and times out within `suspicionMax`.
        public func failureDetectionBound(memberCount: Int) -> Duration {
            suspicionMax + probeInterval * (3 + 2 * Self.ceilLog2(max(memberCount, 2)))
        }

        static func ceilLog2(_ value: Int) -> Int {
            guard value > 1 else { return 0 }
            return Int.bitWidth - (value - 1).leadingZeroBitCount
        }
    }
}
