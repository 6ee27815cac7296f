import ArgumentParser
import ClusterCore
import ClusterRuntime
import ClusterTestKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import WireProtocol

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures.",
        subcommands: [
            WireBench.self, GossipBench.self, WritesBench.self, RecoveryBench.self, PresenceBench.self,
            MatchmakingBench.self,
        ]
    )
}

/// `plume bench wire`: request/response throughput and latency between two nodes over one connection.
struct WireBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire",
        abstract: "Echo requests between two in-process nodes over one loopback connection."
    )

    @Option(help: "Requests per run.")
    var messages = 200_000

    @Option(help: "Requests in flight in the pipelined run.")
    var window = 256

    @Option(help: "Payload bytes per request.")
    var payload = 32

    @Option(help: "Requests in the unpipelined run (one in flight at a time).")
    var sequentialMessages = 20_000

    @Flag(help: "Mutual TLS 1.3 on the connection, as with [tls] in cluster.conf (certificates made for the run).")
    var tls = false

    func validate() throws {
        guard (1...10_000_000).contains(messages), (1...100_000).contains(window), (0...1_048_576).contains(payload),
            (1...10_000_000).contains(sequentialMessages)
        else { throw ValidationError("messages, window, payload or sequential-messages out of range") }
    }

    func run() async throws {
        let logger = Logger(label: "plume.bench")
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let authority = try ClusterCertificates.authority(cluster: "bench", days: 1)
        func transport(_ id: String, _ group: MultiThreadedEventLoopGroup) throws -> ClusterTransport {
            var settings = TransportSettings()
            if tls {
                let issued = try ClusterCertificates.issue(node: id, authority: authority, days: 1)
                settings.tls = try ClusterTLS(
                    caPEM: Array(authority.certificatePEM.utf8),
                    certificatePEM: Array(issued.certificatePEM.utf8),
                    keyPEM: Array(issued.keyPEM.utf8)
                )
            }
            return ClusterTransport(
                credentials: .init(
                    clusterName: "bench",
                    nodeID: NodeID(id)!,
                    clusterAddress: NodeAddress(host: "127.0.0.1", port: 1),
                    secret: "bench-secret"
                ),
                settings: settings,
                group: group,
                logger: logger,
                onMessage: { _ in }
            )
        }
        let server = try transport("server", serverGroup)
        let client = try transport("client", clientGroup)
        let address = try await server.start(host: "127.0.0.1", port: 0)
        var body = ByteBuffer()
        body.writeRepeatingByte(0x42, count: payload)
        _ = try await client.request(.echo(body), to: address)  // connect and authenticate
        guard let loop = client.eventLoop(of: address) else { throw ValidationError("no connection") }

        print(
            "plume bench wire: 2 nodes in one process, one TCP connection on loopback, \(payload)-byte payloads"
                + (tls ? ", mutual TLS 1.3" : ", no TLS")
        )
        for (label, count, window) in [("pipelined", messages, window), ("unpipelined", sequentialMessages, 1)] {
            let driver = EchoDriver(
                transport: client,
                address: address,
                loop: loop,
                body: body,
                total: count,
                window: window
            )
            let result = try await driver.run()
            let seconds = Double(result.elapsedNanoseconds) / 1e9
            print(
                String(
                    format:
                        "%-12@ window %5d  %9d msgs in %6.2f s  %10.0f msgs/s  p50 %8.1f µs  p99 %8.1f µs  p99.9 %8.1f µs  errors %d",
                    label as NSString,
                    window,
                    result.completed,
                    seconds,
                    Double(result.completed) / seconds,
                    Double(result.histogram.valueAtPercentile(50)) / 1000,
                    Double(result.histogram.valueAtPercentile(99)) / 1000,
                    Double(result.histogram.valueAtPercentile(99.9)) / 1000,
                    result.errors
                )
            )
        }
        await client.shutdown()
        await server.shutdown()
        try await clientGroup.shutdownGracefully()
        try await serverGroup.shutdownGracefully()
    }
}

