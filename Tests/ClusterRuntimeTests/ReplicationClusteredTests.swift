import ClusterCore
import ClusterRuntime
import ClusterTestKit
import Foundation
import Logging
import Persistence
import ServiceLifecycle
import Testing

/// Serves `key=value` writes by replicating them through the shard's log.
struct KeyValueHandler: EntityHandler {
    let host: ReplicationHost<KeyValueMachine>

    func handle(shard: UInt32, key: String, command: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8]
    {
        _ = try await host.propose(shard: shard, Array("\(key)=".utf8) + command, deadline: deadline)
        return command
    }
}

/// Three nodes in one process over loopback, replication 3: writes through any node are
/// acknowledged once a majority holds them, and survive the loss of a primary.
@Suite struct ReplicationClusteredTests {
    /// Writes `key=value`; these writes are idempotent, so a write whose outcome became unknown
    /// (its primary changed) is simply sent again, as a client would. Bounded: 5 attempts.
    /// Writes `key=value` (a write that may be sent again: it sets a value), again after an
    /// unknown outcome, a timeout or a refusal to start — a loaded machine may take longer than a
    /// short commit deadline — at most five times.
    static func write(_ key: String, _ value: String, via node: ClusterNode<KeyValueMachine>) async throws -> [UInt8] {
        let retried: Set<String> = ["outcome_unknown", "timeout", "not_started", "overloaded"]
        for attempt in 1...5 {
            do {
                return try await node.ask(key: key, command: Array(value.utf8), timeout: .seconds(20))
            } catch let error as ReplicationError where retried.contains(error.code) && attempt < 5 {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw ReplicationError.timeout
    }

    /// A 3-node loopback configuration, replication 3.
    static func configuration(shards: Int) throws -> ClusterConfiguration {
        var configuration = ClusterConfiguration()
        configuration.name = "replication-test"
        configuration.shards = shards
        configuration.replication = 3
        configuration.nodes = LoopbackPorts.nodes(3)
        return configuration
    }

    /// Starts the node `entry` of `configuration` with its data in `<root>/<id>`.
    static func start(
        _ entry: ClusterConfiguration.NodeEntry,
        of configuration: ClusterConfiguration,
        root: String,
        checkpointAtShutdown: Bool = true,
        commitTimeout: Duration = .seconds(10),
        leaveOnStorageFailure: Bool = true,
        inboundRequestsMax: Int = NodeSettings.defaultInboundRequestsMax
    ) throws -> MembershipClusteredTests.RunningNode {
        var configuration = configuration
        configuration.dataDirectory = root
        var settings = NodeSettings(listed: entry, of: configuration)
        settings.transport.backoffMax = .milliseconds(300)
        settings.checkpointAtShutdown = checkpointAtShutdown
        settings.commitTimeout = commitTimeout
        settings.leaveOnStorageFailure = leaveOnStorageFailure
        settings.inboundRequestsMax = inboundRequestsMax
        var logger = Logger(label: "test.\(entry.id)")
        logger.logLevel = .warning
        let node = try ClusterNode(settings: settings, logger: logger) { _ in KeyValueMachine() }
        node.setEntityHandler(KeyValueHandler(host: node.replication))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [node], logger: logger))
        return .init(node: node, group: group, task: Task { try await group.run() })
    }

    /// Every node of `configuration`, started as ``start(_:of:root:checkpointAtShutdown:commitTimeout:leaveOnStorageFailure:)`` does.
    static func startAll(
        _ configuration: ClusterConfiguration,
        root: String,
        checkpointAtShutdown: Bool = true,
        commitTimeout: Duration = .seconds(10),
        leaveOnStorageFailure: Bool = true
    ) throws -> [MembershipClusteredTests.RunningNode] {
        try configuration.nodes.map { entry in
            try start(
                entry,
                of: configuration,
                root: root,
                checkpointAtShutdown: checkpointAtShutdown,
                commitTimeout: commitTimeout,
                leaveOnStorageFailure: leaveOnStorageFailure
            )
        }
    }

