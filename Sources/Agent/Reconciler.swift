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
import RoutePlanner

/// What one reconcile did.
public struct ReconcileReport: Sendable {
    public var plan: RoutePlan
    /// Route-level changes that reached the kernel.
    public var applied: [PlannedChange]
    /// Route-level changes that failed, with the kernel's reason.
    public var failed: [FailedChange]
    /// Kernel writes that failed (including nexthop objects).
    public var failedOperations: [FailedOperation]
    /// Whether nexthop objects were used.
    public var nexthopObjects: Bool
    /// True when the plan was computed but not applied (`plan`).
    public var dryRun: Bool
    /// Route deletions the deletion brake held back (not in `plan`).
    public var held: [PlannedChange] = []

    /// True when every write succeeded: the kernel now matches the plan.
    public var converged: Bool { failedOperations.isEmpty }
}

public struct FailedChange: Sendable, Hashable {
    public var change: PlannedChange
    public var error: KernelWriteError
}

public struct FailedOperation: Sendable, Hashable {
    public var operation: KernelOperation
    public var error: KernelWriteError
}

/// A reconcile could not read its inputs; nothing was changed.
public enum ReconcileError: Error, Sendable, CustomStringConvertible {
    case neutron(String)
    case kernel(String)

    public var description: String {
        switch self {
        case .neutron(let m): return "cannot read Neutron: \(m)"
        case .kernel(let m): return "cannot read the kernel: \(m)"
        }
    }
}

/// One reconcile: Neutron snapshot + kernel dump → plan → apply → report. Holds no state between calls
/// but the resolved nexthop mode.
public struct Reconciler: Sendable {
    public let kernel: any RoutingKernel
    public let settings: Settings
    public let logger: Logger
    public let metrics: AgentMetrics?
    /// Resolved from `settings.nexthopMode` and the kernel's abilities.
    public let useNexthopObjects: Bool
    /// Whether the kernel has nexthop objects at all (owned ones are read even in classic mode, to clean them up).
    let kernelHasNexthops: Bool
    /// Where the daemon's kernel event watcher learns of the agent's own deletions (nil: no watcher).
    public var expectedChanges: ExpectedKernelChanges?

    public init(kernel: any RoutingKernel, settings: Settings, logger: Logger, metrics: AgentMetrics? = nil) throws(ConfigError) {
        self.kernel = kernel
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        let supported = kernel.supportsNexthopObjects()
        kernelHasNexthops = supported
        switch settings.nexthopMode {
        case .auto: useNexthopObjects = supported
        case .classic: useNexthopObjects = false
        case .objects:
            guard supported else {
                throw ConfigError("nexthop-mode objects needs kernel nexthop objects (Linux 5.3+), which this kernel lacks; use --nexthop-mode auto or classic")
            }
            useNexthopObjects = true
        }
    }

    public var policy: Policy { settings.policy(useNexthopObjects: useNexthopObjects) }

    /// The kernel as the planner sees it.
    public func readKernel() throws(ReconcileError) -> KernelView {
        do {
            return try kernel.view(table: settings.table, includeNexthops: kernelHasNexthops)
        } catch {
            throw .kernel("\(error)")
        }
    }

    /// The plan for `snapshot` against the kernel now; with `apply`, carries it out. `gate` (the deletion
    /// brake) may hold deletions back; they are reported in `held`.
    public func reconcile(snapshot: CloudSnapshot, apply: Bool,
                          gate: ((RoutePlan, KernelView) -> BrakedPlan)? = nil) throws(ReconcileError) -> ReconcileReport {
        var none: IncrementalPlanner?
        return try reconcile(snapshot: snapshot, apply: apply, gate: gate, tracking: false, planner: &none)
    }

    /// The same reconcile through an `IncrementalPlanner` (its full plan is makePlan's), which is returned with
    /// the applied writes recorded, ready to plan deltas (`apply(_:planner:gate:)`).
    public func reconcileTracking(snapshot: CloudSnapshot, gate: ((RoutePlan, KernelView) -> BrakedPlan)? = nil)
        throws(ReconcileError) -> (report: ReconcileReport, planner: IncrementalPlanner) {
        var planner: IncrementalPlanner?
        let report = try reconcile(snapshot: snapshot, apply: true, gate: gate, tracking: true, planner: &planner)
        return (report, planner!)
    }

    /// Carries out a delta (the plan of what notifications changed, `IncrementalPlanner.update`) without reading
    /// the kernel: the planner's state is the kernel as the agent left it (a change by anyone else wakes the
    /// self-heal, which plans everything again). `gate` is the deletion brake.
    public func apply(_ delta: PlanDelta, planner: inout IncrementalPlanner,
                      gate: (RoutePlan) -> BrakedPlan) throws(ReconcileError) -> ReconcileReport {
        let braked = gate(RoutePlan(changes: delta.changes, operations: delta.operations))
        let plan = braked.plan
        guard !plan.operations.isEmpty else {
            planner.record([], results: [])
            return ReconcileReport(plan: plan, applied: [], failed: [], failedOperations: [],
                                   nexthopObjects: useNexthopObjects, dryRun: false, held: braked.held)
        }
        let results: [KernelWriteError?]
        do {
            results = try write(plan.operations)
        } catch {
            planner.record(plan.operations, results: plan.operations.map { _ in false })
            throw error
        }
        planner.record(plan.operations, results: results.map { $0 == nil })
        var done = report(plan: plan, view: KernelView(), results: results)
        done.held = braked.held
        return done
    }

