import ArgumentParser
import ClusterCore
import ClusterRuntime
import ClusterTestKit
import EntityRuntime
import Foundation
import GameDomain
import Logging
import NIOCore
import NIOPosix
import PlatformServices
import ServiceLifecycle

/// `plume bench writes`: durable, acknowledged profile updates per second through the account
/// service, on in-process nodes (one standalone, or three with replication 3 over loopback).
struct WritesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "writes",
        abstract: "Acknowledged profile updates per second (durable on a majority before each reply)."
    )

    @Option(help: "1 (standalone, replication 1) or 3 (replication 3 over loopback).")
    var nodes = 1

    @Option(parsing: .upToNextOption, help: "Concurrent clients, one run per value.")
    var clients: [Int] = [16, 64, 256]

    @Option(help: "Seconds per run.")
    var seconds = 10

    @Option(
        help:
            "spread: each client talks to one node in turn, as behind a load balancer (2 of 3 requests are forwarded); primary: each client talks to the node leading its user's shard, as a cluster-aware client would."
    )
    var route: Route = .spread

    enum Route: String, ExpressibleByArgument { case spread, primary }

    func validate() throws {
        guard nodes == 1 || nodes == 3 else { throw ValidationError("--nodes is 1 or 3") }
        guard clients.allSatisfy({ (1...4096).contains($0) }), (1...600).contains(seconds) else {
            throw ValidationError("--clients 1...4096, --seconds 1...600")
        }
    }

    func run() async throws {
        var logger = Logger(label: "plume.bench")
        logger.logLevel = .error
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("plume-bench-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: root) }
        var configuration = nodes == 1 ? ClusterConfiguration.standalone : ClusterConfiguration()
        configuration.name = "bench"
        configuration.dataDirectory = root
        // Below the ephemeral range: a port probed with bind(0) can be taken by an outgoing
        // connection before the node binds it (the node would then never join).
        configuration.nodes = LoopbackPorts.nodes(nodes, ids: nodes == 1 ? ["standalone"] : nil)
        var running: [(node: ClusterNode<EntityStore>, group: ServiceGroup, task: Task<Void, any Error>)] = []
        var handlers: [EntityService] = []
        for entry in configuration.nodes {
            let platform = try PlatformNode(settings: NodeSettings(listed: entry, of: configuration), logger: logger)
            let (node, entities) = (platform.node, platform.entities)
            handlers.append(entities)
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [node], logger: logger))
            running.append((node, group, Task { try await group.run() }))
        }
        // Clients talk to all nodes in turn, as a load balancer would spread them.
        var services: [AccountService] = []
        for ((node, _, _), entities) in zip(running, handlers) {
            services.append(
                await AccountService(
                    tokenSecret: "bench",
                    hasher: PasswordHasher(rounds: 1 << 10),
                    entities: Entities(NodeEntityTransport(node: node, local: entities))
                )
            )
        }
        print(
            "plume bench writes: \(nodes) node(s), replication \(configuration.replication > nodes ? nodes : configuration.replication), \(seconds) s per run, each write fsynced on a majority before its reply\(nodes == 1 ? "" : route == .spread ? ", clients spread over the nodes" : ", each client at its shard's primary")"
        )
        var userCounter = 0
        for clientCount in clients {
            var tokens: [(AccountService, String)] = []
            for index in 0..<clientCount {
                userCounter += 1
                let service = services[index % services.count]
                var attempt = 0
                let issued = try await Self.retrying {
                    // A fresh name per attempt: a signup that failed during the first elections
                    // may still have reserved the name it tried.
                    attempt += 1
                    let name = "bench\(userCounter)-\(attempt)"
                    return try await service.signup(
                        username: name,
                        email: "\(name)@example.com",
                        password: "bench-password"
                    )
                }
                if route == .primary, let id = issued.user.id,
                    let leader = running.firstIndex(where: { $0.node.designatedShard(forKey: UserKind.key(id)) != nil })
                {
                    tokens.append((services[leader], issued.accessToken))
                } else {
                    tokens.append((service, issued.accessToken))
                }
            }
            let cpuBefore = Self.processCPUSeconds()
            let deadline = ContinuousClock.now + .seconds(seconds)
            let results = await withTaskGroup(of: (Int, Int, LatencyHistogram).self) { group in
                for (service, token) in tokens {
                    group.addTask {
                        var histogram = LatencyHistogram(
                            highestTrackableValue: 60_000_000_000,
                            numberOfSignificantValueDigits: .three
                        )
                        var done = 0
                        var failed = 0
                        while ContinuousClock.now < deadline {
                            let start = ContinuousClock.now
                            do {
                                _ = try await service.updateProfile(
                                    try await service.authenticate(accessToken: token),
                                    change: .init(bio: "bio \(done)")
                                )
                                done += 1
                                histogram.record(UInt64((ContinuousClock.now - start).nanosecondsClamped))
                            } catch {
                                failed += 1
                            }
                        }
                        return (done, failed, histogram)
                    }
                }
                var total = (
                    0, 0,
                    LatencyHistogram(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
                )
                for await (done, failed, histogram) in group {
                    total.0 += done
                    total.1 += failed
                    total.2.add(histogram)
                }
                return total
            }
            let cpu = Self.processCPUSeconds() - cpuBefore
            print(
                String(
                    format:
                        "clients %4d  %8d writes  %9.0f writes/s  p50 %7.2f ms  p99 %7.2f ms  errors %d  cpu %5.0f µs/write",
                    clientCount,
                    results.0,
                    Double(results.0) / Double(seconds),
                    Double(results.2.valueAtPercentile(50)) / 1e6,
                    Double(results.2.valueAtPercentile(99)) / 1e6,
                    results.1,
                    cpu * 1e6 / Double(max(1, results.0))
                )
            )
        }
        for (_, group, task) in running {
            await group.triggerGracefulShutdown()
            _ = try? await task.value
        }
    }

    /// User plus system CPU time of this process (all nodes and the clients), in seconds.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Retries while shards elect their first primaries (bounded: 100 attempts).
    static func retrying<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch {
                attempt += 1
                if attempt >= 100 { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
