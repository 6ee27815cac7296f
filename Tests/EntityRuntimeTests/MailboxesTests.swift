import ClusterRuntime
import ClusterTestKit
import Testing

@testable import EntityRuntime

/// One command at a time per entity, a bounded queue, and no caller kept waiting past its deadline.
@Suite struct MailboxesTests {
    /// Waits (bounded: 10 s) until `count` callers are queued for `key`.
    static func waitUntil(_ mailboxes: Mailboxes, queues count: Int, for key: String) async throws {
        let queued = await eventually(timeout: .seconds(10), every: .milliseconds(5)) {
            mailboxes.waiting(for: key) == count
        }
        try #require(queued)
    }

    @Test func aCallerWhoseDeadlinePassesInTheQueueLeavesItAndTheEntityStaysUsable() async throws {
        let mailboxes = Mailboxes(depthMax: 4)
        try await mailboxes.enter("user/1", deadline: .now + .seconds(60))
        let lateDeadline = ContinuousClock.now + .milliseconds(100)
        let late = Task { try await mailboxes.enter("user/1", deadline: lateDeadline) }
        // Refused at its deadline while the holder still holds the entity: never started.
        await #expect(throws: ReplicationError.notStarted) { try await late.value }
        #expect(mailboxes.waiting(for: "user/1") == 0)

        let onTime = Task { try await mailboxes.enter("user/1", deadline: .now + .seconds(60)) }
        try await Self.waitUntil(mailboxes, queues: 1, for: "user/1")
        mailboxes.leave("user/1")
        try await onTime.value
        mailboxes.leave("user/1")
        // Nothing is left holding the entity: a caller with a short deadline gets in.
        try await mailboxes.enter("user/1", deadline: .now + .seconds(1))
        mailboxes.leave("user/1")
    }

    @Test func aFullQueueRefusesWithOverloaded() async throws {
        let mailboxes = Mailboxes(depthMax: 1)
        try await mailboxes.enter("user/1", deadline: .now + .seconds(60))
        let queued = Task { try await mailboxes.enter("user/1", deadline: .now + .seconds(60)) }
        try await Self.waitUntil(mailboxes, queues: 1, for: "user/1")
        await #expect(throws: ReplicationError.overloaded) {
            try await mailboxes.enter("user/1", deadline: .now + .seconds(60))
        }
        // Another entity is not affected.
        try await mailboxes.enter("user/2", deadline: .now + .seconds(1))
        mailboxes.leave("user/2")
        mailboxes.leave("user/1")
        try await queued.value
        mailboxes.leave("user/1")
    }
}
