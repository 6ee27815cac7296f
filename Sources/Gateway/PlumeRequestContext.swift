import Foundation
import Hummingbird
import HummingbirdAuth
import NIOCore
import PlatformServices

/// The request context of Plume's HTTP edge: Hummingbird's core context, the address of the
/// connected peer (which the authentication brakes key on, see ``AuthThrottle``), the caller a
/// valid access token names (set by ``BearerAuthenticator``), and the edge's body coders.
public struct PlumeRequestContext: AuthRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer; `nil` where there is none (a router driven without a socket in tests).
    public let remoteAddress: SocketAddress?
    /// The caller, once ``BearerAuthenticator`` has checked its access token.
    public var identity: AccountService.Caller?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The largest body `request.decode` reads; past it the answer is 413 `payload_too_large`.
    public var maxUploadSize: Int { BodyCoding.bodyBytesMax }
    public var requestDecoder: BodyDecoder { BodyDecoder() }
    public var responseEncoder: JSONEncoder { BodyCoding.encoder }
}
