import Agent
import Foundation
import Model
import RoutePlanner
import Synchronization

/// A routing table in memory, with the kernel's semantics as `RoutePlanner.simulate` models them,
/// and failures that tests can script per destination or per operation kind.
final class InMemoryKernel: RoutingKernel {
    struct State {
        var view: KernelView
        var failures: [IPPrefix: Int32] = [:]
        var readFailure: String?
        var nexthopSupport = true
        var writes: [KernelOperation] = []
        var dumps = 0
    }
    private let state: Mutex<State>

    init(_ view: KernelView = KernelView(), nexthopSupport: Bool = true) {
        state = Mutex(State(view: view, nexthopSupport: nexthopSupport))
    }

    /// The table as it is now.
    var current: KernelView { state.withLock { $0.view } }
    /// Every write applied so far, in order.
    var writes: [KernelOperation] { state.withLock { $0.writes } }

    /// Changes the table behind the agent's back (an operator's `ip route del`, a reboot…).
    func mutate(_ body: (inout KernelView) -> Void) { state.withLock { body(&$0.view) } }
    /// Makes every write of a route to `destination` fail with `errno`; nil clears it.
    func failWrites(to destination: IPPrefix, errno: Int32?) { state.withLock { $0.failures[destination] = errno } }
    /// Makes reads fail (nil: succeed again).
    func failReads(_ message: String?) { state.withLock { $0.readFailure = message } }

    /// Kernel dumps so far.
    var dumps: Int { state.withLock { $0.dumps } }

    func view(table: UInt32, includeNexthops: Bool) throws -> KernelView {
        try state.withLock { s in
            s.dumps += 1
            if let m = s.readFailure { throw KernelAccessError(m) }
            var v = s.view
            v.routes = v.routes.filter { $0.table == table }
            if !includeNexthops { v.nexthops = [] }
            return v
        }
    }

    func apply(_ ops: [KernelOperation]) throws -> [KernelWriteError?] {
        state.withLock { s in
            ops.map { op -> KernelWriteError? in
                s.writes.append(op)
                let dst: IPPrefix?
                switch op {
                case .addRoute(let r), .replaceRoute(let r), .deleteRoute(let r): dst = r.destination
                default: dst = nil
                }
                if let d = dst, let e = s.failures[d] {
                    return KernelWriteError(code: e, name: errnoName(e), description: "\(op.summary): \(errnoName(e))")
                }
                if case .addRoute(let r) = op, s.view.routes.contains(where: {
                    $0.destination == r.destination && $0.table == r.table
                        && effectiveMetric($0) == effectiveMetric(r.metric, r.destination.family)
                }) {
                    return KernelWriteError(code: EEXIST, name: "EEXIST", description: "\(op.summary): File exists (EEXIST)")
                }
                s.view = simulate([op], on: s.view)
                return nil
            }
        }
    }

    func supportsNexthopObjects() -> Bool { state.withLock { $0.nexthopSupport } }
}
