import ClusterCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Loopback ports for nodes a test starts itself.
///
/// A port the kernel hands out for `bind(0)` comes from the ephemeral range, which outgoing
/// connections (of this or a parallel test) draw from too: between closing the probe socket and
/// the node's own bind, a connection can take the port. These ports lie below that range
/// (20000–31999), were free when probed, and are never handed out twice in one process.
public enum LoopbackPorts {
    private static let handedOut = Mutex<Set<Int>>([])

    public static func reserve(_ count: Int) -> [Int] {
        var ports: [Int] = []
        var random = SystemRandomNumberGenerator()
        var attempts = 0
        while ports.count < count {
            attempts += 1
            precondition(attempts < 10_000, "no free loopback port in 20000..<32000")
            let port = Int.random(in: 20_000..<32_000, using: &random)
            guard handedOut.withLock({ $0.insert(port).inserted }), isFree(port) else { continue }
            ports.append(port)
        }
        return ports
    }

    /// Whether a listening socket could bind 127.0.0.1:`port` now.
    static func isFree(_ port: Int) -> Bool {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return bound == 0
    }
}

extension LoopbackPorts {
    /// Node entries for an in-process cluster on 127.0.0.1: `ids` (by default n1…n`count`),
    /// each with a cluster and an HTTP port reserved as ``reserve(_:)`` does.
    public static func nodes(_ count: Int, ids: [String]? = nil) -> [ClusterConfiguration.NodeEntry] {
        let ports = reserve(2 * count)
        let names = ids ?? (1...max(1, count)).map { "n\($0)" }
        return (0..<count).map { index in
            .init(
                id: NodeID(names[index])!,
                clusterAddress: NodeAddress(host: "127.0.0.1", port: ports[index]),
                httpAddress: NodeAddress(host: "127.0.0.1", port: ports[count + index])
            )
        }
    }
}
