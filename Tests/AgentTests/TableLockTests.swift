import Foundation
import Testing
@testable import Agent

/// The one-writer lock in this process's own network namespace (abstract sockets need no privileges).
@Suite(.serialized) struct TableLockTests {
    /// A table/protocol pair no other test or agent uses.
    let table = UInt32(40_000 + getpid() % 10_000)

    @Test func aSecondWriterIsRefusedAndLearnsTheHoldersPID() throws {
        let lock = try TableLock.acquire(table: table, proto: 201, netns: nil) { _ in "unused" }
        defer { lock.release() }
        do {
            _ = try TableLock.acquire(table: table, proto: 201, netns: nil) { _ in "unused" }
            Issue.record("the second acquire succeeded")
        } catch {
            guard case .held(let h) = error else { Issue.record("unexpected \(error)"); return }
            #expect(h.pid == getpid())
        }
    }

    @Test func anotherProtocolOrTableIsAnotherLock() throws {
        let a = try TableLock.acquire(table: table, proto: 202, netns: nil) { _ in "" }
        defer { a.release() }
        let b = try TableLock.acquire(table: table, proto: 203, netns: nil) { _ in "" }
        defer { b.release() }
        let c = try TableLock.acquire(table: table + 1, proto: 202, netns: nil) { _ in "" }
        c.release()
    }

    @Test func requestsReachTheHolderAndItsAnswerComesBack() throws {
        let lock = try TableLock.acquire(table: table, proto: 204, netns: nil) { request in
            request == "force-delete" ? "ok: 3 held deletions" : "error: unknown"
        }
        defer { lock.release() }
        let h = try #require(TableLock.contact(table: table, proto: 204, netns: nil, request: "force-delete"))
        #expect(h.reply == "ok: 3 held deletions")
        #expect(h.pid == getpid())
    }

    @Test func aReleasedLockCanBeTakenAgainAndNobodyAnswersForIt() async throws {
        let lock = try TableLock.acquire(table: table, proto: 205, netns: nil) { _ in "" }
        lock.release()
        // The serving thread closes the socket once accept() returns; give it a moment (bounded).
        var again: TableLock?
        for _ in 0..<200 where again == nil {
            again = try? TableLock.acquire(table: table, proto: 205, netns: nil) { _ in "" }
            if again == nil { try await Task.sleep(for: .milliseconds(5)) }
        }
        let second = try #require(again)
        second.release()
        try await Task.sleep(for: .milliseconds(50))
        #expect(TableLock.contact(table: table, proto: 206, netns: nil, request: nil) == nil)
    }
}
