import EntityRuntime
import Foundation
import GameDomain
import PlatformServices
import Testing
import WireProtocol

/// Golden bytes: every message of every platform kind, as this build's schema encodes it, committed.
/// Each is decoded and compared with the value it was made from, and that value must encode to
/// the same bytes. A schema change that cannot read these bytes fails here; a change that
/// encodes differently must add fixtures, never edit the old ones (nodes store these bytes).
@Suite struct SchemaFixturesTests {
    /// Name → hex, written once from the values in ``SchemaFixtures`` and never edited.
    static let golden: [String: String] = [
        "user.command.create": "0a240a02753112034164611a0f616461406578616d706c652e636f6d22087363727970742468",
        "user.command.updateProfile": "121d0a1b0a06416461204c2e1209666972737420e29c931a0022040a024742",
        "user.command.updateProfileEmpty": "12020a00",
        "user.command.updateProfileInSession": "32190a02733112131a110a0f68747470733a2f2f782f622e706e67",
        "user.command.openSession": "1a110a0273311202683119000020b061bfda41",
        "user.command.refresh": "22150a027331120268311a026832210000109162bfda41",
        "user.command.closeSession": "2a040a027331",
        "user.event.created":
            "0a2d0a02753112034164611a0f616461406578616d706c652e636f6d2208736372797074246829000000b061bfda41",
        "user.event.profileUpdated":
            "122a0a280a06416461204c2e1209666972737420e29c931a0f68747470733a2f2f782f612e706e6722024742",
        "user.event.profileUpdatedBare": "12070a050a03416461",
        "user.event.sessionOpened": "1a110a0273311202683119000020b061bfda41",
        "user.event.refreshRotated": "22110a02733112026832190000109162bfda41",
        "user.event.sessionRevokedLogout": "2a060a0273311001",
        "user.event.sessionRevokedReused": "2a060a0273311002",
        "user.event.sessionsForgotten": "32080a0273310a027332",
        "user.state.full":
            "0a02753112034164611a0f616461406578616d706c652e636f6d220873637279707424682a280a06416461204c2e1209666972737420e29c931a0f68747470733a2f2f782f612e706e672202474231000000b061bfda413a110a0273311202683119000020b061bfda413a130a02733212026832190000109162bfda412001",
        "user.state.initial": "2a00",
        "user.read.account": "0a00",
        "user.read.publicProfile": "1200",
        "user.read.inSession": "1a040a027331",
        "user.state.rotated":
            "0a02753112034164611a0f616461406578616d706c652e636f6d220873637279707424682a280a06416461204c2e1209666972737420e29c931a0f68747470733a2f2f782f612e706e672202474231000000b061bfda413a190a0273311202683119000020b061bfda412a0268302a0267303a130a02733212026832190000109162bfda412001",
        "user.failure.alreadyExists": "0a00",
        "user.failure.notFound": "1200",
        "user.failure.invalid": "1a0f0a0362696f1208746f6f206c6f6e67",
        "user.failure.sessionInvalid": "2200",
        "user.failure.sessionRevoked": "2a00",
        "name.command.reserve": "0a040a027531",
        "name.command.confirm": "12040a027531",
        "name.command.release": "1a040a027531",
        "name.event.reserved": "0a0d0a02753111000030b061bfda41",
        "name.event.confirmed": "12040a027531",
        "name.event.released": "1a040a027531",
        "name.state.confirmed": "0a02753111000030b061bfda411801",
        "name.state.initial": "",
        "name.read.owner": "0a00",
        "name.failure.taken": "0a00",
        "name.failure.notReservedBy": "12040a027532",
        "conversation.command.send": "0a100a027531120275321a06676720e29c93",
        "conversation.event.sent": "0a1b0807120275311a0275322206676720e29c9329000010b061bfda41",
        "conversation.failure.invalid": "0a100a04746578741208746f6f206c6f6e67",
        "conversation.read.newest": "0a021014",
        "conversation.read.page": "0a0408071032",
        "conversation.reply.page": "0a1b0807120275311a0275322206676720e29c9329000010b061bfda411007",
        "conversation.state": "0a1b0807120275311a0275322206676720e29c9329000010b061bfda411008",
        "friends.command.block": "2a040a027532",
        "friends.command.blocked": "32040a027531",
        "friends.command.remove": "1a040a027532",
        "friends.command.removed": "22040a027531",
        "friends.command.request": "0a080a02753112027532",
        "friends.command.requested": "12080a02753112027532",
        "friends.command.settle": "4a060a0275321001",
        "friends.command.unblock": "3a040a027532",
        "friends.command.unblocked": "42040a027531",
        "friends.event.blockedBy": "220d0a027531190000c0b061bfda41",
        "friends.event.blocking": "1a0f0a027532100119000080b061bfda41",
        "friends.event.linked": "0a0f0a027532100219000000b061bfda41",
        "friends.event.owes": "2a060a0275321003",
        "friends.event.settled": "32040a027532",
        "friends.event.unlinked": "120d0a02753211000040b061bfda41",
        "friends.failure.blocked": "1200",
        "friends.failure.cannotFriendSelf": "0a00",
        "friends.failure.friendLimit": "1a00",
        "friends.read.all": "0a00",
        "friends.read.with": "12040a027532",
        "friends.state.full":
            "0a110a027532120b080121000000b061bfda410a110a027533120b080321000060b061bfda410a130a027534120d1001180121000080b061bfda4112060a027533100212060a0275341004",
        "friends.state.initial": "",
        "inbox.command.add": "0a150a076d657373616765120a0a0466726f6d12027531",
        "inbox.command.delete": "1a020803",
        "inbox.command.markRead": "12040a020103",
        "inbox.event.added":
            "0a3a0803120e667269656e645f726571756573741a0a0a0466726f6d120275311a0f0a08757365726e616d65120361646121000000b061bfda412801",
        "inbox.event.deleted": "1a020803",
        "inbox.event.read": "12040a020103",
        "inbox.failure.notFound": "0a00",
        "inbox.read.page": "0a040803100a",
        "inbox.reply.page":
            "0a3a0803120e667269656e645f726571756573741a0a0a0466726f6d120275311a0f0a08757365726e616d65120361646121000000b061bfda4128011003",
        "inbox.state":
            "0a3a0803120e667269656e645f726571756573741a0a0a0466726f6d120275311a0f0a08757365726e616d65120361646121000000b061bfda4128011004",
        "entity.record": "080212116e616d652f757365726e616d652f6164611a0612040a027531",
        "entity.request.command": "080212060a040a027531",
        "entity.request.read": "08011a020a00",
        "realtime.batch":
            "0a2d0a2b0a0275310a02753212217b2270757368223a22636861745f6d657373616765222c2264617461223a7b7d7d0a2812260a200a0275311204617761791a0b0a036d617012046e756b652100008040fc54d94112026e310a121a100a027531120275321a06667269656e640a0a22080a02753112027331",
        "presence.command.connect": "0a080a026e3112027331",
        "presence.command.disconnect": "12080a026e3112027331",
        "presence.command.announce": "1a220a026e3212027332120273331a0461776179220e0a0c0a036d617012056475737432",
        "presence.command.announceBare": "1a040a026e32",
        "presence.command.nodeLost": "22040a026e33",
        "presence.command.suspect": "2a080a04627573791200",
        "presence.command.set": "32270a0f6c6f6f6b696e675f746f5f706c617912140a120a07636f6e6e65637412072b6a6f696e2037",
        "presence.command.setStatusOnly": "320b0a09696e76697369626c65",
        "presence.command.expire": "3a09090000000000003e40",
        "presence.event.sockets": "0a0c0a026e311202733112027332",
        "presence.event.shows": "12270a0461776179120d0a0b0a036d617012046e756b651900004040fc54d9412100008040fc54d941",
        "presence.event.showsBack": "12130a066f6e6c696e651200210000c040fc54d941",
        "presence.event.cleared": "1a090900000041fc54d941",
        "presence.state":
            "0a06736e6f6f7a65120b0a036d617012046e756b651900008040fc54d941220a0a026e3112040a027331220e0a026e3212080a0273320a027333",
        "presence.read.current": "0a00",
        "presence.reply":
            "0a280a027531120c7265636f6e6e656374696e671a0b0a036d617012046e756b652100004040fc54d94110011a026e31",
        "presence.failure.invalid": "0a150a0472696368120d746f6f206d616e79206b657973",
        "presence.command.announceParked": "1a120a026e32120273321a04627573792a027334",
        "presence.command.drop": "42080a026e3112027331",
        "realtime.batch.resume":
            "0a1a2a180a066e312e616263120275311a02733122026e322a0263310a2932270a02633112026b311a1d7b2270757368223a2270726573656e6365222c2264617461223a7b7d7d0a0632040a026332",
        "presence.event.parked": "22080a026e3112027331",
        "presence.state.parked": "0a04617761791900004041fc54d9412900004041fc54d941320a0a026e3312040a027339",
        "lobby.command.create": "0a270a024c31120c667269656e64735f6f6e6c791804220b0a036d6170120464757374280132027531",
        "lobby.command.createForMatch": "0a1f0a04712e6d31120770726976617465180232027531320275323a04712e6d31",
        "lobby.command.join": "12060a0275321001",
        "lobby.command.leave": "1a040a027532",
        "lobby.command.update": "221b0a02753112090a070a036d617012001a067075626c696320002808",
        "lobby.command.updateData": "22060a0275311200",
        "lobby.command.setMember": "2a160a027532120e0a0c0a047465616d1204626c75651800",
        "lobby.command.kick": "32080a02753112027532",
        "lobby.command.ban": "3a080a02753112027533",
        "lobby.command.invite": "42110a02753112027534190000804732c3da41",
        "lobby.command.transfer": "4a080a02753112027532",
        "lobby.command.start": "52150a027531120d31302e302e302e353a373737371801",
        "lobby.command.ownerGone": "5a040a027531",
        "lobby.command.expire": "6209090000004f32c3da41",
        "lobby.command.admit": "6a080a0275350a027536",
        "lobby.event.created":
            "0a4d0a024c311209696e76697369626c651804220b0a036d61701204647573742801321c0a027531120b0a047465616d12037265641801210000004032c3da413a04712e6d31410000004032c3da41",
        "lobby.event.joined": "120d0a027532210000404032c3da41",
        "lobby.event.left": "1a1e0a027531120b6d656d6265725f6c6566741a027532210000804032c3da41",
        "lobby.event.kicked": "1a150a02753312066b69636b6564210000c04032c3da41",
        "lobby.event.banned": "22040a027534",
        "lobby.event.updated": "2a160a070a036d6170120012077072697661746518002006",
        "lobby.event.memberSet": "32140a027532120c0a047465616d1204626c75651801",
        "lobby.event.invited": "3a0d0a027535110000804732c3da41",
        "lobby.event.ownerSet": "42040a027532",
        "lobby.event.started": "4a180a0d31302e302e302e353a37373737110000004a32c3da41",
        "lobby.event.deleted": "5200",
        "lobby.state":
            "0a024c311209696e76697369626c651a02753220042801320b0a036d61701204647573743a0d0a027532210000404032c3da414006490000004032c3da41520d0a027535110000804732c3da415a0275396a0d31302e302e302e353a373737377204712e6d31",
        "lobby.read.get": "0a00",
        "lobby.reply":
            "0a660a024c311209696e76697369626c651a02753220042801320b0a036d61701204647573743a0d0a027532210000404032c3da414006490000004032c3da41520d0a027535110000804732c3da415a0275396a0d31302e302e302e353a373737377204712e6d3112056f776e6572",
        "lobby.failure.full": "0a0a6c6f6262795f66756c6c",
        "lobby.failure.notInvited": "0a0b6e6f745f696e7669746564",
        "lobby.failure.invalid": "120f0a04646174611207746f6f20626967",
        "lobby.query":
            "0a140a056c6576656c120267652100000000000024400a0f0a046d6f6465120265711a0363746612100a056c6576656c11000000000000284018022014290000804c32c3da41",
        "lobby.found":
            "0a660a024c311209696e76697369626c651a02753220042801320b0a036d61701204647573743a0d0a027532210000404032c3da414006490000004032c3da41520d0a027535110000804732c3da415a0275396a0d31302e302e302e353a373737377204712e6d311007",
        "queue.command.enqueue":
            "0a730a490a0a6172656e612e3030666612027531120275321900000000007097402004280830023802420d0a026575110000000000003e404a0672616e6b6564510000004032c3da415a024c3112056172656e611a1b090000000000005940110000000000004940190000000000c0724020a08d06",
        "queue.command.enqueueBackfill":
            "0a4b0a230a0a6172656e612e303130302002280230013801510000404032c3da4162024c32680312056172656e611a1b090000000000005940110000000000004940190000000000c07240200a",
        "queue.command.cancel": "12100a0a6172656e612e3030666612027531",
        "queue.command.round": "1a240a056172656e61121b090000000000005940110000000000004940190000000000c07240",
        "queue.command.delivered": "22140a086172656e612e6d310a086172656e612e6d32",
        "queue.event.queued":
            "0a490a0a6172656e612e3030666612027531120275321900000000007097402004280830023802420d0a026575110000000000003e404a0672616e6b6564510000004032c3da415a024c31",
        "queue.event.matched":
            "128b010a086172656e612e6d31120a6172656e612e30306666120a6172656e612e303130311a080a0275310a0275321a080a0275330a02753422026575310000404132c3da413a100a027531120a6172656e612e303066663a100a027532120a6172656e612e303066663a100a027533120a6172656e612e303130313a100a027534120a6172656e612e30313031",
        "queue.event.cancelled": "1a0c0a0a6172656e612e30313032",
        "queue.event.expired": "22180a0a6172656e612e303130330a0a6172656e612e30313034",
        "queue.event.delivered": "2a0a0a086172656e612e6d31",
        "queue.state":
            "0a230a0a6172656e612e303130302002280230013801510000404032c3da4162024c326803128b010a086172656e612e6d31120a6172656e612e30306666120a6172656e612e303130311a080a0275310a0275321a080a0275330a02753422026575310000404132c3da413a100a027531120a6172656e612e303066663a100a027532120a6172656e612e303066663a100a027533120a6172656e612e303130313a100a027534120a6172656e612e303130311ae2010a490a0a6172656e612e3030666612027531120275321900000000007097402004280830023802420d0a026575110000000000003e404a0672616e6b6564510000004032c3da415a024c3112076d6174636865641a8b010a086172656e612e6d31120a6172656e612e30306666120a6172656e612e303130311a080a0275310a0275321a080a0275330a02753422026575310000404132c3da413a100a027531120a6172656e612e303066663a100a027532120a6172656e612e303066663a100a027533120a6172656e612e303130313a100a027534120a6172656e612e303130312208000000000088b3402801",
        "queue.read.ticket": "0a0c0a0a6172656e612e30306666",
        "queue.read.stats": "1200",
        "queue.read.pending": "1a00",
        "queue.reply":
            "0ae2010a490a0a6172656e612e3030666612027531120275321900000000007097402004280830023802420d0a026575110000000000003e404a0672616e6b6564510000004032c3da415a024c3112076d6174636865641a8b010a086172656e612e6d31120a6172656e612e30306666120a6172656e612e303130311a080a0275310a0275321a080a0275330a02753422026575310000404132c3da413a100a027531120a6172656e612e303066663a100a027532120a6172656e612e303066663a100a027533120a6172656e612e303130313a100a027534120a6172656e612e30313031128b010a086172656e612e6d31120a6172656e612e30306666120a6172656e612e303130311a080a0275310a0275321a080a0275330a02753422026575310000404132c3da413a100a027531120a6172656e612e303066663a100a027532120a6172656e612e303066663a100a027533120a6172656e612e303130313a100a027534120a6172656e612e303130311a140803110000000000c0924019000000000040af40",
        "queue.failure.alreadyQueued": "0a0e616c72656164795f717565756564",
        "queue.failure.full": "0a0a71756575655f66756c6c",
        "queue.failure.invalid": "12220a07706c6179657273121761207469636b6574206e65656473206120706c61796572",
        "queue.event.queuedBackfill":
            "0a270a0a6172656e612e303130302002280230013801510000404032c3da4162024c32680372027539",
    ]

