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
    public func start(ownership: Ownership, logger: Logger, onChange: @escaping @Sendable () -> Void) {
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
                if events.contains(where: { KernelEventWatcher.matters($0, ownership: ownership) }) { onChange() }
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