    /// A fresh directory path under the temporary directory (the caller removes it).
    static func temporaryRoot(_ prefix: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    }

    /// Stops nodes gracefully and waits for them.
    static func stop(_ nodes: ArraySlice<MembershipClusteredTests.RunningNode>) async throws {
        for running in nodes {
            await running.group.triggerGracefulShutdown()
            try await running.task.value
        }
    }

    /// Stops nodes at once (their services cancelled: no hand-over, no checkpoint) and waits for them.
    static func cancel(_ nodes: ArraySlice<MembershipClusteredTests.RunningNode>) async {
        for running in nodes {
            running.task.cancel()
            _ = try? await running.task.value
        }
    }

    /// Every acknowledged write is in the state of its shard's current primary among `nodes`
    /// (waiting up to 30 s for shards still electing one).
    static func expectPresent(
        _ acknowledged: [String: String],
        shards: Int,
        on nodes: ArraySlice<MembershipClusteredTests.RunningNode>
    ) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        var missing = acknowledged
        while true {
            for (key, value) in missing where try await read(key, shards: shards, on: nodes) == value {
                missing[key] = nil
            }
            if missing.isEmpty || ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(missing.isEmpty, "\(missing.count) of \(acknowledged.count) acknowledged writes not found")
        for (key, _) in missing.sorted(by: { $0.key < $1.key }).prefix(10) {
            let found = try await read(key, shards: shards, on: nodes)
            #expect(found == acknowledged[key], "\(key) lost: \(String(describing: found))")
        }
    }

    /// The value of `key` in the state of its shard's primary among `nodes`, if one serves it
    /// (and its read round confirms it still leads: nil while shards change hands).
    static func read(_ key: String, shards: Int, on nodes: ArraySlice<MembershipClusteredTests.RunningNode>)
        async throws -> String?
    {
        let shard = UInt32(Placement.shard(forKey: key, shardCount: shards))
        for running in nodes where running.node.replication.serves(shard: shard) {
            do {
                return try await running.node.replication.read(shard: shard) { ($0 as! KeyValueMachine).values[key] }
            } catch ReplicationError.notPrimary {
                return nil
            }
        }
        return nil
    }

    @Test(.timeLimit(.minutes(2)))
    func acknowledgedWritesSurviveThePrimary() async throws {
        let configuration = try Self.configuration(shards: 8)
        let root = Self.temporaryRoot("plume-replication")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let nodes = try Self.startAll(configuration, root: root)

        // Writes go through any node; `ask` waits (bounded) while shards elect their first primaries.
        var acknowledged: [String: String] = [:]
        for index in 0..<40 {
            let key = "user/\(index)"
            let value = "v\(index)"
            let via = nodes[index % 3].node
            let reply = try await Self.write(key, value, via: via)
            #expect(reply == Array(value.utf8))
            acknowledged[key] = value
        }

        // Stop n1 (its service is cancelled): the survivors start new epochs for the shards it led.
        await Self.cancel(nodes[0...0])
        for index in 40..<60 {
            let key = "user/\(index)"
            let value = "v\(index)"
            let reply = try await Self.write(key, value, via: nodes[1 + index % 2].node)
            #expect(reply == Array(value.utf8))
            acknowledged[key] = value
        }

        // Every acknowledged write is in the state of the shard's current primary.
        try await Self.expectPresent(acknowledged, shards: configuration.shards, on: nodes[1...])

        try await Self.stop(nodes[1...])
    }