/// Keeps `window` echo requests in flight on the client's event loop until `total` have completed.
///
/// `@unchecked Sendable`: every mutable field is touched only on `loop`, the event loop of the
/// connection, where the requests are issued and their futures complete.
final class EchoDriver: @unchecked Sendable {
    struct Result: Sendable {
        var completed = 0
        var errors = 0
        var elapsedNanoseconds: UInt64 = 0
        var histogram = LatencyHistogram(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    }

    let transport: ClusterTransport
    let address: NodeAddress
    let loop: any EventLoop
    let body: ByteBuffer
    let total: Int
    let window: Int
    private var issued = 0
    private var result = Result()
    private var startedAt = NIODeadline.now()
    private let done: EventLoopPromise<Result>

    init(
        transport: ClusterTransport,
        address: NodeAddress,
        loop: any EventLoop,
        body: ByteBuffer,
        total: Int,
        window: Int
    ) {
        self.transport = transport
        self.address = address
        self.loop = loop
        self.body = body
        self.total = total
        self.window = window
        self.done = loop.makePromise()
    }

    func run() async throws -> Result {
        loop.execute {
            self.startedAt = .now()
            for _ in 0..<min(self.window, self.total) { self.issue() }
        }
        return try await done.futureResult.get()
    }

    private func issue() {
        issued += 1
        let sentAt = NIODeadline.now()
        transport.requestFuture(.echo(body), to: address, on: loop, timeout: .seconds(30)).whenComplete { outcome in
            let now = NIODeadline.now()
            if case .failure = outcome { self.result.errors += 1 }
            self.result.completed += 1
            self.result.histogram.record(UInt64(max(0, (now - sentAt).nanoseconds)))
            if self.issued < self.total {
                self.issue()
            } else if self.result.completed == self.total {
                self.result.elapsedNanoseconds = UInt64((now - self.startedAt).nanoseconds)
                self.done.succeed(self.result)
            }
        }
    }
}

/// `plume bench gossip`: dissemination and detection in the seeded simulation, for large clusters.
struct GossipBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gossip",
        abstract: "Membership figures from the seeded simulation (no sockets)."
    )

    @Option(parsing: .upToNextOption, help: "Cluster sizes to simulate.")
    var nodes: [Int] = [50, 200, 1000]

    @Option(help: "Simulation seed.")
    var seed: UInt64 = 1

    func run() async throws {
        let settings = SWIM.Settings.default
        print(
            "plume bench gossip: seed \(seed), probe interval \(settings.probeInterval), default [membership] settings"
        )
        for count in nodes {
            let simulation = MembershipSimulation(seed: seed)
            simulation.addNodes(count)
            let clock = ContinuousClock.now
            guard
                let converged = simulation.run(
                    until: { $0.hasConverged },
                    step: .milliseconds(100),
                    limit: .seconds(600)
                )
            else {
                print("\(count) nodes: did not converge in 600 simulated seconds")
                continue
            }
            simulation.run(for: .seconds(120))  // let the join storm's gossip drain
            let joiner = simulation.addNodes(1)[0]
            let joinStart = simulation.now
            let reached = simulation.run(
                until: { $0.everyoneSees(joiner, as: .alive) },
                step: .milliseconds(10),
                limit: .seconds(120)
            )
            let victim = count / 2
            simulation.crash(victim)
            let crashAt = simulation.now
            let detected = simulation.run(
                until: { $0.everyoneSees(victim, as: .dead) },
                step: .milliseconds(10),
                limit: .seconds(120)
            )
            let period = settings.probeInterval
            func periods(_ from: MonotonicTime, _ to: MonotonicTime?) -> String {
                to.map {
                    String(format: "%.1f periods (%.2f s)", ($0 - from) / period, ($0 - from).milliseconds / 1000)
                } ?? "not within 120 s"
            }
            print(
                "\(count) nodes: converged from cold start in \(String(format: "%.1f", converged.nanoseconds.asSeconds)) s; "
                    + "a join reached everyone in \(periods(joinStart, reached)); "
                    + "a crash was declared dead by everyone in \(periods(crashAt, detected)); "
                    + "\(simulation.messagesSent) messages; wall \(ContinuousClock.now - clock)"
            )
        }
    }
}

extension Int64 {
    var asSeconds: Double { Double(self) / 1e9 }
}