    static func bytes(_ name: String) throws -> [UInt8] {
        let hex = try #require(golden[name], "no fixture \(name)")
        if hex.isEmpty { return [] }
        return stride(from: 0, to: hex.count, by: 2).map { offset in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
    }

    /// Decodes the fixture, compares it with `value`, and checks `value` encodes to the same bytes.
    static func check<V: Equatable>(
        _ name: String,
        _ value: V,
        encode: (V) -> [UInt8],
        decode: ([UInt8]) throws -> V
    ) throws {
        let bytes = try bytes(name)
        #expect(try decode(bytes) == value, "\(name) decodes to another value")
        #expect(encode(value) == bytes, "\(name) encodes differently")
    }

    @Test func userMessages() throws {
        for (name, value) in SchemaFixtures.userCommands {
            try Self.check(
                "user.command.\(name)",
                value,
                encode: UserKind.encode(command:),
                decode: UserKind.decode(command:)
            )
        }
        for (name, value) in SchemaFixtures.userEvents {
            try Self.check(
                "user.event.\(name)",
                value,
                encode: UserKind.encode(event:),
                decode: UserKind.decode(event:)
            )
        }
        for (name, value) in SchemaFixtures.userStates {
            try Self.check(
                "user.state.\(name)",
                value,
                encode: UserKind.encode(state:),
                decode: UserKind.decode(state:)
            )
            try Self.check(
                "user.state.\(name)",
                value,
                encode: UserKind.encode(reply:),
                decode: UserKind.decode(reply:)
            )
        }
        for (name, value) in [
            ("account", UserKind.Read.account), ("publicProfile", .publicProfile),
            ("inSession", .inSession(sessionID: "s1")),
        ] {
            try Self.check("user.read.\(name)", value, encode: UserKind.encode(read:), decode: UserKind.decode(read:))
        }
        for (name, value) in SchemaFixtures.userFailures {
            try Self.check(
                "user.failure.\(name)",
                value,
                encode: UserKind.encode(failure:),
                decode: UserKind.decode(failure:)
            )
        }
    }

    @Test func nameReservationMessages() throws {
        typealias Kind = NameReservationKind
        for (name, value) in SchemaFixtures.nameCommands {
            try Self.check("name.command.\(name)", value, encode: Kind.encode(command:), decode: Kind.decode(command:))
        }
        for (name, value) in SchemaFixtures.nameEvents {
            try Self.check("name.event.\(name)", value, encode: Kind.encode(event:), decode: Kind.decode(event:))
        }
        for (name, value) in SchemaFixtures.nameStates {
            try Self.check("name.state.\(name)", value, encode: Kind.encode(state:), decode: Kind.decode(state:))
        }
        try Self.check("name.read.owner", Kind.Read.owner, encode: Kind.encode(read:), decode: Kind.decode(read:))
        for (name, value) in SchemaFixtures.nameFailures {
            try Self.check("name.failure.\(name)", value, encode: Kind.encode(failure:), decode: Kind.decode(failure:))
        }
    }

    @Test func friendListMessages() throws {
        typealias Kind = FriendListKind
        for (name, value) in SchemaFixtures.friendCommands {
            try Self.check(
                "friends.command.\(name)",
                value,
                encode: Kind.encode(command:),
                decode: Kind.decode(command:)
            )
        }
        for (name, value) in SchemaFixtures.friendEvents {
            try Self.check("friends.event.\(name)", value, encode: Kind.encode(event:), decode: Kind.decode(event:))
        }
        for (name, value) in SchemaFixtures.friendStates {
            try Self.check("friends.state.\(name)", value, encode: Kind.encode(state:), decode: Kind.decode(state:))
            try Self.check("friends.state.\(name)", value, encode: Kind.encode(reply:), decode: Kind.decode(reply:))
        }
        for (name, value) in [("all", Kind.Read.all), ("with", .with("u2"))] {
            try Self.check("friends.read.\(name)", value, encode: Kind.encode(read:), decode: Kind.decode(read:))
        }
        for (name, value) in SchemaFixtures.friendFailures {
            try Self.check(
                "friends.failure.\(name)",
                value,
                encode: Kind.encode(failure:),
                decode: Kind.decode(failure:)
            )
        }
    }

    @Test func conversationMessages() throws {
        typealias Kind = ConversationKind
        let message = SchemaFixtures.message
        try Self.check(
            "conversation.command.send",
            Conversation.Command.send(from: "u1", to: "u2", text: "gg ✓"),
            encode: Kind.encode(command:),
            decode: Kind.decode(command:)
        )
        try Self.check(
            "conversation.event.sent",
            .sent(message),
            encode: Kind.encode(event:),
            decode: Kind.decode(event:)
        )
        try Self.check(
            "conversation.state",
            Conversation.State(messages: [message], nextSeq: 8),
            encode: Kind.encode(state:),
            decode: Kind.decode(state:)
        )
        try Self.check(
            "conversation.read.page",
            Kind.Read.page(before: 7, limit: 50),
            encode: Kind.encode(read:),
            decode: Kind.decode(read:)
        )
        try Self.check(
            "conversation.read.newest",
            Kind.Read.page(before: nil, limit: 20),
            encode: Kind.encode(read:),
            decode: Kind.decode(read:)
        )
        try Self.check(
            "conversation.reply.page",
            Kind.Page(messages: [message], next: 7),
            encode: Kind.encode(reply:),
            decode: Kind.decode(reply:)
        )
        try Self.check(
            "conversation.failure.invalid",
            Conversation.Failure.invalid(field: "text", message: "too long"),
            encode: Kind.encode(failure:),
            decode: Kind.decode(failure:)
        )
    }

    @Test func inboxMessages() throws {
        typealias Kind = InboxKind
        let notification = SchemaFixtures.notification
        let commands: [(String, Inbox.Command)] = [
            ("add", .add(.message, data: ["from": "u1"])), ("markRead", .markRead(ids: [1, 3])),
            ("delete", .delete(id: 3)),
        ]
        for (name, value) in commands {
            try Self.check("inbox.command.\(name)", value, encode: Kind.encode(command:), decode: Kind.decode(command:))
        }
        let events: [(String, Inbox.Event)] = [
            ("added", .added(notification)), ("read", .read(ids: [1, 3])), ("deleted", .deleted(id: 3)),
        ]
        for (name, value) in events {
            try Self.check("inbox.event.\(name)", value, encode: Kind.encode(event:), decode: Kind.decode(event:))
        }
        try Self.check(
            "inbox.state",
            Inbox.State(notifications: [notification], nextID: 4),
            encode: Kind.encode(state:),
            decode: Kind.decode(state:)
        )
        try Self.check(
            "inbox.read.page",
            Kind.Read.page(before: 3, limit: 10),
            encode: Kind.encode(read:),
            decode: Kind.decode(read:)
        )
        try Self.check(
            "inbox.reply.page",
            Kind.Page(notifications: [notification], next: 3),
            encode: Kind.encode(reply:),
            decode: Kind.decode(reply:)
        )
        try Self.check(
            "inbox.failure.notFound",
            Inbox.Failure.notFound,
            encode: Kind.encode(failure:),
            decode: Kind.decode(failure:)
        )
    }

    @Test func presenceMessages() throws {
        typealias Kind = PresenceKind
        let commands: [(String, Presence.State.Command)] = [
            ("connect", .connect(node: "n1", socket: "s1")), ("disconnect", .disconnect(node: "n1", socket: "s1")),
            (
                "announce",
                .announce(node: "n2", sockets: ["s2", "s3"], parked: [], status: .away, rich: ["map": "dust2"])
            ),
            ("announceBare", .announce(node: "n2", sockets: [], parked: [], status: nil, rich: nil)),
            ("announceParked", .announce(node: "n2", sockets: ["s2"], parked: ["s4"], status: .busy, rich: nil)),
            ("drop", .drop(node: "n1", socket: "s1")),
            ("nodeLost", .nodeLost(node: "n3")), ("suspect", .suspect(status: .busy, rich: [:])),
            ("set", .set(status: .lookingToPlay, rich: ["connect": "+join 7"])),
            ("setStatusOnly", .set(status: .invisible, rich: nil)), ("expire", .expire(graceSeconds: 30)),
        ]
        for (name, value) in commands {
            try Self.check(
                "presence.command.\(name)",
                value,
                encode: Kind.encode(command:),
                decode: Kind.decode(command:)
            )
        }
        let events: [(String, Presence.State.Event)] = [
            ("sockets", .sockets(node: "n1", ids: ["s1", "s2"])),
            ("shows", .shows(status: .away, rich: ["map": "nuke"], lostAt: 1_700_000_001, at: 1_700_000_002)),
            ("showsBack", .shows(status: .online, rich: [:], lostAt: nil, at: 1_700_000_003)),
            ("cleared", .cleared(at: 1_700_000_004)),
            ("parked", .parked(node: "n1", ids: ["s1"])),
        ]
        for (name, value) in events {
            try Self.check("presence.event.\(name)", value, encode: Kind.encode(event:), decode: Kind.decode(event:))
        }
        try Self.check(
            "presence.state",
            Presence.State(
                status: .snooze,
                rich: ["map": "nuke"],
                updatedAt: 1_700_000_002,
                sockets: ["n1": ["s1"], "n2": ["s2", "s3"]],
                lostAt: nil
            ),
            encode: Kind.encode(state:),
            decode: Kind.decode(state:)
        )
        try Self.check(
            "presence.state.parked",
            Presence.State(status: .away, updatedAt: 1_700_000_005, lostAt: 1_700_000_005, parked: ["n3": ["s9"]]),
            encode: Kind.encode(state:),
            decode: Kind.decode(state:)
        )
        try Self.check(
            "presence.read.current",
            Kind.Read.current,
            encode: Kind.encode(read:),
            decode: Kind.decode(read:)
        )
        try Self.check(
            "presence.reply",
            Kind.Reply(
                view: Presence.View(
                    userID: "u1",
                    status: .reconnecting,
                    rich: ["map": "nuke"],
                    updatedAt: 1_700_000_001
                ),
                changed: true,
                nodes: ["n1"]
            ),
            encode: Kind.encode(reply:),
            decode: Kind.decode(reply:)
        )
        try Self.check(
            "presence.failure.invalid",
            Presence.Failure.invalid(field: "rich", message: "too many keys"),
            encode: Kind.encode(failure:),
            decode: Kind.decode(failure:)
        )
    }

    /// The cluster frame `realtime` carries these bytes between nodes of different versions.
    @Test func realtimeDeliveries() throws {
        let batch: [RealtimeDelivery] = [
            .push(users: ["u1", "u2"], frame: #"{"push":"chat_message","data":{}}"#),
            .presence(
                Presence.View(userID: "u1", status: .away, rich: ["map": "nuke"], updatedAt: 1_700_000_002),
                nodes: ["n1"]
            ),
            .relationship(user: "u1", other: "u2", state: "friend"),
            .revoke(user: "u1", session: "s1"),
        ]
        try Self.check(
            "realtime.batch.resume",
            [
                RealtimeDelivery.claim(token: "n1.abc", user: "u1", session: "s1", replyTo: "n2", claim: "c1"),
                .claimed(claim: "c1", socket: "k1", frames: [#"{"push":"presence","data":{}}"#]),
                .claimed(claim: "c2", socket: nil, frames: []),
            ],
            encode: RealtimeDelivery.encode,
            decode: { try RealtimeDelivery.decode($0).deliveries }
        )
        try Self.check(
            "realtime.batch",
            batch,
            encode: RealtimeDelivery.encode,
            decode: { try RealtimeDelivery.decode($0).deliveries }
        )
        // A delivery of a kind this build does not know (field 9 of the oneof) is skipped, counted.
        let newer = try Self.bytes("realtime.batch") + [0x0A, 0x02, 0x4A, 0x00]
        let decoded = try RealtimeDelivery.decode(newer)
        #expect(decoded.deliveries == batch && decoded.skipped == 1)
    }

    @Test func lobbyMessages() throws {
        typealias Kind = LobbyKind
        let owner = Lobby.Member(userID: "u1", data: ["team": "red"], isReady: true, joinedAt: 1_796_000_000)
        let commands: [(String, Lobby.Command)] = [
            (
                "create",
                .create(
                    id: "L1",
                    visibility: .friendsOnly,
                    maxMembers: 4,
                    data: ["map": "dust"],
                    joinable: true,
                    members: ["u1"],
                    matchID: nil
                )
            ),
            (
                "createForMatch",
                .create(
                    id: "q.m1",
                    visibility: .private,
                    maxMembers: 2,
                    data: [:],
                    joinable: false,
                    members: ["u1", "u2"],
                    matchID: "q.m1"
                )
            ),
            ("join", .join(user: "u2", isOwnersFriend: true)), ("leave", .leave(user: "u2")),
            ("update", .update(by: "u1", data: ["map": ""], visibility: .public, joinable: false, maxMembers: 8)),
            ("updateData", .update(by: "u1", data: [:], visibility: nil, joinable: nil, maxMembers: nil)),
            ("setMember", .setMember(user: "u2", data: ["team": "blue"], isReady: false)),
            ("kick", .kick(by: "u1", user: "u2")), ("ban", .ban(by: "u1", user: "u3")),
            ("invite", .invite(by: "u1", user: "u4", holdUntil: 1_796_000_030)),
            ("transfer", .transfer(by: "u1", to: "u2")),
            ("start", .start(by: "u1", gameServer: "10.0.0.5:7777", force: true)),
            ("ownerGone", .ownerGone(user: "u1")), ("expire", .expire(emptyBefore: 1_796_000_060)),
            ("admit", .admit(users: ["u5", "u6"])),
        ]
        for (name, value) in commands {
            try Self.check("lobby.command.\(name)", value, encode: Kind.encode(command:), decode: Kind.decode(command:))
        }
        let events: [(String, Lobby.Event)] = [
            (
                "created",
                .created(
                    id: "L1",
                    visibility: .invisible,
                    maxMembers: 4,
                    data: ["map": "dust"],
                    joinable: true,
                    members: [owner],
                    matchID: "q.m1",
                    at: 1_796_000_000
                )
            ),
            ("joined", .joined(Lobby.Member(userID: "u2", joinedAt: 1_796_000_001))),
            ("left", .left(user: "u1", reason: .memberLeft, owner: "u2", at: 1_796_000_002)),
            ("kicked", .left(user: "u3", reason: .kicked, owner: nil, at: 1_796_000_003)),
            ("banned", .banned(user: "u4")),
            ("updated", .updated(data: ["map": ""], visibility: .private, joinable: false, maxMembers: 6)),
            ("memberSet", .memberSet(user: "u2", data: ["team": "blue"], isReady: true)),
            ("invited", .invited(user: "u5", holdUntil: 1_796_000_030)), ("ownerSet", .ownerSet(user: "u2")),
            ("started", .started(gameServer: "10.0.0.5:7777", at: 1_796_000_040)), ("deleted", .deleted),
        ]
        for (name, value) in events {
            try Self.check("lobby.event.\(name)", value, encode: Kind.encode(event:), decode: Kind.decode(event:))
        }
        var state = Lobby.State.replay(events.prefix(4).map(\.1))
        state.apply(.invited(user: "u5", holdUntil: 1_796_000_030))
        state.apply(.banned(user: "u9"))
        state.apply(.started(gameServer: "10.0.0.5:7777", at: 1_796_000_040))
        try Self.check("lobby.state", state, encode: Kind.encode(state:), decode: Kind.decode(state:))
        try Self.check("lobby.read.get", Kind.Read.get, encode: Kind.encode(read:), decode: Kind.decode(read:))
        try Self.check(
            "lobby.reply",
            Kind.Reply(lobby: state, change: .owner),
            encode: Kind.encode(reply:),
            decode: Kind.decode(reply:)
        )
        for (name, value) in [
            ("full", Lobby.Failure.full), ("notInvited", .notInvited),
            ("invalid", .invalid(field: "data", message: "too big")),
        ] {
            try Self.check("lobby.failure.\(name)", value, encode: Kind.encode(failure:), decode: Kind.decode(failure:))
        }
        let query = Kind.Query(
            Lobby.Query(
                filters: [
                    .init(key: "level", op: .ge, value: .number(10)),
                    .init(key: "mode", op: .eq, value: .string("ctf")),
                ],
                near: ("level", 12),
                slotsAvailable: 2,
                limit: 20
            ),
            now: 1_796_000_050
        )
        try Self.check("lobby.query", query, encode: Kind.encode(query:), decode: Kind.decode(query:))
        try Self.check(
            "lobby.found",
            Kind.Found(lobbies: [state], total: 7),
            encode: Kind.encode(found:),
            decode: Kind.decode(found:)
        )
    }

    @Test func matchQueueMessages() throws {
        typealias Kind = MatchQueueKind
        let settings = Matchmaker.Settings(skillWindowStart: 100, skillWindowGrowthPerSecond: 50, ticketTTL: 300)
        let ticket = Matchmaker.Ticket(
            id: "arena.00ff",
            players: ["u1", "u2"],
            skill: 1500,
            countMin: 4,
            countMax: 8,
            countMultiple: 2,
            teams: 2,
            latencies: ["eu": 30],
            tags: ["ranked"],
            createdAt: 1_796_000_000,
            partyLobbyID: "L1"
        )
        let backfill = Matchmaker.Ticket(
            id: "arena.0100",
            players: [],
            createdAt: 1_796_000_001,
            backfillLobbyID: "L2",
            openSeats: 3
        )
        var ownedBackfill = backfill
        ownedBackfill.owner = "u9"
        let match = Matchmaker.Match(
            id: "arena.m1",
            ticketIDs: ["arena.00ff", "arena.0101"],
            teams: [["u1", "u2"], ["u3", "u4"]],
            region: "eu",
            backfillLobbyID: nil,
            createdAt: 1_796_000_005,
            playerTickets: ["u1": "arena.00ff", "u2": "arena.00ff", "u3": "arena.0101", "u4": "arena.0101"]
        )
        let commands: [(String, MatchQueue.Command)] = [
            ("enqueue", .enqueue([ticket], queue: "arena", settings: settings, ticketsMax: 100_000)),
            ("enqueueBackfill", .enqueue([backfill], queue: "arena", settings: settings, ticketsMax: 10)),
            ("cancel", .cancel(ticketID: "arena.00ff", by: "u1")),
            ("round", .round(queue: "arena", settings: settings)),
            ("delivered", .delivered(matchIDs: ["arena.m1", "arena.m2"])),
        ]
        for (name, value) in commands {
            try Self.check("queue.command.\(name)", value, encode: Kind.encode(command:), decode: Kind.decode(command:))
        }
        let events: [(String, MatchQueue.Event)] = [
            ("queued", .queued(ticket)), ("queuedBackfill", .queued(ownedBackfill)), ("matched", .matched(match)),
            ("cancelled", .cancelled(ticketID: "arena.0102")),
            ("expired", .expired(ticketIDs: ["arena.0103", "arena.0104"])),
            ("delivered", .delivered(matchID: "arena.m1")),
        ]
        for (name, value) in events {
            try Self.check("queue.event.\(name)", value, encode: Kind.encode(event:), decode: Kind.decode(event:))
        }
        let state = MatchQueue.State(
            tickets: [backfill],
            pending: [match],
            finished: [MatchQueue.Outcome(ticket: ticket, status: .matched, match: match)],
            waits: [5000],
            matches: 1
        )
        try Self.check("queue.state", state, encode: Kind.encode(state:), decode: Kind.decode(state:))
        for (name, value) in [("ticket", Kind.Read.ticket(id: "arena.00ff")), ("stats", .stats), ("pending", .pending)]
        {
            try Self.check("queue.read.\(name)", value, encode: Kind.encode(read:), decode: Kind.decode(read:))
        }
        try Self.check(
            "queue.reply",
            Kind.Reply(
                outcomes: [MatchQueue.Outcome(ticket: ticket, status: .matched, match: match)],
                matches: [match],
                stats: .init(waiting: 3, medianWaitMS: 1200, p90WaitMS: 4000)
            ),
            encode: Kind.encode(reply:),
            decode: Kind.decode(reply:)
        )
        for (name, value) in [
            ("alreadyQueued", MatchQueue.Failure.alreadyQueued), ("full", .full),
            ("invalid", .invalid(field: "players", message: "a ticket needs a player")),
        ] {
            try Self.check("queue.failure.\(name)", value, encode: Kind.encode(failure:), decode: Kind.decode(failure:))
        }
    }

    @Test func envelopes() throws {
        let record = EntityRecord(
            kind: NameReservationKind.tag,
            key: "name/username/ada",
            events: [NameReservationKind.encode(event: .confirmed(userID: "u1"))]
        )
        try Self.check("entity.record", record, encode: \.encoded, decode: EntityRecord.decode)
        #expect(
            EntityRequest<NameReservationKind>.command(.reserve(userID: "u1")).encoded
                == (try Self.bytes("entity.request.command"))
        )
        #expect(EntityRequest<UserKind>.read(.account).encoded == (try Self.bytes("entity.request.read")))
    }

    /// A newer node's fields are skipped by this one: a state with a field number this schema
    /// does not have (99) decodes to the same value.
    @Test func unknownFieldsDoNotStopAnOlderReader() throws {
        let newer = try Self.bytes("user.state.full") + [0x9A, 0x06, 0x03, 0x61, 0x62, 0x63]  // field 99: "abc"
        #expect(try UserKind.decode(state: newer) == SchemaFixtures.userState)
        // An event of a case this build does not know is refused, not taken for another.
        #expect(throws: SchemaError.self) { try UserKind.decode(event: [0xBA, 0x06, 0x00]) }  // field 103
    }

    /// Every number that is stored or crosses the wire, pinned: renumbering one breaks every
    /// node and every stored log.
    @Test func tagsArePinned() {
        #expect(UserKind.tag == 1 && UserKind.keyPrefix == "user/")
        #expect(NameReservationKind.tag == 2 && NameReservationKind.keyPrefix == "name/")
        #expect(FriendListKind.tag == 3 && FriendListKind.keyPrefix == "friends/")
        #expect(ConversationKind.tag == 4 && ConversationKind.keyPrefix == "conversation/")
        #expect(InboxKind.tag == 5 && InboxKind.keyPrefix == "inbox/")
        #expect(PresenceKind.tag == 6 && PresenceKind.keyPrefix == "presence/")
        #expect(LobbyKind.tag == 7 && LobbyKind.keyPrefix == "lobby/")
        #expect(MatchQueueKind.tag == 8 && MatchQueueKind.keyPrefix == "queue/")
        #expect(PlatformKinds.registry.kinds.map { $0.tag } == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(
            PlatformKinds.registry.kinds.map { $0.durability == .soft }
                == [false, false, false, false, false, true, false, false]
        )
        let frames: [Wire.MessageType: UInt8] = [
            .hello: 1, .challenge: 2, .proof: 3, .accept: 4, .reject: 5, .error: 6,
            .swimPing: 10, .swimPingRequest: 11, .swimAck: 12, .swimNack: 13, .swimPushPull: 14,
            .echo: 20, .replication: 30, .replicationBatch: 31, .entityRequest: 40, .entityReply: 41,
            .realtime: 50,
        ]
        #expect(Wire.MessageType.allCases.count == frames.count, "a frame type was added: pin it here")
        for type in Wire.MessageType.allCases { #expect(frames[type] == type.rawValue, "\(type)") }
        let walRecordTypes = [
            Wire.DurableRecord.promised, Wire.DurableRecord.promisedEpoch, Wire.DurableRecord.entries,
            Wire.DurableRecord.committed, Wire.DurableRecord.installed, Wire.DurableRecord.forgot,
        ]
        #expect(walRecordTypes == [1, 2, 3, 4, 5, 6])
        #expect(ShardStateContainer.version == 3)
        #expect(Wire.versionMajor == 6)
    }
}