    /// Checkpoints compact the logs and delete the WAL; a replica that was away past a
    /// checkpoint gets the shard's snapshot, and its state then serves when it leads.
    @Test(.timeLimit(.minutes(2)))
    func aReplicaAwayPastACheckpointCatchesUpFromTheSnapshot() async throws {
        let configuration = try Self.configuration(shards: 4)
        let root = Self.temporaryRoot("plume-snapshot")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var nodes = try Self.startAll(configuration, root: root)
        var acknowledged: [String: String] = [:]
        for index in 0..<30 {
            _ = try await Self.write("user/\(index)", "v\(index)", via: nodes[index % 3].node)
            acknowledged["user/\(index)"] = "v\(index)"
        }

        // n3 goes away; the others take more writes and checkpoint.
        try await Self.stop(nodes[2...2])
        for index in 30..<60 {
            _ = try await Self.write("user/\(index)", "w\(index)", via: nodes[index % 2].node)
            acknowledged["user/\(index)"] = "w\(index)"
        }
        for running in nodes[0..<2] {
            let report = try #require(try await running.node.replication.checkpoint())
            #expect(report.shardsCompacted == 4)
            #expect(report.snapshotsWritten == 4)
            #expect(report.segmentsRemoved >= 1, "the WAL before the checkpoint is deleted")
        }

        // n3 restarts from its own snapshots (taken at its shutdown), then installs the others' bases.
        nodes[2] = try Self.start(configuration.nodes[2], of: configuration, root: root)
        #expect(nodes[2].node.recovery.snapshotsLoaded == 4)
        let restarted = nodes[2].node
        let installed = await eventually(timeout: .seconds(60)) { await restarted.replication.snapshotsInstalled >= 4 }
        #expect(installed, "n3 installs a snapshot of every shard")

        // With n1 gone, n2 and n3 lead; every acknowledged write is still there.
        try await Self.stop(nodes[0...0])
        for index in 60..<70 {
            _ = try await Self.write("user/\(index)", "x\(index)", via: nodes[1 + index % 2].node)
            acknowledged["user/\(index)"] = "x\(index)"
        }
        #expect(await restarted.replication.servedShards > 0, "n3 leads some shards with the installed state")
        try await Self.expectPresent(acknowledged, shards: configuration.shards, on: nodes[1...])
        try await Self.stop(nodes[1...])
    }

    /// Checkpoints every 64 KiB while 16 writers write: every acknowledged write survives a
    /// restart of the whole cluster from snapshots plus WAL tails. The writers go on until three
    /// checkpoints have finished, one on every node at least, however slow the machine (or busy
    /// its storage thread with other tests' checkpoints): at most 4,000 rounds each and 90 s.
    @Test(.timeLimit(.minutes(3)))
    func writesDuringCheckpointsSurviveARestart() async throws {
        var configuration = try Self.configuration(shards: 8)
        configuration.checkpointBytes = 64 * 1024
        let root = Self.temporaryRoot("plume-checkpoints")
        defer { try? FileManager.default.removeItem(atPath: root) }
        var nodes = try Self.startAll(configuration, root: root, checkpointAtShutdown: false)
        let running = nodes
        // Warm-up: every shard has a primary.
        _ = try await Self.write("warm", "up", via: running[0].node)
        let deadline = ContinuousClock.now + .seconds(90)
        let acknowledged = try await withThrowingTaskGroup(of: [String: String].self) { group in
            for writer in 0..<16 {
                group.addTask {
                    var mine: [String: String] = [:]
                    for round in 0..<4_000 {
                        let key = "user/\(writer)-\(round % 10)"  // each key is written many times
                        let value = "w\(writer)r\(round)-" + String(repeating: "x", count: 200)
                        _ = try await Self.write(key, value, via: running[(writer + round) % 3].node)
                        mine[key] = value
                        guard round >= 40, round % 10 == 9 else { continue }
                        if ContinuousClock.now > deadline { break }
                        if Self.enough(await Self.checkpointsTaken(on: running)) { break }
                    }
                    return mine
                }
            }
            return try await group.reduce(into: [:]) { $0.merge($1) { _, new in new } }
        }
        let checkpoints = await Self.checkpointsTaken(on: nodes)
        var pending: [Int] = []
        for running in nodes { pending.append(await running.node.replication.walBytesSinceLastCheckpoint) }
        #expect(
            Self.enough(checkpoints),
            "checkpoints during the writes, by node: \(checkpoints); WAL bytes since: \(pending)"
        )

