/// A `host:port` pair where a node listens, for the cluster protocol or for HTTP.
///
/// Parsing is strict so that a typo in `cluster.conf` or on the command line is reported at
/// start-up instead of surfacing later as a node that nobody can reach.
public struct NodeAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why a text is not an address.
    public enum ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        case missingPort(String)
        case badPort(String)
        case badHost(String)

        public var description: String {
            switch self {
            case .missingPort(let text): "\"\(text)\" is not host:port (no port)"
            case .badPort(let text): "\"\(text)\" has a port outside 1…65535"
            case .badHost(let text): "\"\(text)\" has an empty or malformed host"
            }
        }
    }

    /// Parses `host:port`, or `[v6]:port` for IPv6 literals.
    public init(parsing text: String) throws(ParseError) {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badHost(text) }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .missingPort(text) }
            portPart = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .missingPort(text) }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { throw .badHost(text) }
        }
        guard !portPart.isEmpty, portPart.allSatisfy(\.isASCII), portPart.allSatisfy(\.isNumber) else {
            throw portPart.isEmpty ? .missingPort(text) : .badPort(text)
        }
        guard let port = Int(portPart), (1...65535).contains(port) else { throw .badPort(text) }
        let validHostByte: (UInt8) -> Bool = { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2E || byte == 0x2D || byte == 0x3A || byte == 0x5F
        }
        guard !hostPart.isEmpty, hostPart.utf8.count <= 253, hostPart.utf8.allSatisfy(validHostByte) else {
            throw .badHost(text)
        }
        self.host = String(hostPart)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether the host is a loopback address (127.0.0.0/8, `::1`, `localhost`): reachable from
    /// this machine only. `0.0.0.0` and every name but `localhost` count as reachable from elsewhere.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    public static func < (lhs: NodeAddress, rhs: NodeAddress) -> Bool {
        (lhs.host, lhs.port) < (rhs.host, rhs.port)
    }
}
