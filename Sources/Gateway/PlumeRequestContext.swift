import Hummingbird
import NIOCore

/// The request context of Plume's HTTP edge: Hummingbird's core context plus the address of
/// the connected peer, which the authentication brakes key on (see ``AuthThrottle``).
public struct PlumeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer; `nil` where there is none (a router driven without a socket in tests).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
