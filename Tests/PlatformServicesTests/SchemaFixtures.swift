import GameDomain

/// Values of every message of every platform kind, for the golden-bytes test.
enum SchemaFixtures {
    static let change = User.ProfileChange(
        displayName: "Ada L.",
        bio: "first ✓",
        avatarURL: .some(nil),
        country: .some("GB")
    )
    static let profile = User.Profile(
        displayName: "Ada L.",
        bio: "first ✓",
        avatarURL: "https://x/a.png",
        country: "GB"
    )

    static let userCommands: [(String, User.Command)] = [
        ("create", .create(id: "u1", username: "Ada", email: "ada@example.com", passwordHash: "scrypt$h")),
        ("updateProfile", .updateProfile(change)),
        ("updateProfileEmpty", .updateProfile(User.ProfileChange())),
        (
            "updateProfileInSession",
            .updateProfileInSession(sessionID: "s1", User.ProfileChange(avatarURL: .some("https://x/b.png")))
        ),
        ("openSession", .openSession(id: "s1", refreshTokenHash: "h1", expiresAt: 1_795_000_000.5)),
        ("refresh", .refresh(sessionID: "s1", presentedHash: "h1", newHash: "h2", expiresAt: 1_795_000_900.25)),
        ("closeSession", .closeSession(id: "s1")),
    ]

    static let userEvents: [(String, User.Event)] = [
        (
            "created",
            .created(id: "u1", username: "Ada", email: "ada@example.com", passwordHash: "scrypt$h", at: 1_795_000_000)
        ),
        ("profileUpdated", .profileUpdated(profile)),
        ("profileUpdatedBare", .profileUpdated(User.Profile(displayName: "Ada"))),
        ("sessionOpened", .sessionOpened(id: "s1", refreshTokenHash: "h1", expiresAt: 1_795_000_000.5)),
        ("refreshRotated", .refreshRotated(id: "s1", refreshTokenHash: "h2", expiresAt: 1_795_000_900.25)),
        ("sessionRevokedLogout", .sessionRevoked(id: "s1", reason: .logout)),
        ("sessionRevokedReused", .sessionRevoked(id: "s1", reason: .refreshTokenReused)),
        ("sessionsForgotten", .sessionsForgotten(ids: ["s1", "s2"])),
    ]

    static var userState: User.State {
        var state = User.State()
        state.id = "u1"
        state.username = "Ada"
        state.email = "ada@example.com"
        state.passwordHash = "scrypt$h"
        state.profile = profile
        state.createdAt = 1_795_000_000
        state.sessions["s2"] = User.Session(
            id: "s2",
            refreshTokenHash: "h2",
            expiresAt: 1_795_000_900.25,
            isRevoked: true
        )
        state.sessions["s1"] = User.Session(
            id: "s1",
            refreshTokenHash: "h1",
            expiresAt: 1_795_000_000.5,
            isRevoked: false
        )
        return state
    }

    /// A session that rotated its refresh token twice (schema 2026-12: the hashes it rotated away from).
    static var rotatedState: User.State {
        var state = userState
        state.sessions["s1"]?.previousRefreshTokenHashes = ["h0", "g0"]
        return state
    }

    static let userStates: [(String, User.State)] = [
        ("full", userState), ("initial", .initial), ("rotated", rotatedState),
    ]

    static let userFailures: [(String, User.Failure)] = [
        ("alreadyExists", .alreadyExists), ("notFound", .notFound),
        ("invalid", .invalid(field: "bio", message: "too long")),
        ("sessionInvalid", .sessionInvalid), ("sessionRevoked", .sessionRevoked),
    ]

    static let nameCommands: [(String, NameReservation.Command)] = [
        ("reserve", .reserve(userID: "u1")), ("confirm", .confirm(userID: "u1")), ("release", .release(userID: "u1")),
    ]

    static let nameEvents: [(String, NameReservation.Event)] = [
        ("reserved", .reserved(userID: "u1", at: 1_795_000_000.75)), ("confirmed", .confirmed(userID: "u1")),
        ("released", .released(userID: "u1")),
    ]

    static var nameState: NameReservation.State {
        var state = NameReservation.State()
        state.owner = "u1"
        state.reservedAt = 1_795_000_000.75
        state.isConfirmed = true
        return state
    }

    static let nameStates: [(String, NameReservation.State)] = [("confirmed", nameState), ("initial", .initial)]

    static let nameFailures: [(String, NameReservation.Failure)] = [
        ("taken", .taken), ("notReservedBy", .notReservedBy("u2")),
    ]
}

/// The social kinds' values (friend lists, conversations, inboxes).
extension SchemaFixtures {
    static let friendCommands: [(String, FriendList.Command)] = [
        ("request", .request(from: "u1", to: "u2")),
        ("requested", .requested(from: "u1", to: "u2")),
        ("remove", .remove("u2")),
        ("removed", .removed(by: "u1")),
        ("block", .block("u2")),
        ("blocked", .blocked(by: "u1")),
        ("unblock", .unblock("u2")),
        ("unblocked", .unblocked(by: "u1")),
        ("settle", .settle(other: "u2", .requested)),
    ]

    static let friendEvents: [(String, FriendList.Event)] = [
        ("linked", .linked(other: "u2", .requestSent, at: 1_795_000_000)),
        ("unlinked", .unlinked(other: "u2", at: 1_795_000_001)),
        ("blocking", .blocking(other: "u2", true, at: 1_795_000_002)),
        ("blockedBy", .blockedBy(other: "u1", false, at: 1_795_000_003)),
        ("owes", .owes(other: "u2", .blocked)),
        ("settled", .settled(other: "u2")),
    ]

    static let friendStates: [(String, FriendList.State)] = [
        ("initial", FriendList.State()),
        (
            "full",
            FriendList.State(
                relationships: [
                    "u2": FriendList.Relationship(link: .friend, since: 1_795_000_000),
                    "u3": FriendList.Relationship(link: .requestReceived, since: 1_795_000_001.5),
                    "u4": FriendList.Relationship(blocking: true, blockedBy: true, since: 1_795_000_002),
                ],
                owed: ["u3": .removed, "u4": .unblocked]
            )
        ),
    ]

    static let friendFailures: [(String, FriendList.Failure)] = [
        ("cannotFriendSelf", .cannotFriendSelf), ("blocked", .blocked), ("friendLimit", .friendLimit),
    ]

    static let message = Conversation.Message(seq: 7, from: "u1", to: "u2", text: "gg ✓", sentAt: 1_795_000_000.25)

    static let notification = Inbox.Notification(
        id: 3,
        kind: .friendRequest,
        data: ["from": "u1", "username": "ada"],
        createdAt: 1_795_000_000,
        isRead: true
    )
}
