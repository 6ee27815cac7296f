import ClusterCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Persistence
import ServiceLifecycle
import WireProtocol

/// A Plume node as a service: the cluster transport, membership, and the shard table it
/// derives. Run it in a `ServiceGroup`; on graceful shutdown it announces `left` to the
/// cluster before it closes its connections.
public final class ClusterNode<Machine: ShardStateMachine>: Service, Sendable {
    public let settings: NodeSettings
    public let metrics: ClusterMetrics
    private let logger: Logger
    private let transport: ClusterTransport
    private let shell: MembershipShell
    private let viewBox: NIOLockedValueBox<ClusterView>
    /// Whether some shard still recovers (until `RECOVERING` is gone).
    private let recoveringBox: NIOLockedValueBox<Bool>
    private let started = NIOLockedValueBox(false)
    private let handlerBox = NIOLockedValueBox<(any EntityHandler)?>(nil)
    /// Who takes the real-time deliveries other nodes send here.
    private let realtimeBox = NIOLockedValueBox<RealtimeHandler?>(nil)

    /// The handler in a struct: a closure kept bare in a lock's generic storage is re-wrapped in
    /// two reabstraction thunks by every `withLockedValue { $0 }` (the inout write-back), so each
    /// call would grow a chain that every later call walks.
    private struct RealtimeHandler: Sendable {
        let take: @Sendable ([UInt8], NodeID) -> Void
    }
    /// Entity requests from other nodes being handled (bounded by `inboundRequestsMax`).
    private let inboundRequests = NIOLockedValueBox(0)
    private let replicationInbox: AsyncStream<([Wire.ShardMessage], NodeID)>.Continuation
    private let replicationInputs: AsyncStream<([Wire.ShardMessage], NodeID)>
    /// This node's replicas of every shard.
    public let replication: ReplicationHost<Machine>
    /// What recovery found in the node's storage.
    public let recovery: Storage.Report
    /// Whose data this node's data directory holds (``NodeIdentity``), and whether it was drawn at
    /// this start (an empty directory).
    public let identity: NodeIdentity
    public let identityIsNew: Bool

