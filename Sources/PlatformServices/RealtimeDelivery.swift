import EntityRuntime
import GameDomain

/// What one node hands another for the sockets it holds: the payload of the cluster frame
/// `realtime`, many deliveries to one node in one frame (`Schema/realtime.proto`).
public enum RealtimeDelivery: Sendable, Equatable {
    /// A push frame (JSON text) for every socket of `users`.
    case push(users: [String], frame: String)
    /// A user's presence changed (`view` as the user sees it); `nodes` hold their sockets.
    case presence(Presence.View, nodes: [String])
    /// `user`'s relationship with `other` is now `state`.
    case relationship(user: String, other: String, state: String)
    /// The session `session` of `user` ended.
    case revoke(user: String, session: String)
    /// `replyTo` asks for the socket parked with `token` (a resume there), answering `claim`.
    case claim(token: String, user: String, session: String, replyTo: String, claim: String)
    /// The answer to `claim`: the parked socket's id and the pushes it missed (nil: none).
    case claimed(claim: String, socket: String?, frames: [String])

    /// The bytes of a batch.
    public static func encode(_ deliveries: [RealtimeDelivery]) -> [UInt8] {
        var batch = Plume_Realtime_Batch()
        batch.deliveries = deliveries.map { delivery in
            var message = Plume_Realtime_Delivery()
            switch delivery {
            case .push(let users, let frame):
                message.push = .with {
                    $0.users = users
                    $0.frame = frame
                }
            case .presence(let view, let nodes):
                message.presence = .with {
                    $0.view = PresenceKind.wire(view)
                    $0.nodes = nodes
                }
            case .relationship(let user, let other, let state):
                message.relationship = .with {
                    $0.user = user
                    $0.other = other
                    $0.state = state
                }
            case .revoke(let user, let session):
                message.revoke = .with {
                    $0.user = user
                    $0.session = session
                }
            case .claim(let token, let user, let session, let replyTo, let claim):
                message.claim = .with {
                    $0.token = token
                    $0.user = user
                    $0.session = session
                    $0.replyTo = replyTo
                    $0.claim = claim
                }
            case .claimed(let claim, let socket, let frames):
                message.claimed = .with {
                    $0.claim = claim
                    if let socket { $0.socket = socket }
                    $0.frames = frames
                }
            }
            return message
        }
        return Protobuf.bytes(batch)
    }

    /// The deliveries of a batch; those of a kind (or a status) this node does not know are
    /// left out, counted in `skipped`.
    public static func decode(_ bytes: [UInt8]) throws(SchemaError) -> (deliveries: [RealtimeDelivery], skipped: Int) {
        let batch = try Protobuf.message(bytes, as: Plume_Realtime_Batch.self)
        var deliveries: [RealtimeDelivery] = []
        var skipped = 0
        for message in batch.deliveries {
            switch message.delivery {
            case .push(let m)?: deliveries.append(.push(users: m.users, frame: m.frame))
            case .presence(let m)?:
                guard let view = try? PresenceKind.view(m.view) else {
                    skipped += 1
                    continue
                }
                deliveries.append(.presence(view, nodes: m.nodes))
            case .relationship(let m)?: deliveries.append(.relationship(user: m.user, other: m.other, state: m.state))
            case .revoke(let m)?: deliveries.append(.revoke(user: m.user, session: m.session))
            case .claim(let m)?:
                deliveries.append(
                    .claim(token: m.token, user: m.user, session: m.session, replyTo: m.replyTo, claim: m.claim)
                )
            case .claimed(let m)?:
                deliveries.append(.claimed(claim: m.claim, socket: m.hasSocket ? m.socket : nil, frames: m.frames))
            case nil: skipped += 1
            }
        }
        return (deliveries, skipped)
    }
}
