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
import ServiceLifecycle
import Synchronization

/// Why the daemon's loop woke up.
public enum Wakeup: Sendable, Hashable {
    /// The interval (or the backoff after a failed read) ran out.
    case timer
    /// An owned route or nexthop changed behind the agent's back, or the event socket overflowed.
    case kernelEvent
    /// SIGHUP: reload the configuration file.
    case reload
    /// SIGTERM/SIGINT.
    case shutdown
}

/// A one-slot-per-kind mailbox: posts from any thread, one async waiter with a deadline.
final class Mailbox: Sendable {
    private struct State {
        var pending: [Wakeup] = []
        var waiter: CheckedContinuation<Wakeup, Never>?
        var generation = 0
    }
    private let state = Mutex(State())

    func post(_ wakeup: Wakeup) {
        state.withLock { s in
            if let w = s.waiter {
                s.waiter = nil
                w.resume(returning: wakeup)
            } else if !s.pending.contains(wakeup) {
                s.pending.append(wakeup)
            }
        }
    }

    /// The next posted wakeup, or `.timer` once `deadline` has passed on `clock`.
    func next(until deadline: Duration, clock: any AgentClock) async -> Wakeup {
        let generation = state.withLock { s -> Int in
            s.generation += 1
            return s.generation
        }
        let timer = Task {
            try? await clock.sleep(until: deadline)
            if !Task.isCancelled { self.fire(generation) }
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { c in
            state.withLock { s in
                if s.pending.isEmpty {
                    s.waiter = c
                } else {
                    // Shutdown first, then whatever came first.
                    let i = s.pending.firstIndex(of: .shutdown) ?? 0
                    c.resume(returning: s.pending.remove(at: i))
                }
            }
        }
    }

    private func fire(_ generation: Int) {
        state.withLock { s in
            if s.generation == generation, let w = s.waiter {
                s.waiter = nil
                w.resume(returning: .timer)
            }
        }
    }

    /// Drops pending kernel events (they are folded into the reconcile about to run).
    func drain(_ wakeup: Wakeup) { state.withLock { $0.pending.removeAll { $0 == wakeup } } }
}

/// The daemon: reconcile at the interval (with jitter) and at once when the kernel loses an owned route;
/// keep the kernel as it is while Neutron cannot be read, retrying with capped exponential backoff.
///
/// Run it as a `Service` in a `ServiceGroup` that maps SIGTERM/SIGINT to graceful shutdown: the loop
/// finishes the reconcile in progress and returns, leaving routes in place unless `cleanupOnExit` is set.
public final class Daemon: Service, Sendable {
    /// Builds what a reconcile needs from settings; called at start and on every reload.
    public typealias Wiring = @Sendable (Settings) throws -> (any SnapshotSource, Reconciler)