    /// Opens the node's storage (recovering every shard) and prepares its transport and membership.
    ///
    /// - Parameter makeMachine: the state machine of each shard, fed with committed commands.
    public init(
        settings: NodeSettings,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        metrics: ClusterMetrics = ClusterMetrics(),
        makeMachine: @escaping @Sendable (UInt32) -> Machine
    ) throws {
        var logger = logger
        logger[metadataKey: "cluster/node"] = "\(settings.nodeID)"
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        let configuration = settings.configuration
        let viewBox = NIOLockedValueBox(
            ClusterView(
                node: settings.nodeID,
                clusterAddress: settings.clusterAddress,
                httpAddress: settings.httpAddress,
                members: [],
                shards: ShardTable(shardCount: configuration.shards, replication: configuration.replication, nodes: []),
                isJoined: false,
                isStandalone: settings.seeds.allSatisfy { $0 == settings.clusterAddress }
                    && configuration.nodes.allSatisfy { $0.id == settings.nodeID },
                localHealth: 0
            )
        )
        self.viewBox = viewBox
        let credentials = Wire.Handshake.Credentials(
            clusterName: configuration.name,
            nodeID: settings.nodeID,
            clusterAddress: settings.clusterAddress,
            secret: configuration.secret,
            versionMinor: settings.wireVersionMinor
        )
        var transportSettings = settings.transport
        if let files = configuration.tls?.forNode(settings.nodeID.rawValue), transportSettings.tls == nil {
            transportSettings.tls = try ClusterTLS(caFile: files.ca, certificateFile: files.cert, keyFile: files.key)
        }
        let inbox = NIOLockedValueBox<AsyncStream<MembershipShell.Input>.Continuation?>(nil)
        let (replicationInputs, replicationInbox) = AsyncStream.makeStream(
            of: ([Wire.ShardMessage], NodeID).self,
            bufferingPolicy: .bufferingNewest(100_000)
        )
        self.replicationInputs = replicationInputs
        self.replicationInbox = replicationInbox
        let handlerBox = self.handlerBox
        let realtimeBox = self.realtimeBox
        let inboundRequests = self.inboundRequests
        let transportBox = NIOLockedValueBox<ClusterTransport?>(nil)
        let transport = ClusterTransport(
            credentials: credentials,
            settings: transportSettings,
            group: group,
            logger: logger,
            metrics: metrics,
            onMessage: { inbound in
                switch inbound.message {
                case .swim(let message):
                    _ = inbox.withLockedValue { $0?.yield(.message(message, from: inbound.from)) }
                case .replication(let shard, let message):
                    replicationInbox.yield(([Wire.ShardMessage(shard: shard, message: message)], inbound.from.id))
                case .replicationBatch(let messages):
                    replicationInbox.yield((messages, inbound.from.id))
                case .realtime(let bytes):
                    realtimeBox.withLockedValue { $0 }?.take(bytes, inbound.from.id)
                case .entityRequest(let shard, let key, let timeoutMillis, let command):
                    guard let transport = transportBox.withLockedValue({ $0 }) else { return }
                    let handler = handlerBox.withLockedValue { $0 }
                    // The caller's deadline, on this node's clock (less the frame's time in flight).
                    let deadline = ContinuousClock.now + .milliseconds(timeoutMillis)
                    let admitted = inboundRequests.withLockedValue { count -> Bool in
                        guard count < settings.inboundRequestsMax else { return false }
                        count += 1
                        return true
                    }
                    guard admitted else {
                        let message = "\(settings.inboundRequestsMax) requests from other nodes are in flight here"
                        transport.respond(.error(code: "overloaded", message: message), to: inbound)
                        return
                    }
                    Task {
                        defer { inboundRequests.withLockedValue { $0 -= 1 } }
                        do {
                            guard let handler else {
                                throw ReplicationError.shutdown
                            }
                            let reply = try await handler.handle(
                                shard: shard,
                                key: key,
                                command: command,
                                deadline: deadline
                            )
                            transport.respond(.entityReply(reply), to: inbound)
                        } catch let error as ReplicationError {
                            transport.respond(.error(code: error.code, message: "\(error)"), to: inbound)
                        } catch {
                            transport.respond(.error(code: "internal_error", message: "\(error)"), to: inbound)
                        }
                    }
                default:
                    break
                }
            }
        )
        transportBox.withLockedValue { $0 = transport }
        self.transport = transport
        // Wall-clock milliseconds: higher than anything a previous run of this node gossiped.
        let incarnation = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let myself = SWIM.Member(
            id: settings.nodeID,
            clusterAddress: settings.clusterAddress,
            httpAddress: settings.httpAddress,
            incarnation: incarnation
        )
        let swim = SWIM.Instance(myself: myself, seeds: settings.seeds, settings: configuration.membership)
        let shell = MembershipShell(swim: swim, transport: transport, view: viewBox, metrics: metrics, logger: logger)
        self.shell = shell
        inbox.withLockedValue { $0 = shell.inbox }

        // Before anything is read: a directory of another cluster or node is refused.
        (identity, identityIsNew) = try NodeIdentity.establish(
            directory: settings.dataDirectory,
            cluster: configuration.name,
            node: settings.nodeID.rawValue
        )
        let recovering = try NodeIdentity.isRecovering(directory: settings.dataDirectory)
        let recoveringBox = NIOLockedValueBox(recovering)
        self.recoveringBox = recoveringBox
        let (storage, durable) = try ReplicationLog.openStorage(directory: settings.dataDirectory)
        self.recovery = storage.report
        if let torn = storage.report.wal.tornTail {
            logger.warning(
                "write-ahead log had a torn tail; truncated",
                metadata: ["file": "\(torn.path)", "offset": "\(torn.offset)", "bytes": "\(torn.bytes)"]
            )
        }
        var replicationSettings = ReplicationSettings()
        replicationSettings.commitTimeout = settings.commitTimeout
        replicationSettings.checkpointBytes = configuration.checkpointBytes
        replicationSettings.passivateAfter = configuration.passivateAfter
        let genesisNodes =
            configuration.nodes.isEmpty && settings.seeds.isEmpty ? [settings.nodeID] : configuration.nodes.map(\.id)
        self.replication = try ReplicationHost(
            me: settings.nodeID,
            shardCount: configuration.shards,
            replication: configuration.replication,
            genesisNodes: genesisNodes,
            storage: storage,
            transport: transport,
            addressOf: { id in viewBox.withLockedValue { view in view.members.first { $0.id == id }?.clusterAddress } },
            placement: {
                viewBox.withLockedValue { view in
                    view.isJoined && view.members.contains { $0.id == settings.nodeID } ? view.shards : nil
                }
            },
            durable: durable,
            settings: replicationSettings,
            metrics: metrics,
            logger: logger,
            recovering: recovering,
            recoveryFinished: { [directory = settings.dataDirectory, logger, recoveringBox] in
                do {
                    try NodeIdentity.finishRecovery(directory: directory)
                } catch {
                    logger.error("could not record that recovery finished", metadata: ["error": "\(error)"])
                }
                recoveringBox.withLockedValue { $0 = false }
            },
            makeMachine: makeMachine
        )
    }

