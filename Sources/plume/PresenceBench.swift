import ArgumentParser
import ClusterCore
import Foundation
import Logging
import NIOCore
import Synchronization
import WSClient

/// `plume bench presence`: presence fan-out through real nodes' WebSocket edge. Reads the users
/// a setup made (`scripts/bench_presence.py` signs them up, makes them friends and writes the
/// file), opens one socket per user, then in rounds every user sets a new status at once and
/// every friend's socket must get the push. Prints deliveries per second, the latency from each
/// `presence.set` sent to each friend's push (hdrhistogram p50/p99/max), and the nodes' CPU per
/// delivery. Bounded by `--rounds` and `--seconds`.
struct PresenceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence",
        abstract: "Presence fan-out over WebSockets through running nodes (users from --users-file)."
    )

    @Option(name: .customLong("users-file"), help: "JSON: {\"users\":[{\"id\",\"url\",\"friends\":[ids]}]}.")
    var usersFile: String

    @Option(help: "Rounds of every user setting a status.")
    var rounds = 20

    @Option(help: "Stop after this many seconds of rounds.")
    var seconds = 120

    @Option(parsing: .upToNextOption, help: "The nodes' process ids, for their CPU time per delivery.")
    var pids: [Int32] = []

    @Option(help: "The run's name in the report.")
    var label = "plume"

    struct UsersFile: Decodable, Sendable {
        struct User: Decodable, Sendable {
            let id: String
            let url: String
            let friends: [String]
        }
        let users: [User]
    }

    static let statuses = ["away", "busy", "snooze", "looking_to_play", "looking_to_trade", "online"]

    /// What the readers share with the driver: the current round's status and when each user sent it.
    final class Round: Sendable {
        struct State {
            var status = ""
            var sent: [ContinuousClock.Instant] = []
        }
        let state = Mutex(State())
        let delivered = Atomic<Int>(0)
        let ready = Atomic<Int>(0)
        /// Every socket's latencies, merged as each one closes.
        let latencies = Mutex(
            LatencyHistogram(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        )
    }

    func run() async throws {
        let file = try JSONDecoder().decode(UsersFile.self, from: Data(contentsOf: URL(fileURLWithPath: usersFile)))
        let users = file.users
        let index = Dictionary(uniqueKeysWithValues: users.enumerated().map { ($0.element.id, $0.offset) })
        let expectedPerRound = users.reduce(0) { $0 + $1.friends.count }
        let round = Round()
        round.state.withLock { $0.sent = Array(repeating: .now, count: users.count) }
        let (commands, senders) = Self.streams(count: users.count)
        let logger = {
            var logger = Logger(label: "bench")
            logger.logLevel = .warning
            return logger
        }()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, user) in users.enumerated() {
                let commands = commands[i]
                group.addTask {
                    try await Self.connect(
                        user.url,
                        me: i,
                        index: index,
                        round: round,
                        commands: commands,
                        logger: logger
                    )
                }
            }
            let openDeadline = ContinuousClock.now + .seconds(120)
            while round.ready.load(ordering: .relaxed) < users.count, ContinuousClock.now < openDeadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            print("  \(round.ready.load(ordering: .relaxed)) sockets open")
            try await Task.sleep(for: .seconds(2))  // the online pushes settle
            round.delivered.store(0, ordering: .relaxed)
            let cpuBefore = Self.cpuSeconds(pids)
            let started = ContinuousClock.now
            let deadline = started + .seconds(seconds)
            var expected = 0
            var done = 0
            for number in 0..<rounds where ContinuousClock.now < deadline {
                let status = Self.statuses[number % Self.statuses.count]
                round.state.withLock { $0.status = status }
                let frame = #"{"op":"presence.set","id":\#(number),"data":{"status":"\#(status)"}}"#
                for (i, sender) in senders.enumerated() {
                    round.state.withLock { $0.sent[i] = .now }
                    sender.yield(frame)
                }
                expected += expectedPerRound
                let roundDeadline = ContinuousClock.now + .seconds(10)
                while round.delivered.load(ordering: .relaxed) < expected, ContinuousClock.now < roundDeadline {
                    try await Task.sleep(for: .milliseconds(1))
                }
                done += 1
                if done % 50 == 0 {
                    let elapsed = (ContinuousClock.now - started).seconds
                    print(
                        "  \(done) rounds, \(round.delivered.load(ordering: .relaxed)) deliveries, "
                            + String(format: "%.1f s", elapsed)
                    )
                }
            }
            let elapsed = (ContinuousClock.now - started).seconds
            let cpu = Self.cpuSeconds(pids) - cpuBefore
            for sender in senders { sender.finish() }
            try await group.waitForAll()
            let delivered = round.delivered.load(ordering: .relaxed)
            let histogram = round.latencies.withLock { $0 }
            print(
                "\(label): \(delivered)/\(expected) friend pushes in "
                    + String(format: "%.2f s: %.0f deliveries/s; ", elapsed, Double(delivered) / elapsed)
                    + String(
                        format: "latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                        Double(histogram.valueAtPercentile(50)) / 1e6,
                        Double(histogram.valueAtPercentile(99)) / 1e6,
                        Double(histogram.max) / 1e6
                    )
                    + (pids.isEmpty
                        ? ""
                        : String(format: "; nodes' CPU %.1f µs per delivery", cpu * 1e6 / Double(max(delivered, 1))))
            )
        }
    }

    static func streams(count: Int) -> ([AsyncStream<String>], [AsyncStream<String>.Continuation]) {
        var streams: [AsyncStream<String>] = []
        var continuations: [AsyncStream<String>.Continuation] = []
        for _ in 0..<count {
            let (stream, continuation) = AsyncStream.makeStream(of: String.self)
            streams.append(stream)
            continuations.append(continuation)
        }
        return (streams, continuations)
    }

    /// One user's socket: sends what the driver hands it, and times each friend's presence push
    /// of the current round.
    static func connect(
        _ url: String,
        me: Int,
        index: [String: Int],
        round: Round,
        commands: AsyncStream<String>,
        logger: Logger
    ) async throws {
        try await WebSocketClient.connect(
            url: url,
            configuration: .init(maxFrameSize: 1 << 20),
            logger: logger
        ) { inbound, outbound, _ in
            var histogram = LatencyHistogram(
                highestTrackableValue: 60_000_000_000,
                numberOfSignificantValueDigits: .three
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await command in commands { try await outbound.write(.text(command)) }
                    try await outbound.close(.normalClosure, reason: nil)
                }
                var welcomed = false
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    if !welcomed {
                        welcomed = true
                        round.ready.add(1, ordering: .relaxed)
                        continue
                    }
                    guard text.hasPrefix(#"{"push":"presence""#),
                        let user = field("user_id", in: text), let status = field("status", in: text),
                        let source = index[user], source != me
                    else { continue }
                    let sent = round.state.withLock { $0.status == status ? $0.sent[source] : nil }
                    guard let sent else { continue }
                    histogram.record(UInt64((ContinuousClock.now - sent).nanosecondsClamped))
                    round.delivered.add(1, ordering: .relaxed)
                }
                try await group.waitForAll()
            }
            round.latencies.withLock { $0.add(histogram) }
        }
    }

    /// The string value of `"name":"…"` in a JSON text (the edge writes no spaces, and these values
    /// need no escapes).
    static func field(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: "\"\(name)\":\"") else { return nil }
        guard let end = text[start.upperBound...].firstIndex(of: "\"") else { return nil }
        return String(text[start.upperBound..<end])
    }

    /// User + system CPU seconds of these processes so far (Linux `/proc/<pid>/stat`).
    static func cpuSeconds(_ pids: [Int32]) -> Double {
        var ticks = 0
        for pid in pids {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 12 { ticks += (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0) }
        }
        return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
