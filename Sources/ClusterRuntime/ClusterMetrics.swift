import ClusterCore
import Metrics

/// The metrics of the cluster layer, declared in one place.
///
/// They go through swift-metrics, so whichever backend the process bootstraps (Prometheus in
/// `plume node`) receives them; with none bootstrapped they cost next to nothing.
public struct ClusterMetrics: Sendable {
    /// Members known to this node, by status (`plume_members{status=…}`).
    public let membersByStatus: [SWIM.Status: Gauge]
    /// Round trip of answered probes, direct or indirect (`plume_probe_rtt_seconds`).
    public let probeRoundTrip: Metrics.Timer
    /// SWIM messages sent (`plume_gossip_messages_sent_total`).
    public let gossipMessagesSent: Counter
    /// Bytes of SWIM frames sent, headers included (`plume_gossip_bytes_sent_total`).
    public let gossipBytesSent: Counter
    /// Frames or connections refused, by reason (`plume_frames_rejected_total{reason=…}`).
    public let framesRejected: @Sendable (String) -> Counter
    /// Messages dropped because a peer was unreachable or its queue full (`plume_peer_messages_dropped_total{reason=…}`).
    public let messagesDropped: @Sendable (String) -> Counter
    /// Handshakes that failed, by side (`plume_handshakes_refused_total{side=…}`).
    public let handshakesRefused: @Sendable (String) -> Counter

    /// WAL writes of the replication outbox, each one `fdatasync` (`plume_wal_writes_total`).
    public let walWrites: Counter
    /// Records per WAL write: how much group commit batches (`plume_wal_records_total`).
    public let walRecords: Counter
    /// Time of one WAL write including `fdatasync` (`plume_wal_write_seconds`).
    public let walWriteDuration: Metrics.Timer
    /// Entries committed and applied on this node, all shards (`plume_replication_applied_total`).
    public let entriesApplied: Counter
    /// Shards this node leads and serves (`plume_shards_led`).
    public let shardsLed: Gauge
    /// Epochs this node started (`plume_candidacies_total`).
    public let candidacies: Counter
    /// Epochs this node ended because a write did not commit by its commit deadline
    /// (`plume_resignations_total`).
    public let resignations: Counter
    /// Checkpoints completed (`plume_checkpoints_total`) and how long each took (`plume_checkpoint_seconds`).
    public let checkpoints: Counter
    public let checkpointDuration: Metrics.Timer
    /// Shard states installed from another node's base (`plume_snapshots_installed_total`).
    public let snapshotsInstalled: Counter
    /// Shard states from another node refused because they do not restore (`plume_states_refused_total`).
    public let statesRefused: Counter
    /// Committed records this node could not apply (a format it does not know, or damage); each
    /// stops the shard here until the node is upgraded or repaired (`plume_records_unapplicable_total`).
    public let recordsUnapplicable: Counter
    /// Entities moved to their encoded, passive form after idling (`plume_entities_passivated_total`).
    public let entitiesPassivated: Counter

    public static let probeRoundTripLabel = "plume_probe_rtt_seconds"
    public static let walWriteLabel = "plume_wal_write_seconds"

    public init() {
        membersByStatus = Dictionary(
            uniqueKeysWithValues: SWIM.Status.allCases.map {
                ($0, Gauge(label: "plume_members", dimensions: [("status", $0.description)]))
            }
        )
        probeRoundTrip = Metrics.Timer(label: Self.probeRoundTripLabel)
        gossipMessagesSent = Counter(label: "plume_gossip_messages_sent_total")
        gossipBytesSent = Counter(label: "plume_gossip_bytes_sent_total")
        framesRejected = { Counter(label: "plume_frames_rejected_total", dimensions: [("reason", $0)]) }
        messagesDropped = { Counter(label: "plume_peer_messages_dropped_total", dimensions: [("reason", $0)]) }
        handshakesRefused = { Counter(label: "plume_handshakes_refused_total", dimensions: [("side", $0)]) }
        walWrites = Counter(label: "plume_wal_writes_total")
        walRecords = Counter(label: "plume_wal_records_total")
        walWriteDuration = Metrics.Timer(label: Self.walWriteLabel)
        entriesApplied = Counter(label: "plume_replication_applied_total")
        shardsLed = Gauge(label: "plume_shards_led")
        candidacies = Counter(label: "plume_candidacies_total")
        resignations = Counter(label: "plume_resignations_total")
        checkpoints = Counter(label: "plume_checkpoints_total")
        checkpointDuration = Metrics.Timer(label: "plume_checkpoint_seconds")
        snapshotsInstalled = Counter(label: "plume_snapshots_installed_total")
        statesRefused = Counter(label: "plume_states_refused_total")
        recordsUnapplicable = Counter(label: "plume_records_unapplicable_total")
        entitiesPassivated = Counter(label: "plume_entities_passivated_total")
    }
}
