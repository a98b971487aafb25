import Foundation
import Synchronization
@testable import Agent

/// A clock that moves only when a test moves it. Sleepers wake when `advance` reaches their deadline;
/// `sleeping(until:)` lets a test wait (without wall time) until some task sleeps until a given instant.
final class TestClock: AgentClock {
    private struct Sleeper {
        let id: Int
        let deadline: Duration
        let continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var now: Duration = .zero
        var nextID = 0
        var sleepers: [Sleeper] = []
        var cancelledBeforeSleeping: Set<Int> = []
        var watchers: [(deadline: Duration, continuation: CheckedContinuation<Void, Never>)] = []
    }
    private let state = Mutex(State())
    /// The wall time at `now == .zero`.
    let wallOrigin = Date(timeIntervalSince1970: 1_800_000_000)

    var now: Duration { state.withLock { $0.now } }
    var wallTime: Date {
        let (s, atto) = now.components
        return wallOrigin.addingTimeInterval(Double(s) + Double(atto) / 1e18)
    }
    /// The deadlines tasks are sleeping until now.
    var deadlines: [Duration] { state.withLock { $0.sleepers.map(\.deadline).sorted() } }

    func sleep(until deadline: Duration) async throws {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                state.withLock { s in
                    if s.cancelledBeforeSleeping.remove(id) != nil { return c.resume(throwing: CancellationError()) }
                    if deadline <= s.now { return c.resume() }
                    s.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: c))
                    let ready = s.watchers.filter { $0.deadline == deadline }
                    s.watchers.removeAll { $0.deadline == deadline }
                    for w in ready { w.continuation.resume() }
                }
            }
        } onCancel: {
            state.withLock { s in
                if let i = s.sleepers.firstIndex(where: { $0.id == id }) {
                    s.sleepers.remove(at: i).continuation.resume(throwing: CancellationError())
                } else {
                    s.cancelledBeforeSleeping.insert(id)
                }
            }
        }
    }

    /// Moves time to `instant` (never backwards) and wakes every sleeper whose deadline has come.
    func advance(to instant: Duration) {
        state.withLock { s in
            s.now = max(s.now, instant)
            let now = s.now
            let due = s.sleepers.filter { $0.deadline <= now }
            s.sleepers.removeAll { $0.deadline <= now }
            for sleeper in due { sleeper.continuation.resume() }
        }
    }

    func advance(by duration: Duration) { advance(to: now + duration) }

    /// Returns once some task sleeps until exactly `deadline` (at once if one already does).
    func sleeping(until deadline: Duration) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            state.withLock { s in
                if s.sleepers.contains(where: { $0.deadline == deadline }) { c.resume() } else { s.watchers.append((deadline, c)) }
            }
        }
    }
}
