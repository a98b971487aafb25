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
import OpenStack
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
    /// A notification said routers changed (their IDs wait in the daemon's pending set).
    case routersChanged
    /// A full read was asked for: the broker (re)connected, or an external network changed.
    case fullReadRequested
    /// The notification stream went up or down: the next full read is due at another time.
    case reschedule
}

/// A one-slot-per-kind mailbox: posts from any thread, one async waiter with a deadline.
final class Mailbox: Sendable {
    private struct State {
        var pending: [Wakeup] = []
        var waiter: CheckedContinuation<Wakeup, Never>?
        var generation = 0
        /// The generation whose deadline passed before its waiter was installed (a deadline already due).
        var firedEarly = 0
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
                    if s.firedEarly == generation { c.resume(returning: .timer) } else { s.waiter = c }
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
            guard s.generation == generation else { return }
            if let w = s.waiter {
                s.waiter = nil
                w.resume(returning: .timer)
            } else {
                s.firedEarly = generation
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
        /// Routers notifications said changed, not re-read yet.
        var pendingRouters: Set<String> = []
        /// Why a full read was asked for (nil: none asked).
        var fullReadWanted: String?
        /// The notification stream's state (`.off` without --events-url).
        var events: EventsState = .off
        /// The stream stayed connected since the last full read began (so a difference that read finds was never announced).
        var connectedThroughout = false
        /// Start and duration of the last full read (the next one waits at least `readLoadFactor` × its duration).
        var lastFullStart: Duration?
        var lastFullDuration: Duration = .zero
        var lastFullSuccess: Duration?
        /// What the notification mapping needs of the last snapshot.
        var eventContext = EventContext()
        /// The subnets of the last snapshot by ID (a targeted re-read does not read them again).
        var subnetsByID: [String: Subnet] = [:]
        /// The planner of the last full plan, kept current by every delta since (nil in dry-run mode, or after a
        /// kernel failure: the next reconcile plans everything again).
        var planner: IncrementalPlanner?
        /// Safety-net reads in a row that found changes no notification announced.
        var unannouncedStreak = 0
        var stretchLogged = false
        /// Something since the last full read may have left the kernel other than that read planned it: a
        /// notification's delta, a self-heal, held deletions. Until the next full plan, an unchanged read is planned anyway.
        var plannedSinceFullRead = true
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
    /// How long notifications are gathered before one targeted re-read of every router they named.
    static let coalesceTime = Duration.milliseconds(30)
    /// Above this many changed routers at once (an L3-HA failover storm), one full read is cheaper.
    static let stormThreshold = 300
    /// A full read starts no sooner than this many times the last one's duration after it started, whatever the
    /// interval: the agent never keeps a Neutron worker busy more than a tenth of the time.
    static let readLoadFactor = 10.0
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

    /// A notification said these routers changed: they are re-read together after a short coalescing wait.
    public func routersChanged(_ ids: Set<String>) {
        guard !ids.isEmpty else { return }
        state.withLock { $0.pendingRouters.formUnion(ids) }
        mailbox.post(.routersChanged)
    }

    /// Asks for a full read as soon as the read-load limit allows.
    public func requestFullRead(reason: String) {
        state.withLock { s in if s.fullReadWanted == nil { s.fullReadWanted = reason } }
        mailbox.post(.fullReadRequested)
    }

    /// The notification stream's state changed (the follower calls this).
    public func eventsStateChanged(_ new: EventsState) {
        let old = state.withLock { s -> EventsState in
            let old = s.events
            s.events = new
            if new != .connected { s.connectedThroughout = false }
            return old
        }
        metrics?.recordBrokerConnected(new == .connected)
        guard old != new else { return }
        if new == .connected {
            // Changes made while nobody listened were never published: read everything once the binding exists.
            requestFullRead(reason: old == .connecting ? "binding" : "reconnect")
        } else if old == .connected {
            // From the safety-net schedule back to polling.
            mailbox.post(.reschedule)
        }
    }

    /// What the notification mapping needs to judge an event (from the last snapshot).
    public var eventContext: EventContext { state.withLock { $0.eventContext } }

    /// How the daemon learns Neutron's changes now, for /readyz and check.
    public var eventsState: EventsState { state.withLock { $0.events } }
    /// Operator confirmation (`sync --force-delete`): a full reconcile now that carries out held deletions.
    public func forceDelete() -> String {
        let held = safeguards.held.count
        safeguards.requestForce()
        mailbox.post(.timer)
        return "ok: PID \(getpid()) carries out its \(held) held deletion(s) now"
    }

    /// Ready when a reconcile read everything within the last three intervals (three resync intervals while
    /// notifications flow, or three times the stretched interval when reads are slow).
    public func readiness() -> (Bool, String) {
        let now = clock.now
        return state.withLock { s in
            guard let last = s.lastSuccess else { return (false, "not ready: no successful sync yet") }
            let age = now - last
            let period = max(s.events == .connected ? s.settings.resyncInterval : s.settings.interval,
                             Self.readLoadFactor * seconds(s.lastFullDuration))
            let limit = Duration.seconds(clamping: 3 * period)
            let note = heldNote(safeguards.held.count) + s.events.readinessNote(interval: s.settings.interval)
            if age <= limit { return (true, "ready: last successful sync \(humanDuration(age)) ago" + note) }
            return (false, "not ready: last successful sync \(Int(age.components.seconds)) s ago (limit \(Int(3 * period)) s)" + note)
        }
    }

    /// Set by `run` when the kernel event watcher runs: only then can an unchanged Neutron read skip the plan (a
    /// change to the kernel would have woken the self-heal).
    public let kernelEventsWatched = Atomic<Bool>(false)

    /// Seconds since the last successful full read (nil before the first), for `mra_seconds_since_full_read`.
    public func secondsSinceFullRead() -> Double? {
        let now = clock.now
        return state.withLock { s in s.lastFullSuccess.map { seconds(now - $0) } }
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
        var started = false
        while true {
            switch wake {
            case .shutdown:
                try finish()
                await state.withLock { $0.source }.close()
                return
            case .timer:
                // A full read asked for but deferred by the read-load floor keeps its reason (binding, reconnect, …).
                let wanted = state.withLock { $0.fullReadWanted }
                nextFull = await fullReconcile(reason: started ? wanted ?? scheduledReason() : "start")
                started = true
            case .reload:
                await applyReload()
                nextFull = await fullReconcile(reason: "reload")
            case .kernelEvent:
                // Let a burst of events settle, then replan against the last snapshot (no API call).
                try? await clock.sleep(for: Self.settleTime)
                mailbox.drain(.kernelEvent)
                healFromKernelEvent()
            case .fullReadRequested:
                let earliest = earliestFullRead()
                if clock.now >= earliest {
                    let reason = state.withLock { $0.fullReadWanted } ?? "requested"
                    nextFull = await fullReconcile(reason: reason)
                } else {
                    nextFull = min(nextFull, earliest)
                    logStretch(until: earliest)
                }
            case .routersChanged:
                // Gather what else arrives in the next few tens of milliseconds, then one re-read for all of it.
                try? await clock.sleep(for: Self.coalesceTime)
                mailbox.drain(.routersChanged)
                if let failedUntil = await targetedReconcile() { nextFull = min(nextFull, failedUntil) }
            case .reschedule:
                nextFull = min(nextFull, max(earliestFullRead(), nextPollAfterLastRead()))
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
    func fullReconcile(reason: String = "interval") async -> Duration {
        let start = clock.now
        let (source, settings, announcedBefore) = state.withLock { s -> (any SnapshotSource, Settings, Bool) in
            // This read covers every change announced before it began.
            s.pendingRouters = []
            s.fullReadWanted = nil
            s.lastFullStart = start
            let throughout = s.connectedThroughout
            s.connectedThroughout = s.events == .connected
            return (s.source, s.settings, throughout)
        }
        metrics?.recordFullRead(reason: reason)
        logger.debug("full read", metadata: ["reason": "\(reason)"])
        // A scheduled read of a Neutron that answers byte for byte as last time skips decode and plan, unless the
        // kernel may differ from that read's plan (see `plannedSinceFullRead`).
        let mayskip = ["interval", "safety_net", "poll"].contains(reason) && kernelEventsWatched.load(ordering: .relaxed)
            && safeguards.held.isEmpty && state.withLock { !$0.plannedSinceFullRead && $0.lastSnapshot != nil }
        let snapshot: CloudSnapshot
        do {
            if mayskip {
                guard let changed = try await source.readIfChanged() else {
                    let now = clock.now
                    state.withLock { s in
                        s.lastFullDuration = now - start
                        s.lastFullSuccess = start
                        s.lastSuccess = now
                        s.consecutiveFailures = 0
                    }
                    metrics?.recordUnchangedRead(at: clock.wallTime)
                    logger.debug("Neutron answered exactly as at the last read; nothing to plan", metadata: ["reason": "\(reason)"])
                    return nextFullRead(settings: settings)
                }
                snapshot = changed
            } else {
                snapshot = try await source.read()
            }
        } catch {
            state.withLock { $0.lastFullDuration = clock.now - start }
            return failStatic(kind: "neutron_error", error: "\(error)", settings: settings)
        }
        state.withLock { $0.lastFullDuration = clock.now - start }
        let projects = visibleProjects(snapshot)
        if safeguards.shouldWarnOwnProject(seesOnlyOwnProject(snapshot, ownProject: await source.credentialProject())),
           let own = projects.first {
            logger.warning("\(ownProjectWarning(own))")
        }
        if let shrank = safeguards.checkScope(projects) {
            return failStatic(kind: "scope_shrank", error: shrank, settings: settings)
        }
        let previous = state.withLock { s -> CloudSnapshot? in
            let previous = s.lastSnapshot
            s.lastSnapshot = snapshot
            s.eventContext = EventContext(snapshot: snapshot)
            s.subnetsByID = Dictionary(snapshot.subnets.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            return previous
        }
        if announcedBefore, let previous { noteUnannouncedChanges(previous: previous, now: snapshot) }
        guard reconcile(snapshot: snapshot, start: start, trigger: reason == "interval" || reason == "safety_net" ? "interval" : reason) else {
            return failStatic(kind: "kernel_error", error: nil, settings: settings)
        }
        state.withLock { s in
            s.lastFullSuccess = start
            s.plannedSinceFullRead = false
        }
        return nextFullRead(settings: settings)
    }

    /// The next scheduled full read: the resync interval while notifications flow, the interval otherwise
    /// (polling), never sooner than `readLoadFactor` × the last read's duration after it started.
    private func nextFullRead(settings: Settings) -> Duration {
        let connected = state.withLock { $0.events == .connected }
        let base = clock.now + .seconds(clamping: (connected ? settings.resyncInterval : settings.interval) * randomJitter())
        let earliest = earliestFullRead()
        if earliest > base {
            logStretch(until: earliest)
            return earliest
        }
        state.withLock { $0.stretchLogged = false }
        return base
    }

    /// When the next poll is due after the last read began (used when the stream goes down).
    private func nextPollAfterLastRead() -> Duration {
        state.withLock { s in (s.lastFullStart ?? clock.now) + .seconds(clamping: s.settings.interval) }
    }

    /// The earliest start of the next full read: `readLoadFactor` × the last read's duration after it began.
    func earliestFullRead() -> Duration {
        state.withLock { s in
            guard let start = s.lastFullStart else { return .zero }
            return start + s.lastFullDuration * Self.readLoadFactor
        }
    }

    private func logStretch(until earliest: Duration) {
        let (first, duration, interval) = state.withLock { s -> (Bool, Duration, Double) in
            defer { s.stretchLogged = true }
            return (!s.stretchLogged, s.lastFullDuration, s.settings.interval)
        }
        guard first else { return }
        logger.notice("Neutron reads are slow; the next full read waits", metadata: [
            "last_read": "\(humanDuration(duration))", "next_in": "\(humanDuration(max(.zero, earliest - clock.now)))",
            "interval": "\(fixed(interval, 1))s",
            "why": "a full read starts no sooner than \(Int(Self.readLoadFactor))x the last read's duration, so the agent never keeps Neutron busy more than a tenth of the time",
        ])
    }

    /// Why a timer-driven full read happens: the safety net while notifications flow, polling otherwise.
    private func scheduledReason() -> String {
        switch state.withLock({ $0.events }) {
        case .off: return "interval"
        case .connected: return "safety_net"
        case .connecting, .down, .exchangeMissing: return "poll"
        }
    }

    /// A safety-net read while notifications flowed found routers that differ from what the notifications led
    /// to: count them, say so, and say what it probably means when it keeps happening.
    private func noteUnannouncedChanges(previous: CloudSnapshot, now: CloudSnapshot) {
        let changed = changedRouters(from: previous, to: now)
        let streak = state.withLock { s -> Int in
            s.unannouncedStreak = changed.isEmpty ? 0 : s.unannouncedStreak + 1
            return s.unannouncedStreak
        }
        guard !changed.isEmpty else { return }
        metrics?.recordUnannouncedChanges(changed.count)
        var m: Logger.Metadata = ["routers": "\(changed.count)", "some": "\(changed.sorted().prefix(5).joined(separator: ","))"]
        if streak >= 3 {
            m["hint"] = "\(streak) safety-net reads in a row found unannounced changes: check that Neutron publishes notifications (oslo_messaging_notifications driver = messagingv2) to this exchange and routing key"
        }
        logger.warning("the safety-net read found router changes that no notification announced", metadata: m)
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
        return max(clock.now + .seconds(clamping: delay), earliestFullRead())
    }

    /// Re-reads the routers notifications named, folds them into the last snapshot and reconciles against it.
    /// Returns when the next full read is due if this failed (the full read then covers the pending routers).
    private func targetedReconcile() async -> Duration? {
        let start = clock.now
        // The snapshot is taken out of the state while it is folded, so it changes in place (no copy of the cloud);
        // every way out puts it (or its folded successor) back.
        var current: CloudSnapshot?
        let (ids, source, settings, context) = state.withLock { s in
            defer { s.pendingRouters = [] }
            current = s.lastSnapshot
            s.lastSnapshot = nil
            return (s.pendingRouters, s.source, s.settings, s.eventContext)
        }
        defer {
            let back = current
            state.withLock { s in if s.lastSnapshot == nil { s.lastSnapshot = back } }
        }
        guard !ids.isEmpty else { return nil }
        state.withLock { $0.plannedSinceFullRead = true }
        guard current != nil else {
            requestFullRead(reason: "no full read yet")
            return nil
        }
        if ids.count > Self.stormThreshold {
            logger.notice("many routers changed at once; one full read instead of targeted re-reads", metadata: ["routers": "\(ids.count)"])
            requestFullRead(reason: "storm")
            return nil
        }
        let read: RoutersRead
        do {
            read = try await readChanged(ids, from: source)
        } catch {
            metrics?.recordTargetedRead(ok: false, routers: ids.count)
            // Keep them: a full read (after the backoff) covers them.
            state.withLock { $0.pendingRouters.formUnion(ids) }
            logger.warning("re-reading changed routers failed; a full read follows", metadata: ["routers": "\(ids.count)", "error": "\(error)"])
            requestFullRead(reason: "targeted_read_failed")
            return failStatic(kind: "neutron_error", error: nil, settings: settings)
        }
        metrics?.recordTargetedRead(ok: true, routers: ids.count)
        // A gateway on a network or subnet the last full read did not know changes what is protected: read everything.
        for r in read.routers {
            for g in r.gateways where !context.externalNetworks.contains(g.networkID) || g.fixedIPs.contains(where: { !context.externalSubnets.contains($0.subnetID) }) {
                logger.info("a changed router's gateway is on a network or subnet the last full read did not list; reading everything", metadata: ["router": "\(r.id)", "network": "\(g.networkID)"])
                requestFullRead(reason: "new_external_network")
                return nil
            }
        }
        current!.fold(read, routers: ids)
        let folded = current!
        let (updates, planner) = state.withLock { s -> ([RouterUpdate], IncrementalPlanner?) in
            for sub in read.subnets { s.subnetsByID[sub.id] = sub }
            var updates: [RouterUpdate] = []
            for id in ids.sorted() {
                let ports = read.ports.filter { $0.deviceID == id }
                for p in ports where !p.id.isEmpty { s.eventContext.portRouter[p.id] = id }
                let named = Set(ports.flatMap { $0.fixedIPs.map(\.subnetID) })
                updates.append(RouterUpdate(routerID: id, router: read.routers.first { $0.id == id }, ports: ports,
                                            subnets: named.sorted().compactMap { s.subnetsByID[$0] }))
            }
            // Taken out of the state while it works, so its indexes change in place (no copy of the cloud).
            let p = s.planner
            s.planner = nil
            return (updates, p)
        }
        logger.debug("routers re-read", metadata: [
            "routers": "\(ids.count)", "gone": "\(read.gone.count)", "ports": "\(read.ports.count)",
            "new_subnets": "\(read.subnets.count)", "requests": "\(read.requests)", "read_ms": "\(fixed(seconds(clock.now - start) * 1000, 1))",
        ])
        if var planner, let delta = planner.update(updates) {
            if reconcileDelta(delta, planner: &planner, start: start) {
                state.withLock { $0.planner = planner }
                return nil
            }
            return failStatic(kind: "kernel_error", error: nil, settings: settings)
        }
        // No planner yet (dry run), or the change touches what every router depends on: plan everything (no read).
        if !reconcile(snapshot: folded, start: start, trigger: "notification") {
            return failStatic(kind: "kernel_error", error: nil, settings: settings)
        }
        return nil
    }

    /// The targeted re-read; the subnets already known are shared with the state only while it runs (so adding
    /// the new ones afterwards copies nothing).
    private func readChanged(_ ids: Set<String>, from source: any SnapshotSource) async throws -> RoutersRead {
        let known = state.withLock { $0.subnetsByID }
        return try await source.readRouters(ids, knownSubnets: { known[$0] != nil })
    }

    /// Applies a delta through the deletion brake; false when the kernel could not be written at all.
    private func reconcileDelta(_ delta: PlanDelta, planner: inout IncrementalPlanner, start: Duration) -> Bool {
        let reconciler = state.withLock { $0.reconciler }
        let safeguards = self.safeguards, settings = reconciler.settings
        let owned = planner.ownedRouteCount
        let decision = Mutex<Safeguards.Decision?>(nil)
        let report: ReconcileReport
        do {
            report = try reconciler.apply(delta, planner: &planner) { plan in
                let d = safeguards.decideDelta(plan, ownedRoutes: owned, now: self.clock.now)
                decision.withLock { $0 = d }
                return d.braked
            }
        } catch {
            logger.error("kernel access failed; nothing changed", metadata: ["error": "\(error)"])
            return false
        }
        logReport(report, logger: logger, trigger: "notification")
        if let d = decision.withLock({ $0 }), !d.newlyHeld.isEmpty {
            logBrake(d, totalHeld: safeguards.held.count, brake: settings.deletionBrake, logger: logger)
        }
        metrics?.recordHeldDeletions(safeguards.held.count)
        let now = clock.now
        state.withLock { s in
            for r in delta.withdrawnRefusals { s.knownRefusals.remove(refusalKey(r)) }
            for r in delta.newRefusals { s.knownRefusals.insert(refusalKey(r)) }
            s.consecutiveFailures = 0
            s.lastSuccess = now
        }
        for r in delta.newRefusals { logRefusal(r, logger: logger) }
        if let metrics {
            let installed = planner.desiredCount - report.failed.filter { $0.change.action == .add }.count
            metrics.recordReconcile(report, desired: planner.desiredCount, refused: planner.refused, installedRoutes: installed,
                                    duration: clock.now - start, at: clock.wallTime)
        }
        logger.debug("delta applied", metadata: [
            "destinations": "\(delta.affectedDestinations)", "operations": "\(report.plan.operations.count)",
            "ms": "\(fixed(seconds(clock.now - start) * 1000, 1))",
        ])
        return true
    }

    private func healFromKernelEvent() {
        guard let snapshot = state.withLock({ s -> CloudSnapshot? in
            s.plannedSinceFullRead = true
            return s.lastSnapshot
        }) else { return }
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
        let gate: (RoutePlan, KernelView) -> BrakedPlan = { plan, view in
            if trigger == "kernel_event" { return safeguards.decideForKernelEvent(plan) }
            let d = safeguards.decide(plan, kernel: view, ownership: settings.ownership, now: self.clock.now)
            decisions.withLock { $0 = d }
            return d.braked
        }
        state.withLock { $0.planner = nil }
        do {
            if dryRun {
                report = try reconciler.reconcile(snapshot: snapshot, apply: false, gate: gate)
            } else {
                let (r, planner) = try reconciler.reconcileTracking(snapshot: snapshot, gate: gate)
                report = r
                state.withLock { $0.planner = planner }
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
