import CoreMetrics
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Metrics
import Model
import Prometheus
import RoutePlanner
import Synchronization

/// The agent's metrics, kept in a Prometheus registry of its own (no global state needed in tests).
///
/// | name | type | meaning |
/// | --- | --- | --- |
/// | `mra_routes_desired` | gauge | routes the plan wants |
/// | `mra_routes_installed` | gauge | owned routes in the kernel after the last reconcile |
/// | `mra_routes_refused{reason}` | gauge | candidates refused, by reason |
/// | `mra_route_writes_total{result}` | counter | kernel writes by result (`ok`, `EEXIST`, …) |
/// | `mra_reconcile_duration_seconds` | histogram | one reconcile (read + plan + apply) |
/// | `mra_reconciles_total{result}` | counter | reconciles by result (`ok`, `write_errors`, `unchanged` (Neutron answered byte for byte as before: nothing planned), `neutron_error`, `kernel_error`) |
/// | `mra_neutron_requests_total{status}` | counter | Neutron/Keystone requests by HTTP status |
/// | `mra_last_successful_sync_timestamp_seconds` | gauge | Unix time of the last reconcile that read everything |
/// | `mra_consecutive_read_failures` | gauge | failed reads in a row (0 = healthy; > 0 = failing static) |
/// | `mra_self_heal_total` | counter | reconciles triggered by a kernel event on an owned route or nexthop |
/// | `mra_deletions_held` | gauge | route deletions the deletion brake holds for an operator (`sync --force-delete`) |
/// | `mra_full_reads_total{reason}` | counter | full reads of Neutron by reason (`start`, `interval`, `poll`, `safety_net`, `binding`, `reconnect`, `storm`, …) |
/// | `mra_seconds_since_full_read` | gauge | seconds since the last successful full read began |
/// | `mra_events_broker_connected` | gauge | 1 while bound to the broker and consuming, else 0 (polling); absent without `--events-url` |
/// | `mra_events_received_total{event_type,outcome}` | counter | notifications by event type (the handled ones, else `other`) and outcome (`handled`, `ignored`, `malformed`) |
/// | `mra_events_lag_seconds` | histogram | now − the notification's timestamp, when it arrives |
/// | `mra_targeted_reads_total{result}` | counter | targeted re-reads of changed routers (`ok`, `failed`) |
/// | `mra_targeted_read_routers_total` | counter | routers re-read by them |
/// | `mra_events_unannounced_changes_total` | counter | routers a safety-net read found changed though no notification said so |
public final class AgentMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    private let desired: CoreMetrics.Gauge
    private let installed: CoreMetrics.Gauge
    private let duration: Metrics.Timer
    private let lastSuccess: CoreMetrics.Gauge
    private let readFailures: CoreMetrics.Gauge
    private let selfHeal: CoreMetrics.Counter
    private let refusedReasons = Mutex<Set<String>>([])
    private let lag: Metrics.Timer
    private let sinceFullRead: CoreMetrics.Gauge
    /// Asked at every scrape for `mra_seconds_since_full_read` (set by the daemon).
    private let fullReadAge = Mutex<(@Sendable () -> Double?)?>(nil)

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var f = PrometheusMetricsFactory(registry: registry)
        f.durationHistogramBuckets["mra_reconcile_duration_seconds"] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
        ]
        f.durationHistogramBuckets["mra_events_lag_seconds"] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        factory = f
        lag = Metrics.Timer(label: "mra_events_lag_seconds", factory: f)
        sinceFullRead = CoreMetrics.Gauge(label: "mra_seconds_since_full_read", factory: f)
        desired = CoreMetrics.Gauge(label: "mra_routes_desired", factory: f)
        installed = CoreMetrics.Gauge(label: "mra_routes_installed", factory: f)
        duration = Metrics.Timer(label: "mra_reconcile_duration_seconds", factory: f)
        lastSuccess = CoreMetrics.Gauge(label: "mra_last_successful_sync_timestamp_seconds", factory: f)
        readFailures = CoreMetrics.Gauge(label: "mra_consecutive_read_failures", factory: f)
        selfHeal = CoreMetrics.Counter(label: "mra_self_heal_total", factory: f)
        readFailures.record(0)
        selfHeal.increment(by: 0)
        CoreMetrics.Gauge(label: "mra_deletions_held", factory: f).record(0)
    }

    /// Records a reconcile that read Neutron and the kernel.
    public func recordReconcile(_ report: ReconcileReport, installedRoutes: Int, duration: Duration, at time: Date) {
        recordReconcile(report, desired: report.plan.desired.count, refused: report.plan.refused, installedRoutes: installedRoutes,
                        duration: duration, at: time)
    }

    /// Records a reconcile whose plan covers only part of the routes (a delta): the totals come separately.
    public func recordReconcile(_ report: ReconcileReport, desired desiredCount: Int, refused: [Refusal], installedRoutes: Int,
                                duration: Duration, at time: Date) {
        desired.record(desiredCount)
        installed.record(installedRoutes)
        var counts: [String: Int] = [:]
        for r in refused { counts[r.reason.rawValue, default: 0] += 1 }
        let reasons = refusedReasons.withLock { seen -> Set<String> in
            seen.formUnion(counts.keys)
            return seen
        }
        for reason in reasons.sorted() {
            CoreMetrics.Gauge(label: "mra_routes_refused", dimensions: [("reason", reason)], factory: factory).record(counts[reason] ?? 0)
        }
        let failures = report.failedOperations.count
        let ok = report.plan.operations.count - failures
        if ok > 0 { CoreMetrics.Counter(label: "mra_route_writes_total", dimensions: [("result", "ok")], factory: factory).increment(by: ok) }
        for f in report.failedOperations {
            CoreMetrics.Counter(label: "mra_route_writes_total", dimensions: [("result", f.error.name)], factory: factory).increment()
        }
        reconcileResult(failures == 0 ? "ok" : "write_errors")
        self.duration.recordNanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        lastSuccess.record(time.timeIntervalSince1970)
        readFailures.record(0)
    }

    /// A full read whose answer was byte-identical to the previous one: nothing planned, nothing written.
    public func recordUnchangedRead(at time: Date) {
        reconcileResult("unchanged")
        lastSuccess.record(time.timeIntervalSince1970)
        readFailures.record(0)
    }

    /// Records a reconcile that could not read its inputs (the kernel was left as it was).
    public func recordReadFailure(kind: String, consecutive: Int) {
        reconcileResult(kind)
        readFailures.record(consecutive)
    }

    public func recordSelfHeal() { selfHeal.increment() }

    /// Route deletions held by the deletion brake.
    public func recordHeldDeletions(_ count: Int) {
        CoreMetrics.Gauge(label: "mra_deletions_held", factory: factory).record(count)
    }

    private func reconcileResult(_ result: String) {
        CoreMetrics.Counter(label: "mra_reconciles_total", dimensions: [("result", result)], factory: factory).increment()
    }

    /// Where `mra_seconds_since_full_read` comes from (read at every scrape).
    public func setFullReadAge(_ age: @escaping @Sendable () -> Double?) { fullReadAge.withLock { $0 = age } }

    public func recordFullRead(reason: String) {
        CoreMetrics.Counter(label: "mra_full_reads_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    public func recordBrokerConnected(_ connected: Bool) {
        CoreMetrics.Gauge(label: "mra_events_broker_connected", factory: factory).record(connected ? 1 : 0)
    }

    /// One notification: its event type's label (`EventMapping.label`) and what became of it.
    public func recordEvent(type: String, outcome: String) {
        CoreMetrics.Counter(label: "mra_events_received_total", dimensions: [("event_type", type), ("outcome", outcome)], factory: factory).increment()
    }

    public func recordEventLag(seconds: Double) {
        lag.recordNanoseconds(Int64(max(0, min(seconds, 1e6)) * 1e9))
    }

    public func recordTargetedRead(ok: Bool, routers: Int) {
        CoreMetrics.Counter(label: "mra_targeted_reads_total", dimensions: [("result", ok ? "ok" : "failed")], factory: factory).increment()
        if ok { CoreMetrics.Counter(label: "mra_targeted_read_routers_total", factory: factory).increment(by: routers) }
    }

    public func recordUnannouncedChanges(_ routers: Int) {
        CoreMetrics.Counter(label: "mra_events_unannounced_changes_total", factory: factory).increment(by: routers)
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> String {
        if let age = fullReadAge.withLock({ $0 })?() { sinceFullRead.record(age) }
        return registry.emitToString()
    }
}