        try await Self.stop(nodes[...])
        nodes = try configuration.nodes.map { try Self.start($0, of: configuration, root: root) }
        #expect(nodes.allSatisfy { $0.node.recovery.snapshotsLoaded == configuration.shards })
        // Reads go to whichever node leads each shard once the restarted cluster has elected.
        try await Self.expectPresent(acknowledged, shards: configuration.shards, on: nodes[...])
        try await Self.stop(nodes[...])
    }

    /// The checkpoints each node has finished.
    static func checkpointsTaken(on nodes: [MembershipClusteredTests.RunningNode]) async -> [Int] {
        var taken: [Int] = []
        for running in nodes { taken.append(await running.node.replication.checkpointsTaken) }
        return taken
    }

    /// Three checkpoints at least, one on every node.
    static func enough(_ checkpoints: [Int]) -> Bool {
        checkpoints.allSatisfy { $0 >= 1 } && checkpoints.reduce(0, +) >= 3
    }

    /// A standalone node (replication 1) with its data in `<root>/standalone`.
    static func startStandalone(root: String) throws -> MembershipClusteredTests.RunningNode {
        var configuration = ClusterConfiguration.standalone
        let ports = try MembershipClusteredTests.freePorts(2)
        configuration.nodes[0].clusterAddress = NodeAddress(host: "127.0.0.1", port: ports[0])
        configuration.nodes[0].httpAddress = NodeAddress(host: "127.0.0.1", port: ports[1])
        return try start(configuration.nodes[0], of: configuration, root: root, checkpointAtShutdown: false)
    }

    /// A shard state from another node that does not restore (a damaged or foreign format) is
    /// refused before the replica takes it: the node neither stops nor follows that epoch, and its
    /// shard keeps its state and its writes.
    @Test(.timeLimit(.minutes(1)))
    func aShardStateThatDoesNotRestoreIsRefused() async throws {
        let root = Self.temporaryRoot("plume-replication")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let running = try Self.startStandalone(root: root)
        _ = try await Self.write("user/a", "1", via: running.node)
        let shard = UInt32(Placement.shard(forKey: "user/a", shardCount: 256))
        let stranger = NodeID("n9")!
        let epoch = Replication.Epoch(number: 1_000, node: "n9")
        let config = Replication.Config(epoch: epoch, replicas: [stranger])
        let whole = try Zstd.compress(Array("user/a=3\n".utf8))
        for state in [[1, 2, 3, 4], Array(whole.dropLast(3))] as [[UInt8]] {
            let base = Replication.Base(lsn: 10_000, epoch: epoch, config: config, state: state)
            await running.node.replication.receive(
                shard: shard,
                .installSnapshot(epoch: epoch, base: base),
                from: stranger
            )
        }
        #expect(running.node.replication.serves(shard: shard), "the node gave the shard up to the stranger's epoch")
        #expect(try await Self.read("user/a", shards: 256, on: [running][...]) == "1")
        #expect(try await Self.write("user/a", "2", via: running.node) == Array("2".utf8))
        #expect(try await Self.read("user/a", shards: 256, on: [running][...]) == "2")
        try await Self.stop([running][...])
    }

    @Test(.timeLimit(.minutes(1)))
    func anOversizedCommandIsRefusedAndTheNodeKeepsWriting() async throws {
        let root = Self.temporaryRoot("plume-replication")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let running = try Self.startStandalone(root: root)
        _ = try await Self.write("user/small", "before", via: running.node)
        let limit = running.node.replication.settings.commandBytesMax
        // KeyValueHandler stores `key=value`: the command it proposes is 9 bytes longer.
        await #expect(throws: ReplicationError.commandTooLarge(bytes: "user/big=".utf8.count + limit + 1, limit: limit))
        {
            _ = try await running.node.ask(key: "user/big", command: [UInt8](repeating: 7, count: limit + 1))
        }
        // Nothing was written, and the node still takes writes.
        _ = try await Self.write("user/small", "after", via: running.node)
        #expect(try await Self.read("user/small", shards: 256, on: [running][...]) == "after")
        #expect(try await Self.read("user/big", shards: 256, on: [running][...]) == nil)
        try await Self.stop([running][...])
    }

    /// A failing disk, simulated by pointing the log's open segment at `/dev/full` (every write
    /// fails with ENOSPC) or at `/dev/null` (writes succeed, every sync fails — never retried: the
    /// kernel may have dropped the pages it could not write): the writer waiting on it is
    /// answered at once, the node stops with `storageFailed`, and a restart recovers exactly what
    /// the log holds.
    @Test(.timeLimit(.minutes(1)), arguments: ["write", "sync"])
    func aFailedLogWriteAnswersTheWriterAndStopsTheNode(failing: String) async throws {
        let root = Self.temporaryRoot("plume-replication")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let running = try Self.startStandalone(root: root)
        _ = try await Self.write("user/a", "1", via: running.node)

        if failing == "write" {
            try FailingDisk.failWrites(toLogIn: root + "/standalone")
        } else {
            try FailingDisk.failSyncs(toLogIn: root + "/standalone")
        }
        let started = ContinuousClock.now
        do {
            _ = try await running.node.ask(key: "user/b", command: Array("2".utf8), timeout: .seconds(30))
            Issue.record("a write the log could not store was acknowledged")
        } catch let error as ReplicationError {
            #expect(error == .outcomeUnknown || error == .storageFailed)
        }
        await #expect(throws: ReplicationError.storageFailed) { try await running.task.value }
        #expect(ContinuousClock.now - started < .seconds(20), "answered and stopped at once, not at the 30 s deadline")

        // The segment file itself was never touched by the failed writes.
        let restarted = try Self.startStandalone(root: root)
        #expect(try await Self.write("user/c", "3", via: restarted.node) == Array("3".utf8))
        #expect(try await Self.read("user/a", shards: 256, on: [restarted][...]) == "1")
        #expect(try await Self.read("user/b", shards: 256, on: [restarted][...]) == nil)
        try await Self.stop([restarted][...])
    }

    /// A primary whose log fails leaves the cluster: the survivors take its shards over and
    /// writes to them go on.
    @Test(.timeLimit(.minutes(2)))
    func aNodeWhoseLogFailsLeavesAndTheOthersTakeOver() async throws {
        let configuration = try Self.configuration(shards: 8)
        let root = Self.temporaryRoot("plume-replication")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let nodes = try Self.startAll(configuration, root: root)
        // n2 and n3 know each other (they met through the seed, n1) before n1 goes.
        let converged = await eventually(timeout: .seconds(30)) {
            nodes.allSatisfy { running in
                running.node.view.members.count == 3 && running.node.view.members.allSatisfy { $0.status == .alive }
            }
        }
        #expect(converged)
        let led = try await Self.keyLed(by: nodes[0], shards: 8)

        try FailingDisk.failWrites(toLogIn: root + "/n1")
        await #expect(throws: (any Error).self) {
            _ = try await nodes[0].node.ask(key: led, command: Array("lost?".utf8), timeout: .seconds(30))
        }
        await #expect(throws: ReplicationError.storageFailed) { try await nodes[0].task.value }
        // n2 takes the write (forwarding to whichever survivor now leads the shard).
        #expect(try await Self.write(led, "after", via: nodes[1].node) == Array("after".utf8))
        #expect(try await Self.read(led, shards: 8, on: nodes[1...]) == "after")
        try await Self.stop(nodes[1...])
    }

    /// Three nodes (8 shards) whose followers' logs fail once n1 leads `led`: they stay members,
    /// refusing everything, so n1 keeps its shards and its next write to `led` cannot commit.
    static func startWithFailingFollowers(root: String, commitTimeout: Duration) async throws
        -> (nodes: [MembershipClusteredTests.RunningNode], led: String)
    {
        let nodes = try startAll(
            try configuration(shards: 8),
            root: root,
            commitTimeout: commitTimeout,
            leaveOnStorageFailure: false
        )
        let led = try await keyLed(by: nodes[0], shards: 8)
        try FailingDisk.failWrites(toLogIn: root + "/n2")
        try FailingDisk.failWrites(toLogIn: root + "/n3")
        return (nodes, led)
    }

    /// A key whose shard `running` serves, written once (so the shard's epoch is under way).
    static func keyLed(by running: MembershipClusteredTests.RunningNode, shards: Int) async throws -> String {
        for index in 0..<200 {
            let candidate = "user/\(index)"
            _ = try await write(candidate, "v", via: running.node)
            if running.node.replication.serves(shard: UInt32(Placement.shard(forKey: candidate, shardCount: shards))) {
                return candidate
            }
        }
        throw ReplicationError.notPrimary(leader: nil)
    }

    /// A primary whose followers can no longer store anything cannot commit: its writer gets
    /// `timeout` at the commit deadline instead of waiting forever, and the primary ends its
    /// epoch rather than go on deciding on a state that lacks a write that may yet commit.
    @Test(.timeLimit(.minutes(2)))
    func aWriteThatCannotCommitFailsAtItsDeadline() async throws {
        let root = Self.temporaryRoot("plume-replication")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (nodes, led) = try await Self.startWithFailingFollowers(root: root, commitTimeout: .seconds(1))
        let started = ContinuousClock.now
        await #expect(throws: ReplicationError.timeout) {
            _ = try await nodes[0].node.ask(key: led, command: Array("w".utf8), timeout: .seconds(30))
        }
        let waited = ContinuousClock.now - started
        // Generous for a loaded machine; the caller would have waited 30 s.
        #expect(waited < .seconds(15), "failed at the 1 s commit deadline, after \(waited)")
        // The deadline did not decide the write's fate: the primary ended its epoch, and the
        // shard is not served until a new epoch (which needs the followers back) decides it.
        let shard = UInt32(Placement.shard(forKey: led, shardCount: 8))
        #expect(!nodes[0].node.replication.serves(shard: shard), "still serving on the state that lacks the open write")
        await #expect(throws: ReplicationError.self) {
            _ = try await nodes[0].node.replication.read(shard: shard) { _ in true }
        }
        await Self.cancel(nodes[...])
    }
}