    private struct State {
        var settings: Settings
        var source: any SnapshotSource
        var reconciler: Reconciler
        var lastSnapshot: CloudSnapshot?
        var lastSuccess: Duration?
        var consecutiveFailures = 0
        var knownRefusals: Set<String> = []
        var cycles = 0
        /// Tests waiting for the loop to finish a number of cycles.
        var cycleWaiters: [(cycles: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>
    private let mailbox = Mailbox()
    private let wiring: Wiring
    private let reloadSettings: @Sendable () throws -> Settings
    public let logger: Logger
    public let metrics: AgentMetrics?
    private let randomJitter: @Sendable () -> Double
    /// Where the loop reads the time and sleeps (a test clock in tests).
    public let clock: any AgentClock
    /// How long a burst of kernel events may settle before the replan.
    static let settleTime = Duration.milliseconds(50)
    /// The deletion brake's and the scope check's state.
    public let safeguards: Safeguards

    public init(settings: Settings, logger: Logger, metrics: AgentMetrics?,
                reloadSettings: @escaping @Sendable () throws -> Settings,
                jitter: @escaping @Sendable () -> Double = { Double.random(in: 0.9...1.1) },
                clock: any AgentClock = SystemClock(),
                wiring: @escaping Wiring) throws {
        let (source, reconciler) = try wiring(settings)
        state = Mutex(State(settings: settings, source: source, reconciler: reconciler))
        self.wiring = wiring
        self.reloadSettings = reloadSettings
        self.logger = logger
        self.metrics = metrics
        self.randomJitter = jitter
        self.clock = clock
        self.safeguards = Safeguards(brake: settings.deletionBrake, confirmAfter: settings.deleteConfirmAfter.delay)
    }

    /// Tells the loop that the kernel changed under it (the event monitor calls this).
    public func kernelChanged() { mailbox.post(.kernelEvent) }
    /// Asks for a configuration reload (SIGHUP).
    public func reload() { mailbox.post(.reload) }
    /// Asks the loop to stop after the reconcile in progress.
    public func stop() { mailbox.post(.shutdown) }
    /// Operator confirmation (`sync --force-delete`): a full reconcile now that carries out held deletions.
    public func forceDelete() -> String {
        let held = safeguards.held.count
        safeguards.requestForce()
        mailbox.post(.timer)
        return "ok: PID \(getpid()) carries out its \(held) held deletion(s) now"
    }

    /// Ready when a reconcile read everything within the last three intervals.
    public func readiness() -> (Bool, String) {
        let now = clock.now
        return state.withLock { s in
            guard let last = s.lastSuccess else { return (false, "not ready: no successful sync yet") }
            let age = now - last
            let limit = Duration.seconds(clamping: 3 * s.settings.interval)
            if age <= limit { return (true, "ready: last successful sync \(humanDuration(age)) ago" + heldNote(safeguards.held.count)) }
            return (false, "not ready: last successful sync \(Int(age.components.seconds)) s ago (limit \(Int(3 * s.settings.interval)) s)")
        }
    }

    /// Number of loop iterations so far (for tests).
    public var cycles: Int { state.withLock { $0.cycles } }
    /// The settings in force (they change on reload).
    public var settings: Settings { state.withLock { $0.settings } }

    /// Returns once the loop has finished `count` cycles and is waiting for the next wakeup (for tests: they
    /// wait for the loop, not for time).
    func waitForCycles(_ count: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            state.withLock { s in
                if s.cycles >= count { c.resume() } else { s.cycleWaiters.append((count, c)) }
            }
        }
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await loop()
        } onGracefulShutdown: {
            self.stop()
        }
    }

    func loop() async throws {
        var nextFull = clock.now
        var wake = Wakeup.timer
        while true {
            switch wake {
            case .shutdown:
                try finish()
                await state.withLock { $0.source }.close()
                return
            case .timer:
                nextFull = await fullReconcile()
            case .reload:
                await applyReload()
                nextFull = await fullReconcile()
            case .kernelEvent:
                // Let a burst of events settle, then replan against the last snapshot (no API call).
                try? await clock.sleep(for: Self.settleTime)
                mailbox.drain(.kernelEvent)
                healFromKernelEvent()
            }
            state.withLock { s in
                s.cycles += 1
                let cycles = s.cycles
                for w in s.cycleWaiters where w.cycles <= cycles { w.continuation.resume() }
                s.cycleWaiters.removeAll { $0.cycles <= cycles }
            }
            wake = await mailbox.next(until: nextFull, clock: clock)
        }
    }

    /// Reads Neutron and the kernel, applies the plan; returns when the next full reconcile is due.
    func fullReconcile() async -> Duration {
        let (source, settings) = state.withLock { ($0.source, $0.settings) }
        let start = clock.now
        let snapshot: CloudSnapshot
        do {
            snapshot = try await source.read()
        } catch {
            return failStatic(kind: "neutron_error", error: "\(error)", settings: settings)
        }
        let projects = visibleProjects(snapshot)
        if safeguards.shouldWarnOwnProject(seesOnlyOwnProject(snapshot, ownProject: await source.credentialProject())),
           let own = projects.first {
            logger.warning("\(ownProjectWarning(own))")
        }
        if let shrank = safeguards.checkScope(projects) {
            return failStatic(kind: "scope_shrank", error: shrank, settings: settings)
        }
        state.withLock { $0.lastSnapshot = snapshot }
        guard reconcile(snapshot: snapshot, start: start, trigger: "interval") else {
            return failStatic(kind: "kernel_error", error: nil, settings: settings)
        }
        return clock.now + .seconds(clamping: settings.interval * randomJitter())
    }