    /// Sets who serves entity commands on this node (before ``run()``).
    public func setEntityHandler(_ handler: any EntityHandler) {
        handlerBox.withLockedValue { $0 = handler }
    }

    /// Sets who takes the real-time deliveries (``Wire/Message/realtime(_:)``) other nodes send
    /// here, with the sender's id (before ``run()``).
    public func setRealtimeHandler(_ handler: @escaping @Sendable ([UInt8], NodeID) -> Void) {
        realtimeBox.withLockedValue { $0 = RealtimeHandler(take: handler) }
    }

    /// Sends real-time deliveries to `node`, one way; false if the node is not a known member
    /// (what is sent to a node that fails is lost: the sockets it held are gone with it).
    @discardableResult
    public func sendRealtime(_ bytes: [UInt8], to node: NodeID) -> Bool {
        guard let address = viewBox.withLockedValue({ view in view.members.first { $0.id == node }?.clusterAddress })
        else { return false }
        transport.send(.realtime(bytes), to: address)
        return true
    }

    /// Sends a command to the entity `key` wherever its shard is led: handled here when this node
    /// leads the shard, else forwarded (one hop) to the node the ring designates. While a shard
    /// has no primary (an election in progress) the call retries until `timeout`. The deadline
    /// holds wherever the command runs: the primary neither starts it nor waits for its commit
    /// past it (the reply is then ``ReplicationError/timeout``, and a write may still commit).
    public func ask(key: String, command: [UInt8], timeout: Duration = .seconds(5)) async throws -> [UInt8] {
        try await ask(key: key, command: command, deadline: .now + timeout)
    }

    /// ``ask(key:command:timeout:)`` with an absolute deadline.
    public func ask(key: String, command: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8] {
        // A key must cross the wire whole (services bound what clients send long before this).
        guard key.utf8.count <= Wire.Limits.stringBytesMax else {
            throw ReplicationError.commandTooLarge(bytes: key.utf8.count, limit: Wire.Limits.stringBytesMax)
        }
        let shard = UInt32(Placement.shard(forKey: key, shardCount: settings.configuration.shards))
        return try await ask(shard: shard, key: key, command: command, deadline: deadline)
    }

    /// ``ask(key:command:deadline:)`` to the primary of `shard`, whatever shard `key` hashes to:
    /// for requests about a whole shard (a search of its index) rather than one entity.
    public func ask(shard: UInt32, key: String, command: [UInt8], deadline: ContinuousClock.Instant) async throws
        -> [UInt8]
    {
        var delay = Duration.milliseconds(20)
        while true {
            do {
                return try await askOnce(shard: shard, key: key, command: command, deadline: deadline)
            } catch let error as ReplicationError where error.code == "not_primary" || error.code == "unavailable" {
                // No primary yet, or it is stopping: the ring designates another soon.
                guard ContinuousClock.now + delay < deadline else { throw error }
            } catch TransportError.unreachable(_) {
                // Never sent: nothing was applied.
                guard ContinuousClock.now + delay < deadline else { throw ReplicationError.notStarted }
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(200))
        }
    }

    /// The shard of `key` if the ring (from this node's joined view) designates this node to lead it.
    public func designatedShard(forKey key: String) -> UInt32? {
        let shard = Placement.shard(forKey: key, shardCount: settings.configuration.shards)
        let view = self.view
        guard view.isJoined, view.shards.entries.indices.contains(shard),
            view.shards.entries[shard].primary == settings.nodeID
        else {
            return nil
        }
        return UInt32(shard)
    }

