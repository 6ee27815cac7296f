import ArgumentParser
import AsyncHTTPClient
import ClusterCore
import Foundation
import Logging
import NIOCore
import Synchronization
import WSClient

/// `plume bench matchmaking`: matchmaking and lobbies through real nodes' HTTP and WebSocket
/// edges, for the users a setup made (`scripts/bench_matchmaking.py` signs them up and writes
/// the file).
///
/// - `--mode match` (default): every user holds a socket; in rounds, every user queues a ticket
///   (`POST /v1/matchmaking/tickets`, pairs of two) at once, over `--connections` keep-alive
///   connections per node. Prints tickets matched per second (`match_found` pushes received
///   over the time), the latency from the enqueue that completed each match to each player's
///   `match_found` (hdrhistogram p50/p99/max), the enqueue answers' latency, and the nodes' CPU
///   per matched ticket.
/// - `--mode lobbies`: the users' lobbies (made by the setup) are joined and left in turn by the
///   others (`POST …/join`, `POST …/leave`) for `--seconds`; then `--searches` searches. Prints
///   joins and leaves per second and the search latency.
struct MatchmakingBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matchmaking",
        abstract: "Matchmaking (or lobby joins and searches) through running nodes (users from --users-file)."
    )

    @Option(
        name: .customLong("users-file"),
        help: "JSON: {\"users\":[{\"id\",\"token\",\"http\",\"ws\"}],\"lobbies\":[ids]}."
    )
    var usersFile: String

    @Option(help: "match or lobbies.")
    var mode = "match"

    @Option(help: "The queue the tickets go to.")
    var queue = "bench"

    @Option(help: "Rounds of every user queueing a ticket (match), or seconds of joins and leaves (lobbies).")
    var rounds = 20

    @Option(help: "Stop after this many seconds.")
    var seconds = 120

    @Option(help: "Keep-alive HTTP connections per node.")
    var connections = 32

    @Option(help: "Searches to time (lobbies).")
    var searches = 2000

    @Option(parsing: .upToNextOption, help: "The nodes' process ids, for their CPU time per ticket.")
    var pids: [Int32] = []

    @Option(help: "The run's name in the report.")
    var label = "plume"

    /// This run's part of each Idempotency-Key (a retry within a run is the same ticket).
    let run = UUID().uuidString

    enum CodingKeys: CodingKey { case usersFile, mode, queue, rounds, seconds, connections, searches, pids, label }

    struct UsersFile: Decodable, Sendable {
        struct User: Decodable, Sendable {
            let id: String
            let token: String
            let http: String
            /// The socket's URL, with `?token=`.
            let ws: String
        }
        let users: [User]
        let lobbies: [String]?
    }

    /// What the sockets share with the driver: when each user's ticket of this round was sent.
    final class Round: Sendable {
        let sent = Mutex<[String: ContinuousClock.Instant]>([:])
        let found = Atomic<Int>(0)
        let ready = Atomic<Int>(0)
        let latencies = Mutex(
            LatencyHistogram(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        )
    }

    func run() async throws {
        let file = try JSONDecoder().decode(UsersFile.self, from: Data(contentsOf: URL(fileURLWithPath: usersFile)))
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connections
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            switch mode {
            case "lobbies": try await lobbies(file, client: client)
            default: try await match(file, client: client)
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    // MARK: - Matching

    func match(_ file: UsersFile, client: HTTPClient) async throws {
        let users = file.users
        let round = Round()
        let logger = {
            var logger = Logger(label: "bench")
            logger.logLevel = .warning
            return logger
        }()
        let (stop, stopper) = AsyncStream.makeStream(of: Void.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for user in users {
                group.addTask { try await Self.listen(user, round: round, stop: stop, logger: logger) }
            }
            let openDeadline = ContinuousClock.now + .seconds(120)
            while round.ready.load(ordering: .relaxed) < users.count, ContinuousClock.now < openDeadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            print("  \(round.ready.load(ordering: .relaxed)) sockets open")
            var enqueueLatency = LatencyHistogram(
                highestTrackableValue: 60_000_000_000,
                numberOfSignificantValueDigits: .three
            )
            var refused = 0
            let cpuBefore = PresenceBench.cpuSeconds(pids)
            let started = ContinuousClock.now
            let deadline = started + .seconds(seconds)
            var expected = 0
            for number in 0..<rounds where ContinuousClock.now < deadline {
                // Pairs of two: an even number of users queue each round.
                let batch = Array(users.prefix(users.count - users.count % 2))
                expected += batch.count
                let answers = try await withThrowingTaskGroup(of: (Duration, Bool).self) { senders in
                    for user in batch {
                        senders.addTask {
                            let sent = ContinuousClock.now
                            round.sent.withLock { $0[user.id] = sent }
                            let ok = await self.enqueue(user, round: number, client: client)
                            return (ContinuousClock.now - sent, ok)
                        }
                    }
                    var answers: [(Duration, Bool)] = []
                    for try await answer in senders { answers.append(answer) }
                    return answers
                }
                for (latency, ok) in answers {
                    enqueueLatency.record(UInt64(latency.nanosecondsClamped))
                    if !ok { refused += 1 }
                }
                let roundDeadline = ContinuousClock.now + .seconds(10)
                while round.found.load(ordering: .relaxed) < expected - refused, ContinuousClock.now < roundDeadline {
                    try await Task.sleep(for: .milliseconds(1))
                }
                if (number + 1) % 10 == 0 {
                    print(
                        "  \(number + 1) rounds, \(round.found.load(ordering: .relaxed)) tickets matched, "
                            + String(format: "%.1f s", (ContinuousClock.now - started).seconds)
                    )
                }
            }
            let elapsed = (ContinuousClock.now - started).seconds
            let cpu = PresenceBench.cpuSeconds(pids) - cpuBefore
            stopper.finish()
            group.cancelAll()
            let found = round.found.load(ordering: .relaxed)
            let histogram = round.latencies.withLock { $0 }
            print(
                "\(label): \(found)/\(expected) tickets matched in "
                    + String(format: "%.2f s: %.0f tickets matched/s; ", elapsed, Double(found) / elapsed)
                    + String(
                        format: "enqueue→match_found p50 %.1f ms, p99 %.1f ms, max %.1f ms; ",
                        Double(histogram.valueAtPercentile(50)) / 1e6,
                        Double(histogram.valueAtPercentile(99)) / 1e6,
                        Double(histogram.max) / 1e6
                    )
                    + String(
                        format: "enqueue answer p50 %.1f ms, p99 %.1f ms",
                        Double(enqueueLatency.valueAtPercentile(50)) / 1e6,
                        Double(enqueueLatency.valueAtPercentile(99)) / 1e6
                    )
                    + (refused > 0 ? "; \(refused) enqueues refused" : "")
                    + (pids.isEmpty
                        ? ""
                        : String(format: "; nodes' CPU %.1f µs per matched ticket", cpu * 1e6 / Double(max(found, 1))))
            )
        }
    }

    /// Queues one ticket for `user`; whether it was accepted.
    func enqueue(_ user: UsersFile.User, round: Int, client: HTTPClient) async -> Bool {
        var request = HTTPClientRequest(url: "http://\(user.http)/v1/matchmaking/tickets")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(user.token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: "\(run)-\(round)")
        request.body = .bytes(ByteBuffer(string: #"{"queue":"\#(queue)","count_min":2,"count_max":2,"skill":1000}"#))
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            return response.status == .created
        } catch {
            return false
        }
    }

    /// One user's socket: times each `match_found` from the later of its players' enqueues.
    static func listen(_ user: UsersFile.User, round: Round, stop: AsyncStream<Void>, logger: Logger) async throws {
        struct Found: Decodable {
            struct Data: Decodable { let players: [String] }
            let data: Data
        }
        try await WebSocketClient.connect(
            url: user.ws,
            configuration: .init(maxFrameSize: 1 << 20),
            logger: logger
        ) { inbound, outbound, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in stop {}
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
                    guard text.hasPrefix(#"{"push":"match_found""#),
                        let found = try? JSONDecoder().decode(Found.self, from: Data(text.utf8))
                    else { continue }
                    let arrived = ContinuousClock.now
                    let completed = round.sent.withLock { sent in found.data.players.compactMap { sent[$0] }.max() }
                    if let completed {
                        round.latencies.withLock { $0.record(UInt64((arrived - completed).nanosecondsClamped)) }
                    }
                    round.found.add(1, ordering: .relaxed)
                }
                group.cancelAll()
            }
        }
    }

    // MARK: - Lobbies

    final class Counts: Sendable {
        let joins = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
    }

    func lobbies(_ file: UsersFile, client: HTTPClient) async throws {
        let lobbies = file.lobbies ?? []
        let users = file.users
        guard !lobbies.isEmpty, users.count > 1 else {
            print("lobbies: the users file lists no lobbies")
            return
        }
        let counts = Counts()
        let cpuBefore = PresenceBench.cpuSeconds(pids)
        let started = ContinuousClock.now
        let deadline = started + .seconds(rounds)
        // Each user joins a lobby and leaves it, again and again, each time another.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, user) in users.enumerated() {
                group.addTask {
                    var n = index
                    while ContinuousClock.now < deadline {
                        let lobby = lobbies[n % lobbies.count]
                        n += users.count
                        let joined = await Self.post(client, user, "/v1/lobbies/\(lobby)/join", body: nil)
                        let left = await Self.post(client, user, "/v1/lobbies/\(lobby)/leave", body: nil)
                        if joined == 200 && left == 204 {
                            counts.joins.add(2, ordering: .relaxed)
                        } else {
                            counts.failures.add(1, ordering: .relaxed)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = (ContinuousClock.now - started).seconds
        let cpu = PresenceBench.cpuSeconds(pids) - cpuBefore
        let done = counts.joins.load(ordering: .relaxed)
        print(
            "\(label): \(done) joins and leaves in "
                + String(format: "%.1f s: %.0f/s", elapsed, Double(done) / elapsed)
                + (counts.failures.load(ordering: .relaxed) > 0
                    ? ", \(counts.failures.load(ordering: .relaxed)) pairs failed" : "")
                + (pids.isEmpty ? "" : String(format: "; nodes' CPU %.1f µs each", cpu * 1e6 / Double(max(done, 1))))
        )

        var histogram = LatencyHistogram(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var totals: Set<Int> = []
        let searchStarted = ContinuousClock.now
        for n in 0..<searches where ContinuousClock.now < searchStarted + .seconds(seconds) {
            let user = users[n % users.count]
            let level = n % 100
            let body =
                #"{"filters":[{"key":"mode","op":"eq","value":"ctf"}],"near":{"key":"level","value":\#(level)},"limit":20}"#
            let sent = ContinuousClock.now
            let (status, total) = await Self.search(client, user, body: body)
            histogram.record(UInt64((ContinuousClock.now - sent).nanosecondsClamped))
            if status == 200 { totals.insert(total) } else { counts.failures.add(1, ordering: .relaxed) }
        }
        print(
            "\(label): \(histogram.totalCount) searches of \(totals.max() ?? 0) listed lobbies: "
                + String(
                    format: "p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                    Double(histogram.valueAtPercentile(50)) / 1e6,
                    Double(histogram.valueAtPercentile(99)) / 1e6,
                    Double(histogram.max) / 1e6
                )
        )
    }

    static func post(_ client: HTTPClient, _ user: UsersFile.User, _ path: String, body: String?) async -> Int {
        var request = HTTPClientRequest(url: "http://\(user.http)\(path)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(user.token)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            return Int(response.status.code)
        } catch {
            return 0
        }
    }

    static func search(_ client: HTTPClient, _ user: UsersFile.User, body: String) async -> (Int, Int) {
        struct Answer: Decodable { let total: Int }
        var request = HTTPClientRequest(url: "http://\(user.http)/v1/lobbies/search")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(user.token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 16 << 20)
            let total = (try? JSONDecoder().decode(Answer.self, from: Data(buffer: bytes)))?.total ?? 0
            return (Int(response.status.code), total)
        } catch {
            return (0, 0)
        }
    }
}