    /// After a failed read: keep the kernel as it is, log, back off.
    private func failStatic(kind: String, error: String?, settings: Settings) -> Duration {
        let failures = state.withLock { s -> Int in
            s.consecutiveFailures += 1
            return s.consecutiveFailures
        }
        let delay = min(settings.maxBackoff, settings.interval * pow(2, Double(min(failures - 1, 20)))) * randomJitter()
        if let error {
            logger.warning("read failed; keeping routes as they are", metadata: [
                "error": "\(error)", "attempt": "\(failures)", "retry_in": "\(fixed(delay, 1))s",
            ])
        }
        metrics?.recordReadFailure(kind: kind, consecutive: failures)
        return clock.now + .seconds(clamping: delay)
    }

    private func healFromKernelEvent() {
        guard let snapshot = state.withLock({ $0.lastSnapshot }) else { return }
        metrics?.recordSelfHeal()
        _ = reconcile(snapshot: snapshot, start: clock.now, trigger: "kernel_event")
    }

    /// One reconcile against a snapshot; false when the kernel could not be read or written at all.
    @discardableResult
    func reconcile(snapshot: CloudSnapshot, start: Duration, trigger: String) -> Bool {
        let (reconciler, dryRun) = state.withLock { ($0.reconciler, $0.settings.dryRun) }
        let report: ReconcileReport
        let safeguards = self.safeguards, settings = reconciler.settings
        let decisions = Mutex<Safeguards.Decision?>(nil)
        do {
            report = try reconciler.reconcile(snapshot: snapshot, apply: !dryRun) { plan, view in
                if trigger == "kernel_event" { return safeguards.decideForKernelEvent(plan) }
                let d = safeguards.decide(plan, kernel: view, ownership: settings.ownership, now: self.clock.now)
                decisions.withLock { $0 = d }
                return d.braked
            }
        } catch {
            logger.error("kernel access failed; nothing changed", metadata: ["error": "\(error)"])
            return false
        }
        if dryRun { logDryRun(report, logger: logger) } else { logReport(report, logger: logger, trigger: trigger) }
        if let d = decisions.withLock({ $0 }) { logBrake(d, totalHeld: report.held.count, brake: settings.deletionBrake, logger: logger) }
        if trigger != "kernel_event" { metrics?.recordHeldDeletions(report.held.count) }
        let now = clock.now
        let newRefusals = state.withLock { s -> [Refusal] in
            let keys = report.plan.refused.map(refusalKey)
            let fresh = zip(keys, report.plan.refused).filter { !s.knownRefusals.contains($0.0) }.map(\.1)
            s.knownRefusals = Set(keys)
            s.consecutiveFailures = 0
            s.lastSuccess = now
            return fresh
        }
        for r in newRefusals { logRefusal(r, logger: logger) }
        if let metrics {
            let installed = report.plan.desired.count - report.failed.filter { $0.change.action == .add }.count
            metrics.recordReconcile(report, installedRoutes: installed, duration: clock.now - start, at: clock.wallTime)
        }
        return true
    }

