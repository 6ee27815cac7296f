import GameDomain
import Testing

@Suite struct ConversationTests {
    private func send(_ state: inout Conversation.State, _ text: String, now: Double) throws {
        for event in try state.handle(.send(from: "a", to: "b", text: text), now: now) { state.apply(event) }
    }

    @Test func bothSidesShareOneConversation() {
        #expect(Conversation.key("alice", "bob") == Conversation.key("bob", "alice"))
    }

    @Test func textMustBeSomethingAndAtMost4KiB() throws {
        var state = Conversation.State.initial
        #expect(throws: Conversation.Failure.self) { try send(&state, "", now: 1) }
        #expect(throws: Conversation.Failure.self) { try send(&state, "  \n ", now: 1) }
        #expect(throws: Conversation.Failure.self) {
            try send(&state, String(repeating: "é", count: Conversation.textBytesMax / 2 + 1), now: 1)
        }
        try send(&state, String(repeating: "x", count: Conversation.textBytesMax), now: 1)
        #expect(state.messages.count == 1)
        #expect(throws: Conversation.Failure.self) {
            try state.handle(.send(from: "a", to: "a", text: "me"), now: 2)
        }
    }

    @Test func historyKeepsTheLastThousandAndPagesNewestFirst() throws {
        var state = Conversation.State.initial
        for index in 1...(Conversation.retainedMax + 5) { try send(&state, "m\(index)", now: Double(index)) }
        #expect(state.messages.count == Conversation.retainedMax)
        #expect(state.messages.first?.text == "m6", "the oldest five were dropped")
        let first = state.page(before: nil, limit: 3)
        #expect(first.messages.map(\.text) == ["m1005", "m1004", "m1003"])
        let second = state.page(before: first.next, limit: 3)
        #expect(second.messages.map(\.text) == ["m1002", "m1001", "m1000"])
        // Walking every page visits each retained message once, and the last page says so.
        var seen = 0
        var cursor: UInt64? = nil
        repeat {
            let page = state.page(before: cursor, limit: 100)
            seen += page.messages.count
            cursor = page.next
        } while cursor != nil
        #expect(seen == Conversation.retainedMax)
        #expect(state.page(before: nil, limit: 10_000).messages.count == Conversation.pageMax)
    }
}

@Suite struct InboxTests {
    @Test func notificationsAreReadDeletedAndPagedNewestFirst() throws {
        var inbox = Inbox.State.initial
        func run(_ command: Inbox.Command, _ now: Double) throws {
            for event in try inbox.handle(command, now: now) { inbox.apply(event) }
        }
        try run(.add(.friendRequest, data: ["from": "u2"]), 1)
        try run(.add(.message, data: ["from": "u3"]), 2)
        try run(.add(.system, data: [:]), 3)
        #expect(inbox.unreadCount == 3)
        try run(.markRead(ids: [1, 3, 99]), 4)
        #expect(inbox.unreadCount == 1 && inbox.notifications.first { $0.id == 2 }?.isRead == false)
        #expect(try inbox.handle(.markRead(ids: [1]), now: 5).isEmpty, "already read")
        try run(.delete(id: 2), 6)
        #expect(throws: Inbox.Failure.notFound) { try inbox.handle(.delete(id: 2), now: 7) }
        #expect(inbox.page(before: nil, limit: 10).notifications.map(\.id) == [3, 1])
        #expect(inbox.page(before: nil, limit: 1).next == 3)
        #expect(inbox.page(before: 3, limit: 1).notifications.map(\.id) == [1])
    }

    @Test func theInboxIsBoundedAndReplays() throws {
        var inbox = Inbox.State.initial
        var events: [Inbox.Event] = []
        for index in 0..<(Inbox.keptMax + 10) {
            let produced = try inbox.handle(.add(.system, data: ["n": "\(index)"]), now: Double(index))
            for event in produced { inbox.apply(event) }
            events += produced
        }
        #expect(inbox.notifications.count == Inbox.keptMax)
        #expect(inbox.notifications.first?.id == 11)
        #expect(Inbox.State.replay(events) == inbox)
        #expect(
            Inbox.Kind.allCases.map(\.rawValue) == [
                "friend_request", "friend_accepted", "message", "lobby_invite", "system",
            ]
        )
    }
}