    private func askOnce(shard: UInt32, key: String, command: [UInt8], deadline: ContinuousClock.Instant) async throws
        -> [UInt8]
    {
        let view = self.view
        let designated =
            view.isJoined && view.shards.entries.indices.contains(Int(shard))
            ? view.shards.entries[Int(shard)].primary : nil
        // The designated primary handles the command here (the handler refuses with `notPrimary`
        // while the shard is still electing); so does a node that still serves a shard the ring
        // has just moved.
        let local = designated == settings.nodeID || replication.serves(shard: shard)
        if local {
            guard let handler = handlerBox.withLockedValue({ $0 }) else {
                throw ReplicationError.shutdown
            }
            return try await handler.handle(shard: shard, key: key, command: command, deadline: deadline)
        }
        guard let leader = designated, leader != settings.nodeID,
            let address = view.members.first(where: { $0.id == leader })?.clusterAddress
        else { throw ReplicationError.notPrimary(leader: nil) }
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { throw ReplicationError.notStarted }
        do {
            let remainingMillis = UInt32(
                clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
            )
            // The primary stops a little earlier (a tenth, at most 50 ms), so that its own answer
            // at that deadline — `not_started`, `timeout` — can reach the caller before the
            // caller's deadline ends the request without one.
            let millis = max(1, remainingMillis - min(50, remainingMillis / 10))
            let reply = try await transport.request(
                .entityRequest(shard: shard, key: key, timeoutMillis: millis, command: command),
                to: address,
                timeout: remaining
            )
            guard case .entityReply(let bytes) = reply else {
                throw ReplicationError.malformed("unexpected \(reply.type) from \(leader)")
            }
            return bytes
        } catch TransportError.remote(let code, let message) {
            throw ReplicationError(code: code, message: message) ?? .malformed("\(code): \(message)")
        } catch TransportError.timeout {
            // The deadline passed here or on the primary: the same outcome for the caller.
            throw ReplicationError.timeout
        }
    }

    /// This node's current view of the cluster.
    public var view: ClusterView {
        var view = viewBox.withLockedValue { $0 }
        view.isRecovering = recoveringBox.withLockedValue { $0 }
        return view
    }

    /// The transport, for tools such as `plume bench wire`.
    public var clusterTransport: ClusterTransport { transport }

    public func run() async throws {
        precondition(
            !started.withLockedValue {
                let was = $0; $0 = true; return was
            },
            "a ClusterNode runs once"
        )
        let bound = try await transport.start(host: settings.clusterAddress.host, port: settings.clusterAddress.port)
        logger.info(
            "cluster transport listening",
            metadata: [
                "cluster/address": "\(bound)", "seeds": "\(settings.seeds.map(\.description).joined(separator: ","))",
            ]
        )
        let shell = self.shell
        let membership = Task { await shell.run() }
        let replication = self.replication
        let inputs = self.replicationInputs
        await replication.start()
        let replicationPump = Task {
            for await (messages, from) in inputs { await replication.receive(messages, from: from) }
        }
        // Until a graceful shutdown (or cancellation: leave anyway, quickly), or until the WAL
        // fails: a node that cannot persist leaves, so the others take over its shards.
        let storageFailure = await withTaskGroup(of: String?.self) { group in
            group.addTask {
                try? await gracefulShutdown()
                return nil
            }
            if settings.leaveOnStorageFailure {
                group.addTask {
                    for await failure in replication.storageFailures { return failure }
                    return nil
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if let storageFailure {
            logger.critical(
                "the write-ahead log failed: leaving the cluster and stopping",
                metadata: ["error": "\(storageFailure)"]
            )
        }
        let told = await shell.leave()
        logger.info("leaving the cluster", metadata: ["notified": "\(told)"])
        // Give the notices a moment to be written and answered before closing connections.
        try? await Task.sleep(for: .milliseconds(told > 0 ? 300 : 0))
        if told > 0 && !Task.isCancelled && storageFailure == nil {
            // Hand over: the nodes now designated start new epochs for the shards this node led;
            // stay (answering their prepares with this node's log) until they have, or 3 s pass.
            let deadline = ContinuousClock.now + .seconds(3)
            while await replication.servedShards > 0, ContinuousClock.now < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
            }
            let stillLeading = await replication.servedShards
            logger.info("handed over", metadata: ["still-leading": "\(stillLeading)"])
        }
        await shell.stop()
        await membership.value
        replicationInbox.finish()
        await replicationPump.value
        await replication.stopAutomaticCheckpoints()
        if settings.checkpointAtShutdown, storageFailure == nil, await replication.walBytesSinceLastCheckpoint > 0 {
            // The next start loads snapshots instead of replaying this run's log.
            do {
                try await replication.checkpoint()
            } catch {
                logger.error("checkpoint at shutdown failed", metadata: ["error": "\(error)"])
            }
        }
        await replication.stop()
        await transport.shutdown()
        if storageFailure != nil { throw ReplicationError.storageFailed }
    }
}
