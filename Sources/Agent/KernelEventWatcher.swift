#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Model
import Netlink
import Synchronization

/// Watches route and nexthop events on a thread of its own and calls `onChange` when one concerns the
/// agent's table: an owned route or nexthop deleted or replaced, a route of another protocol added,
/// or an overflow of the event socket (which means: resync from a full dump).
public final class KernelEventWatcher: Sendable {
    private let monitor: RouteEventMonitor
    private let stopped = Atomic<Bool>(false)

    public init(namespace: String?) throws {
        monitor = try RouteEventMonitor(namespace: namespace)
    }

    /// Starts the watching thread.
    /// `expected` holds the agent's own deletions: their events are not changes behind its back.
    public func start(ownership: Ownership, logger: Logger, expected: ExpectedKernelChanges? = nil, onChange: @escaping @Sendable () -> Void) {
        let monitor = self.monitor
        let started = startThread(name: "mra-route-event") { [self] in
            while !self.stopped.load(ordering: .relaxed) {
                let events: [RouteEvent]
                do {
                    events = try monitor.next(timeout: .milliseconds(500))
                } catch {
                    if !self.stopped.load(ordering: .relaxed) {
                        logger.error("route event subscription failed; relying on the interval", metadata: ["error": "\(error)"])
                    }
                    return
                }
                // Every event is looked at (each of the agent's own deletions uses up its entry).
                var changed = false
                for e in events where KernelEventWatcher.matters(e, ownership: ownership) {
                    if expected?.consume(e) == true { continue }
                    changed = true
                }
                if changed { onChange() }
            }
        }
        if !started { logger.error("cannot start the route event thread; relying on the interval") }
    }

    /// Whether an event can change what the agent should do.
    public static func matters(_ event: RouteEvent, ownership: Ownership) -> Bool {
        switch event {
        case .overflow: return true
        case .routeDeleted(let r): return ownership.owns(route: r)
        // A foreign route in the agent's table can make a tenant route overlap it.
        case .routeAdded(let r): return r.table == ownership.table && !ownership.owns(route: r) && !r.destination.isDefault
        case .nexthopDeleted(let n): return ownership.owns(nexthop: n)
        case .nexthopAdded(let n): return !ownership.owns(nexthop: n)  // someone replaced one of ours with theirs
        }
    }

    public func stop() {
        stopped.store(true, ordering: .relaxed)
        monitor.close()
    }
}

/// Deletions the agent itself is about to write, so that the kernel's notifications of them do not look like
/// someone else removing owned routes (each would cost a self-heal: a whole replan). The reconciler registers
/// every route and nexthop delete before it applies a plan; the watcher consumes one entry per event it sees.
public final class ExpectedKernelChanges: Sendable {
    private struct State {
        var routes: [IPPrefix: Int] = [:]
        var nexthops: [UInt32: Int] = [:]
    }
    private let state = Mutex(State())
    /// Beyond this many outstanding entries (events lost, say) the list is dropped: at worst a spurious heal.
    static let limit = 1_000_000

    public init() {}

    /// Before applying `operations`.
    public func expect(_ operations: [KernelOperation]) {
        state.withLock { s in
            if s.routes.count + s.nexthops.count > Self.limit { s = State() }
            for op in operations {
                switch op {
                case .deleteRoute(let r): s.routes[r.destination, default: 0] += 1
                case .deleteNexthop(let id): s.nexthops[id, default: 0] += 1
                default: continue
                }
            }
        }
    }

    /// After applying them: entries of writes that failed (the kernel announced nothing) are withdrawn.
    public func failed(_ operations: [KernelOperation], results: [KernelWriteError?]) {
        state.withLock { s in
            for (op, result) in zip(operations, results) where result != nil {
                switch op {
                case .deleteRoute(let r): Self.take(&s.routes, r.destination)
                case .deleteNexthop(let id): Self.take(&s.nexthops, id)
                default: continue
                }
            }
        }
    }

    /// True (and the entry is used up) when `event` is one of the agent's own deletions.
    public func consume(_ event: RouteEvent) -> Bool {
        state.withLock { s in
            switch event {
            case .routeDeleted(let r): return Self.take(&s.routes, r.destination)
            case .nexthopDeleted(let n): return Self.take(&s.nexthops, n.id)
            default: return false
            }
        }
    }

    @discardableResult
    private static func take<K: Hashable>(_ d: inout [K: Int], _ key: K) -> Bool {
        guard let n = d[key] else { return false }
        if n <= 1 { d[key] = nil } else { d[key] = n - 1 }
        return true
    }
}
