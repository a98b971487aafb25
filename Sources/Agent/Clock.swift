#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The daemon's source of time, injected (as Calico injects its `timeShim`) so that its tests run on a
/// clock they move by hand: no test waits for real seconds or measures them.
///
/// Instants are `Duration`s since the clock's origin, which keeps the arithmetic plain (`now + interval`).
public protocol AgentClock: Sendable {
    /// Monotonic time since this clock's origin.
    var now: Duration { get }
    /// Wall-clock time, only for timestamps people and Prometheus read (never for deciding when).
    var wallTime: Date { get }
    /// Returns once `now` has reached `deadline` (at once when it has already); throws `CancellationError`
    /// when the task is cancelled first.
    func sleep(until deadline: Duration) async throws
}

extension AgentClock {
    /// Sleeps for `duration` from now.
    public func sleep(for duration: Duration) async throws { try await sleep(until: now + duration) }
}

/// The real clock: `ContinuousClock` (monotonic, counts suspended time) from one origin per process.
public struct SystemClock: AgentClock {
    private static let origin = ContinuousClock.now

    public init() {}

    public var now: Duration { ContinuousClock.now - Self.origin }
    public var wallTime: Date { Date() }

    public func sleep(until deadline: Duration) async throws {
        try await Task.sleep(until: Self.origin + deadline, clock: .continuous)
    }
}