extension ReplicationClusteredTests {
    /// A write still in flight when its primary stops has an unknown outcome (its entry may yet
    /// commit through the followers' copies): it is answered `outcome_unknown`, never
    /// `unavailable`, which a forwarding node would take for "nothing happened" and send again.
    @Test(.timeLimit(.minutes(2)))
    func aWriteInFlightAtShutdownHasAnUnknownOutcome() async throws {
        let root = Self.temporaryRoot("plume-replication")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (nodes, led) = try await Self.startWithFailingFollowers(root: root, commitTimeout: .seconds(30))
        let primary = nodes[0].node
        let write = Task { try await primary.ask(key: led, command: Array("in flight".utf8), timeout: .seconds(30)) }
        let proposed = await eventually(timeout: .seconds(10)) { await primary.replication.proposalsWaiting > 0 }
        #expect(proposed, "the write never reached the primary's log")
        await primary.replication.stop()
        do {
            _ = try await write.value
            Issue.record("a write that cannot commit was acknowledged")
        } catch {
            #expect(error as? ReplicationError == .outcomeUnknown, "\(error)")
            #expect(ReplicationError(code: (error as? ReplicationError)?.code ?? "", message: "") == .outcomeUnknown)
        }
        await Self.cancel(nodes[...])
    }

    /// The caller's deadline holds wherever its write runs: with a 30 s commit deadline, a 1 s
    /// `ask` through the primary and one forwarded from another node both fail with `timeout`
    /// about 1 s later, and the primary stops waiting for them then too (before, the local path
    /// waited the full commit deadline and the primary held forwarded writes as long).
    @Test(.timeLimit(.minutes(2)))
    func aWriteEndsAtItsCallersDeadlineOnEveryNode() async throws {
        let root = Self.temporaryRoot("plume-replication")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (nodes, led) = try await Self.startWithFailingFollowers(root: root, commitTimeout: .seconds(30))
        let started = ContinuousClock.now
        func failure(of ask: () async throws -> [UInt8]) async -> (any Error)? {
            do {
                _ = try await ask()
                return nil
            } catch {
                return error
            }
        }
        async let local = failure {
            try await nodes[0].node.ask(key: led, command: Array("local".utf8), timeout: .seconds(1))
        }
        async let forwarded = failure {
            try await nodes[1].node.ask(key: led, command: Array("forwarded".utf8), timeout: .seconds(1))
        }
        let errors = await [local, forwarded]
        #expect(errors.map { $0 as? ReplicationError } == [.timeout, .timeout], "\(errors)")
        let waited = ContinuousClock.now - started
        // Bounds generous for a loaded machine, and well short of the 30 s commit deadline.
        #expect(waited < .seconds(15), "answered at the callers' 1 s deadline, after \(waited)")
        // Both writes were proposed on n1; it lets them go at their callers' deadline.
        let host = nodes[0].node.replication
        let released = await eventually(timeout: .seconds(15) - (ContinuousClock.now - started)) {
            await host.proposalsWaiting == 0
        }
        let waiting = await host.proposalsWaiting
        #expect(released, "n1 still waits for \(waiting) write(s) its callers gave up on")
        await Self.cancel(nodes[...])
    }
}