    /// SIGHUP: reads the configuration again. Options that a running daemon can change take effect (the Neutron
    /// source and the reconciler are rebuilt, so rotated credentials are picked up too); options that need a
    /// restart keep their running values and say so. When anything fails (the file, a value, building the
    /// client), the running configuration stays as it is, and the log says so.
    private func applyReload() async {
        let current = state.withLock { $0.settings }
        var fresh: Settings
        do {
            fresh = try reloadSettings()
        } catch {
            logger.error("reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
            return
        }
        let changed = fresh.changedOptions(comparedTo: current)
        let needRestart = changed.filter(\.needsRestart)
        for option in needRestart {
            let ownership = ["table", "protocol", "netns"].contains(option.name)
            logger.warning("\(option.name) needs a restart to change; still using the running value", metadata: [
                "option": "\(option.name)", "running": "\(option.text(in: current))", "configured": "\(option.text(in: fresh))",
                "hint": "\(ownership ? "run cleanup with the old value, then restart with the new one" : "restart the agent")",
            ])
            option.copy(from: current, to: &fresh)
        }
        let live = changed.filter { !$0.needsRestart }.map(\.name)
        let source: any SnapshotSource, reconciler: Reconciler
        do {
            (source, reconciler) = try wiring(fresh)
        } catch {
            logger.error("reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
            return
        }
        safeguards.update(brake: fresh.deletionBrake, confirmAfter: fresh.deleteConfirmAfter.delay)
        let old = state.withLock { s -> any SnapshotSource in
            let old = s.source
            s.settings = fresh
            s.source = source
            s.reconciler = reconciler
            return old
        }
        await old.close()
        if !live.isEmpty || needRestart.isEmpty {
            logger.notice("configuration reloaded", metadata: [
                "source": "\(source.label)", "changed": "\(live.isEmpty ? "nothing" : live.joined(separator: ","))",
            ])
        } else {
            logger.notice("configuration read again; only options that need a restart changed", metadata: ["source": "\(source.label)"])
        }
    }

    private func finish() throws {
        let (reconciler, cleanup) = state.withLock { ($0.reconciler, $0.settings.cleanupOnExit) }
        guard cleanup else {
            logger.notice("stopping; routes stay in place")
            return
        }
        do {
            let report = try reconciler.cleanup()
            logReport(report, logger: logger, trigger: "cleanup_on_exit")
            logger.notice("stopped and removed owned routes", metadata: ["deleted": "\(report.applied.count)"])
        } catch {
            logger.error("cleanup on exit failed", metadata: ["error": "\(error)"])
        }
    }
}

func refusalKey(_ r: Refusal) -> String {
    "\(r.reason.rawValue)|\(r.destination.map { "\($0)" } ?? "")|\(r.subnetID ?? "")|\(r.routerID)|\(r.nextHop.map { "\($0)" } ?? "")"
}

/// One log line per change and per failed write.
public func logReport(_ report: ReconcileReport, logger: Logger, trigger: String) {
    for c in report.applied {
        var m: Logger.Metadata = ["dst": "\(c.destination)"]
        if let nh = c.nextHop { m["via"] = "\(nh)" }
        if let old = c.previousNextHop { m["previous_via"] = "\(old)" }
        if let r = c.routerID { m["router"] = "\(r)" }
        if let s = c.subnetID { m["subnet"] = "\(s)" }
        if trigger != "interval" { m["trigger"] = "\(trigger)" }
        let verb = c.action == .add ? "added" : c.action == .replace ? "replaced" : "deleted"
        logger.info("route \(verb)", metadata: m)
    }
    for f in report.failedOperations {
        logger.error("kernel write failed", metadata: ["op": "\(f.operation.summary)", "error": "\(f.error)", "errno": "\(f.error.name)"])
    }
}

/// A refusal as one log line (logged when it first appears, not every cycle).
public func logRefusal(_ r: Refusal, logger: Logger) {
    var m: Logger.Metadata = ["reason": "\(r.reason.rawValue)", "router": "\(r.routerID)", "detail": "\(r.message)"]
    if let d = r.destination { m["dst"] = "\(d)" }
    if let nh = r.nextHop { m["via"] = "\(nh)" }
    if let s = r.subnetID { m["subnet"] = "\(s)" }
    if !r.projectID.isEmpty { m["project"] = "\(r.projectID)" }
    logger.notice("route refused", metadata: m)
}
