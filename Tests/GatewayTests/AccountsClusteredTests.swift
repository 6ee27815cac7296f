import ClusterCore
import ClusterRuntime
import ClusterTestKit
import EntityRuntime
import Foundation
import GameDomain
import Logging
import PlatformServices
import ServiceLifecycle
import Testing
import WireProtocol

/// Accounts on three in-process nodes (replication 3, loopback): signups for one name racing
/// through different nodes yield exactly one account.
@Suite(.serialized) struct AccountsClusteredTests {
    struct Running {
        let node: ClusterNode<EntityStore>
        let entities: EntityService
        let accounts: AccountService
        let group: ServiceGroup
        let task: Task<Void, any Error>
    }

    static func startCluster(
        root: String,
        commitTimeout: Duration = .seconds(10),
        leaveOnStorageFailure: Bool = true
    ) async throws -> [Running] {
        var configuration = ClusterConfiguration()
        configuration.name = "accounts-test"
        configuration.shards = 16
        configuration.nodes = LoopbackPorts.nodes(3)
        configuration.dataDirectory = root
        var running: [Running] = []
        for entry in configuration.nodes {
            var settings = NodeSettings(listed: entry, of: configuration)
            settings.transport.backoffMax = .milliseconds(300)
            settings.commitTimeout = commitTimeout
            settings.leaveOnStorageFailure = leaveOnStorageFailure
            var logger = Logger(label: "test.\(entry.id)")
            logger.logLevel = .warning
            let platform = try PlatformNode(settings: settings, logger: logger)
            let (node, entities) = (platform.node, platform.entities)
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [node], logger: logger))
            let accounts = await AccountService(
                tokenSecret: "clustered",
                hasher: PasswordHasher(rounds: 1 << 10),
                entities: Entities(NodeEntityTransport(node: node, local: entities, timeout: .seconds(20)))
            )
            running.append(
                Running(
                    node: node,
                    entities: entities,
                    accounts: accounts,
                    group: group,
                    task: Task { try await group.run() }
                )
            )
        }
        return running
    }

    /// Runs `body` on a fresh three-node cluster whose every shard has a primary (data under a
    /// temporary `root`, removed after), then stops the nodes.
    static func withCluster(
        _ prefix: String,
        commitTimeout: Duration = .seconds(10),
        leaveOnStorageFailure: Bool = true,
        _ body: (_ nodes: [Running], _ root: String) async throws -> Void
    ) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let nodes = try await startCluster(
            root: root,
            commitTimeout: commitTimeout,
            leaveOnStorageFailure: leaveOnStorageFailure
        )
        defer { for running in nodes { running.task.cancel() } }
        try await warmUp(nodes)
        try await body(nodes, root)
        for running in nodes {
            running.task.cancel()
            _ = try? await running.task.value
        }
    }

    /// Until every shard has a primary: a throwaway signup through each node succeeds (bounded).
    static func warmUp(_ nodes: [Running]) async throws {
        for (index, running) in nodes.enumerated() {
            var attempt = 0
            while true {
                attempt += 1
                do {
                    _ = try await running.accounts.signup(
                        username: "warmup\(index)-\(attempt)",
                        email: "warmup\(index)-\(attempt)@example.com",
                        password: "warm-up password"
                    )
                    break
                } catch {
                    if attempt >= 150 { throw error }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// A write whose caller gave up may still commit: its entity takes no other command — not
    /// even a read — until that is decided. Here it never commits: at the primary's commit
    /// deadline the primary ends its epoch (the next epoch would decide the write), so the entity
    /// is never answered from a state that lacks a write that may yet commit.
    @Test(.timeLimit(.minutes(2)))
    func anEntityWaitsForTheOutcomeOfAWriteItsCallerGaveUpOn() async throws {
        // Followers whose log fails stay members (refusing everything): n1 keeps its shards.
        try await Self.withCluster("plume-fence", commitTimeout: .seconds(8), leaveOnStorageFailure: false) {
            nodes,
            root in
            // A name on a shard n1 serves (waiting, bounded, for shards still electing).
            var led: (String, UInt32)?
            _ = await eventually(every: .milliseconds(100)) {
                led =
                    (0..<300).lazy.map { NameReservationKind.username("fence\($0)") }.compactMap { key in
                        nodes[0].node.designatedShard(forKey: key).flatMap {
                            nodes[0].node.replication.serves(shard: $0) ? (key, $0) : nil
                        }
                    }.first
                return led != nil
            }
            let (key, shard) = try #require(led, "n1 leads none of the names tried")
            try FailingDisk.failWrites(toLogIn: root + "/n2")
            try FailingDisk.failWrites(toLogIn: root + "/n3")
            let entities = nodes[0].entities
            let started = ContinuousClock.now

            // No majority can store the reservation: its caller gets `timeout` after 1 s.
            await #expect(throws: ReplicationError.timeout) {
                try await entities.run(
                    NameReservationKind.self,
                    shard: shard,
                    key: key,
                    .command(.reserve(userID: "u1")),
                    deadline: .now + .seconds(1)
                )
            }
            // Its outcome stays open until n1's 8 s commit deadline (long, so that the reads below
            // end well before it even when this machine is slow): a read behind it is not started
            // before its own deadline, rather than answered from a state that may be about to change.
            // The same for one forwarded from n2, whose answer crosses the wire.
            func failure(_ body: () async throws -> Void) async -> (any Error)? {
                do {
                    try await body()
                    return nil
                } catch {
                    return error
                }
            }
            async let local = failure {
                _ = try await entities.run(
                    NameReservationKind.self,
                    shard: shard,
                    key: key,
                    .read(.owner),
                    deadline: .now + .seconds(1)
                )
            }
            async let forwarded = failure {
                let read = EntityRequest<NameReservationKind>.read(.owner)
                _ = try await nodes[1].node.ask(key: key, command: read.encoded, timeout: .seconds(1))
            }
            let errors = await [local, forwarded]
            #expect(errors[0] as? ReplicationError == .notStarted, "\(errors)")
            // n1 gives up a little before n2's deadline, so its answer normally arrives; if the
            // reply is late, n2 can only say `timeout`. Either way the read was not answered.
            #expect([.notStarted, .timeout].contains(errors[1] as? ReplicationError), "\(errors)")
            // At the commit deadline the outcome is still open (it could commit later through the
            // followers' copies): n1 ends its epoch instead of answering from a state that lacks
            // it. The entity answers again only under a new epoch, which decides the write first
            // (here none can form: the followers store nothing).
            let ended = await eventually(timeout: .seconds(20)) { !nodes[0].node.replication.serves(shard: shard) }
            #expect(ended, "n1 still serves the shard after the write's commit deadline")
            let waited = ContinuousClock.now - started
            #expect(
                waited >= .seconds(7.5),
                "n1 gave the shard up \(waited) after the write, before its commit deadline"
            )
            let afterwards = await failure {
                _ = try await entities.run(
                    NameReservationKind.self,
                    shard: shard,
                    key: key,
                    .read(.owner),
                    deadline: .now + .seconds(2)
                )
            }
            #expect(
                afterwards as? ReplicationError == .notPrimary(leader: nodes[0].node.settings.nodeID),
                "\(String(describing: afterwards))"
            )
        }
    }

    /// Signs up through every node at once for the same username (each with its own email),
    /// and through every node at once for the same email (each with its own username).
    @Test(.timeLimit(.minutes(2)))
    func concurrentSignupsForOneNameThroughDifferentNodesYieldOneAccount() async throws {
        try await Self.withCluster("plume-accounts") { nodes, _ in

            for round in 0..<5 {
                let name = "Racer\(round)"
                let byName = await withTaskGroup(of: Result<String, any Error>.self) { group in
                    for (index, running) in nodes.enumerated() {
                        group.addTask {
                            do {
                                let tokens = try await running.accounts.signup(
                                    username: index.isMultiple(of: 2) ? name : name.lowercased(),
                                    email: "racer\(round)-\(index)@example.com",
                                    password: "password \(index)"
                                )
                                return .success(tokens.user.id ?? "")
                            } catch {
                                return .failure(error)
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                let winners = byName.compactMap { try? $0.get() }
                #expect(winners.count == 1, "round \(round): \(byName)")
                for case .failure(let error) in byName {
                    #expect((error as? AccountService.Failure)?.kind == .usernameTaken, "round \(round): \(error)")
                }
                // The name leads to the winner from every node, and only the winner's password opens it.
                for running in nodes {
                    let winnerLogin = await Self.login(
                        running.accounts,
                        name.uppercased(),
                        nodes.indices.map { "password \($0)" }
                    )
                    #expect(winnerLogin == winners.first, "round \(round)")
                }

                let email = "shared\(round)@example.com"
                let byEmail = await withTaskGroup(of: Bool.self) { group in
                    for (index, running) in nodes.enumerated() {
                        group.addTask {
                            (try? await running.accounts.signup(
                                username: "mail\(round)x\(index)",
                                email: index == 1 ? email.uppercased() : email,
                                password: "password"
                            ))
                                != nil
                        }
                    }
                    return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
                }
                #expect(byEmail == 1, "round \(round)")
            }
        }
    }

    /// The id of the account that `name` logs into with one of `passwords`, if any.
    /// The largest profile the rules allow, updated through each node in turn (the user's
    /// primary is one of them: the others forward the command), is stored whole and read back
    /// whole from every node. Names and ids longer than any account has are refused at once.
    @Test(.timeLimit(.minutes(2)))
    func theLargestProfileIsStoredWholeThroughEveryNode() async throws {
        try await Self.withCluster("plume-profile") { nodes, _ in
            let tokens = try await nodes[0].accounts.signup(
                username: "wide",
                email: "wide@example.com",
                password: "password w"
            )
            for (index, running) in nodes.enumerated() {
                let bio = String(repeating: ["🎮", "🐉", "é"][index], count: 512)
                let change = User.ProfileChange(
                    displayName: String(repeating: "👾", count: 64),
                    bio: bio,
                    avatarURL: .some("https://cdn.example.com/\(index)/" + String(repeating: "a", count: 2000))
                )
                let caller = try await running.accounts.authenticate(accessToken: tokens.accessToken)
                let updated = try await running.accounts.updateProfile(caller, change: change)
                #expect(updated.profile.bio == bio)
                for reader in nodes {
                    let seen = try await reader.accounts.me(
                        try await reader.accounts.authenticate(accessToken: tokens.accessToken)
                    )
                    #expect(
                        seen.profile.bio == bio,
                        "update through n\(index + 1), read through \(reader.node.settings.nodeID)"
                    )
                    #expect(seen.profile.displayName == change.displayName)
                    #expect(seen.profile.avatarURL == change.avatarURL)
                }
            }
            let longName = await #expect(throws: AccountService.Failure.self) {
                try await nodes[1].accounts.login(
                    username: String(repeating: "w", count: 5000),
                    email: nil,
                    password: "password w"
                )
            }
            #expect(longName?.kind == .badCredentials)
            let longID = await #expect(throws: AccountService.Failure.self) {
                try await nodes[2].accounts.user(id: String(repeating: "u", count: 5000))
            }
            #expect(longID?.kind == .notFound)
            let longToken = await #expect(throws: AccountService.Failure.self) {
                try await nodes[1].accounts.refresh(String(repeating: "u", count: 5000) + ".s.t")
            }
            #expect(longToken?.kind == .unauthorized)
        }
    }

    static func login(_ accounts: AccountService, _ name: String, _ passwords: [String]) async -> String? {
        for password in passwords {
            if let tokens = try? await accounts.login(username: name, email: nil, password: password) {
                return tokens.user.id
            }
        }
        return nil
    }
}
