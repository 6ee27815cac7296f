import ClusterRuntime
import Testing

@testable import PlatformServices

/// One command at a time per entity, and none run for a caller whose deadline passed in the queue.
@Suite struct MailboxesTests {
    @Test func aCommandWhoseDeadlinePassedInTheQueueIsNotRunAndTheEntityStaysUsable() async throws {
        let mailboxes = Mailboxes(depthMax: 4)
        try await mailboxes.enter("user/1", deadline: .now + .seconds(60))
        let late = Task { try await mailboxes.enter("user/1", deadline: .now + .milliseconds(50)) }
        let onTime = Task { try await mailboxes.enter("user/1", deadline: .now + .seconds(60)) }
        try await Task.sleep(for: .milliseconds(300))
        mailboxes.leave("user/1")
        // Whichever of the two was queued first, the one on time gets the entity and the late
        // one is refused when its turn comes.
        try await onTime.value
        mailboxes.leave("user/1")
        await #expect(throws: ReplicationError.timeout) { try await late.value }
        // Nothing is left holding the entity.
        try await mailboxes.enter("user/1", deadline: .now + .seconds(1))
        mailboxes.leave("user/1")
    }

    @Test func aFullQueueRefusesWithOverloaded() async throws {
        let mailboxes = Mailboxes(depthMax: 1)
        try await mailboxes.enter("user/1", deadline: .now + .seconds(60))
        let queued = Task { try await mailboxes.enter("user/1", deadline: .now + .seconds(60)) }
        try await Task.sleep(for: .milliseconds(100))
        await #expect(throws: EntityError.self) { try await mailboxes.enter("user/1", deadline: .now + .seconds(60)) }
        mailboxes.leave("user/1")
        try await queued.value
        mailboxes.leave("user/1")
    }
}
