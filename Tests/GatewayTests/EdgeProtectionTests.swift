import ClusterCore
import ClusterRuntime
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Synchronization
import Testing

/// Request ids on every response, and idle connections closed by the listener.
@Suite struct EdgeProtectionTests {
    @Test func everyResponseCarriesARequestIdErrorsIncluded() async throws {
        try await GatewayTests.app(joined: true).test(.router) { client in
            var ids: Set<String> = []
            for uri in ["/health", "/ready", "/no/such/route"] {
                try await client.execute(uri: uri, method: .get) { response in
                    let id = try #require(response.headers[HTTPField.Name("X-Request-Id")!], "\(uri)")
                    #expect(!id.isEmpty)
                    ids.insert(id)
                    if uri == "/no/such/route" {
                        #expect(response.status == .notFound)
                        #expect(String(buffer: response.body).contains(#""code":"not_found""#))
                    }
                }
            }
            #expect(ids.count == 3, "each request has its own id")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func anIdleConnectionIsClosedAfterTheIdleTimeout() async throws {
        var limits = GatewayApplication.ConnectionLimits()
        // Long enough that the test client's own first request is not cut off on a loaded
        // machine (at 500 ms it was, once, during the full suite).
        limits.idleTimeout = .seconds(2)
        let app = Self.listener(limits, bound: PortBox())
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // A served request first: the connection works …
            try await client.execute(uri: "/health", method: .get) { response in #expect(response.status == .ok) }
            // … then a raw connection that sends nothing is closed by the server (bounded wait).
            let socket = try RawSocket(port: port)
            let closedAfter = socket.secondsUntilClosed(waitingAtMost: 10)
            #expect(closedAfter != nil, "the idle connection was not closed within 10 s")
            if let closedAfter { #expect(closedAfter >= 1.5, "closed after \(closedAfter) s, before the idle timeout") }
        }
    }
}

extension EdgeProtectionTests {
    /// A real HTTP listener on a free loopback port (reported to `bound`) with `limits`.
    static func listener(_ limits: GatewayApplication.ConnectionLimits, bound: PortBox) -> some ApplicationProtocol {
        let view = GatewayTests.view(joined: true)
        var logger = Logger(label: "test.edge")
        logger.logLevel = .warning
        return GatewayApplication.make(
            address: NodeAddress(host: "127.0.0.1", port: 0),
            view: { view },
            registry: PrometheusCollectorRegistry(),
            accounts: nil,
            connectionLimits: limits,
            logger: logger,
            onBound: { bound.set($0) }
        )
    }
}

final class PortBox: Sendable {
    private let port = Mutex<Int?>(nil)
    func set(_ value: Int) { port.withLock { $0 = value } }
    var value: Int? { port.withLock { $0 } }
}

/// A loopback TCP connection that sends nothing, to watch the server close it.
struct RawSocket {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// What the peer sent within `seconds` (read until a pause of 100 ms after the first
    /// bytes), or nil if nothing came.
    func response(waitingAtMost seconds: Double) -> String? {
        let started = Date()
        var received: [UInt8] = []
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while Date().timeIntervalSince(started) < seconds {
            guard poll(&poller, 1, 100) > 0 else {
                if !received.isEmpty { break }
                continue
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[0..<count]
        }
        return received.isEmpty ? nil : String(decoding: received, as: UTF8.self)
    }

    func close() { _ = Glibc.close(descriptor) }

    /// Seconds until the peer closes the connection (a read returns 0), or nil after `seconds`.
    func secondsUntilClosed(waitingAtMost seconds: Double) -> Double? {
        defer { close() }
        let started = Date()
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while Date().timeIntervalSince(started) < seconds {
            if poll(&poller, 1, 100) > 0 {
                var byte: UInt8 = 0
                if recv(descriptor, &byte, 1, 0) <= 0 { return Date().timeIntervalSince(started) }
            }
        }
        return nil
    }
}

/// CORS answers only the configured origins.
@Suite struct CORSTests {
    static func app(origins: [String]) -> some ApplicationProtocol {
        let view = GatewayTests.view(joined: true)
        return Application(router: GatewayApplication.router(view: { view }, registry: .init(), corsOrigins: origins))
    }

    @Test func aConfiguredOriginIsAnsweredWithCORSHeadersOthersAreNot() async throws {
        try await Self.app(origins: ["https://game.example"]).test(.router) { client in
            try await client.execute(uri: "/health", method: .get, headers: [.origin: "https://game.example"]) {
                response in
                #expect(response.headers[.accessControlAllowOrigin] == "https://game.example")
                #expect(response.headers[.accessControlExposeHeaders]?.contains("X-Request-Id") == true)
            }
            // A preflight from the page, for a PATCH with a bearer token.
            try await client.execute(
                uri: "/v1/users/me",
                method: .options,
                headers: [.origin: "https://game.example", .accessControlRequestMethod: "PATCH"]
            ) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == "https://game.example")
                #expect(response.headers[.accessControlAllowMethods]?.contains("PATCH") == true)
                #expect(response.headers[.accessControlAllowHeaders]?.lowercased().contains("authorization") == true)
            }
            // Errors carry the header too, so the page can read them.
            try await client.execute(uri: "/nowhere", method: .get, headers: [.origin: "https://game.example"]) {
                response in
                #expect(response.status == .notFound)
                #expect(response.headers[.accessControlAllowOrigin] == "https://game.example")
                #expect(String(buffer: response.body).contains(#""code":"not_found""#))
            }
            try await client.execute(uri: "/health", method: .get, headers: [.origin: "https://evil.example"]) {
                response in
                #expect(response.status == .ok)
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
        }
    }

    @Test func noOriginsNoCORS() async throws {
        try await Self.app(origins: []).test(.router) { client in
            try await client.execute(uri: "/health", method: .get, headers: [.origin: "https://game.example"]) {
                response in
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
        }
    }
}