    private func reconcile(snapshot: CloudSnapshot, apply: Bool, gate: ((RoutePlan, KernelView) -> BrakedPlan)?,
                           tracking: Bool, planner tracked: inout IncrementalPlanner?) throws(ReconcileError) -> ReconcileReport {
        let clock = ContinuousClock()
        let start = clock.now
        let view = try readKernel()
        let read = clock.now
        var plan: RoutePlan
        if tracking {
            let p = IncrementalPlanner(snapshot: snapshot, kernel: view, policy: policy)
            plan = p.fullPlan
            tracked = p
        } else {
            plan = makePlan(snapshot: snapshot, kernel: view, policy: policy)
        }
        var held: [PlannedChange] = []
        if let gate { (plan, held) = { let b = gate(plan, view); return (b.plan, b.held) }() }
        let planned = clock.now
        func logTimings(applied: ContinuousClock.Instant) {
            func ms(_ d: Duration) -> String { fixed(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000, 1) }
            logger.debug("reconcile timings", metadata: [
                "kernel_read_ms": "\(ms(read - start))", "plan_ms": "\(ms(planned - read))", "apply_ms": "\(ms(applied - planned))",
                "operations": "\(plan.operations.count)", "kernel_routes": "\(view.routes.count)", "kernel_nexthops": "\(view.nexthops.count)",
            ])
        }
        guard apply, !plan.operations.isEmpty else {
            tracked?.record(plan.operations, results: plan.operations.map { _ in apply })
            logTimings(applied: planned)
            return ReconcileReport(plan: plan, applied: [], failed: [], failedOperations: [],
                                   nexthopObjects: useNexthopObjects, dryRun: !apply, held: held)
        }
        let results = try write(plan.operations)
        tracked?.record(plan.operations, results: results.map { $0 == nil })
        logTimings(applied: clock.now)
        var done = report(plan: plan, view: view, results: results)
        done.held = held
        return done
    }

    /// Applies `operations`, telling the kernel event watcher first which deletions are the agent's own.
    private func write(_ operations: [KernelOperation]) throws(ReconcileError) -> [KernelWriteError?] {
        expectedChanges?.expect(operations)
        do {
            let results = try kernel.apply(operations)
            expectedChanges?.failed(operations, results: results)
            return results
        } catch {
            expectedChanges?.failed(operations, results: operations.map { _ in KernelWriteError(code: 5, name: "EIO", description: "not applied") })
            throw .kernel("\(error)")
        }
    }

    /// Deletes every route and nexthop the agent owns (the plan for an empty cloud), and nothing else.
    public func cleanup() throws(ReconcileError) -> ReconcileReport {
        try reconcile(snapshot: CloudSnapshot(), apply: true)
    }

    /// Pairs each route-level change with the kernel writes it depends on, so a failed nexthop write
    /// shows up as a failure of every route that uses it.
    func report(plan: RoutePlan, view: KernelView, results: [KernelWriteError?]) -> ReconcileReport {
        var failedOps: [FailedOperation] = []
        var routeError: [IPPrefix: KernelWriteError] = [:]
        var nexthopError: [UInt32: KernelWriteError] = [:]
        var nexthopOf: [IPPrefix: UInt32] = [:]
        let ownership = settings.ownership
        for r in view.routes where ownership.owns(route: r) {
            if let id = r.nexthopID { nexthopOf[r.destination] = id }
        }
        for (op, result) in zip(plan.operations, results) {
            switch op {
            case .addRoute(let r), .replaceRoute(let r):
                if case .nexthop(let id) = r.target { nexthopOf[r.destination] = id }
                if let e = result { routeError[r.destination] = e }
            case .deleteRoute(let r):
                if let e = result { routeError[r.destination] = e }
            case .addNexthop(let n), .replaceNexthop(let n):
                if let e = result { nexthopError[n.id] = e }
            case .deleteNexthop(let id):
                if let e = result { nexthopError[id] = e }
            }
            if let e = result { failedOps.append(FailedOperation(operation: op, error: e)) }
        }
        var applied: [PlannedChange] = []
        var failed: [FailedChange] = []
        for change in plan.changes {
            let error = routeError[change.destination]
                ?? nexthopOf[change.destination].flatMap { nexthopError[$0] }
            if let e = error, change.action != .delete || routeError[change.destination] != nil {
                failed.append(FailedChange(change: change, error: e))
            } else {
                applied.append(change)
            }
        }
        return ReconcileReport(plan: plan, applied: applied, failed: failed, failedOperations: failedOps,
                               nexthopObjects: useNexthopObjects, dryRun: false)
    }
}
