import NIOCore
import Synchronization

/// A thread count that does not grow with the host's CPUs beyond what the unit's TasksMax allows.
///
/// NIO's shared event-loop group (used by the Neutron/Keystone client) and its blocking pool default to
/// one thread per CPU; the agent's I/O is a few requests at a time, so both are fixed small here. The
/// metrics server runs on one event-loop thread of its own. (Swift's cooperative pool still has one
/// thread per CPU at most, and only grows while tasks run; see packaging/metadata-route-agent.service.)
public enum ThreadBudget {
    /// Event-loop threads of the shared NIO group.
    public static let eventLoopThreads = 2
    /// Threads of NIO's pool for blocking calls.
    public static let blockingPoolThreads = 1

    /// Fixes NIO's singleton sizes; call first thing in the process (NIO allows setting them once, so
    /// later calls do nothing).
    public static func fix() {
        let first = done.withLock { d -> Bool in
            defer { d = true }
            return !d
        }
        guard first else { return }
        NIOSingletons.groupLoopCountSuggestion = eventLoopThreads
        NIOSingletons.blockingPoolThreadCountSuggestion = blockingPoolThreads
    }

    private static let done = Mutex(false)
}