/// Holds every request until the test opens it.
actor GateHandler: EntityHandler {
    private var open = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private(set) var entered = 0

    func handle(shard: UInt32, key: String, command: [UInt8], deadline: ContinuousClock.Instant) async throws -> [UInt8]
    {
        entered += 1
        if !open { await withCheckedContinuation { waiting.append($0) } }
        return command
    }

    func release() {
        open = true
        for continuation in waiting { continuation.resume() }
        waiting.removeAll()
    }
}

extension ReplicationClusteredTests {
    /// Requests forwarded from other nodes are bounded: past `inboundRequestsMax` in flight, one
    /// is answered `overloaded` at once, and the ones admitted still get their answers.
    @Test(.timeLimit(.minutes(2)))
    func forwardedRequestsPastTheBoundAreAnsweredOverloaded() async throws {
        let configuration = try Self.configuration(shards: 8)
        let root = Self.temporaryRoot("plume-inbound")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let nodes = try configuration.nodes.map {
            try Self.start($0, of: configuration, root: root, inboundRequestsMax: 2)
        }
        let led = try await Self.keyLed(by: nodes[0], shards: 8)
        let gate = GateHandler()
        nodes[0].node.setEntityHandler(gate)

        let first = Task { try await nodes[1].node.ask(key: led, command: Array("1".utf8), timeout: .seconds(30)) }
        let second = Task { try await nodes[2].node.ask(key: led, command: Array("2".utf8), timeout: .seconds(30)) }
        // Both are held on n1 (bounded wait).
        #expect(await eventually(timeout: .seconds(20)) { await gate.entered == 2 })
        await #expect {
            try await nodes[1].node.ask(key: led, command: Array("3".utf8), timeout: .seconds(30))
        } throws: { error in
            (error as? ReplicationError) == .overloaded
        }
        #expect(await gate.entered == 2, "the third request was handled instead of refused")
        await gate.release()
        #expect(try await first.value == Array("1".utf8))
        #expect(try await second.value == Array("2".utf8))
        // With room again, the next one is handled.
        #expect(
            try await nodes[2].node.ask(key: led, command: Array("4".utf8), timeout: .seconds(30)) == Array("4".utf8)
        )
        try await Self.stop(nodes[...])
    }
}
