import Agent
import Events
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import UnixSignals

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: reconcile at an interval and whenever an owned route disappears.",
        discussion: """
        Reconciles every --interval seconds (with ±10% jitter) and at once when the kernel reports that an owned \
        route or nexthop was removed or changed by someone else. When Neutron or Keystone cannot be read, routes \
        stay as they are and the read is retried with capped exponential backoff. SIGTERM/SIGINT finish the \
        current write and exit 0, leaving routes in place (--cleanup-on-exit removes them). SIGHUP reads the \
        configuration file (and clouds.yaml) again; a file that fails to load keeps the running configuration. \
        These options need a restart to change: \(SettingTable.all.map(\.setting).filter(\.needsRestart).map(\.name).joined(separator: ", ")).

        With --events-url the daemon follows Neutron's own notifications on RabbitMQ (exchange neutron, routing \
        key notifications.info; Neutron needs [oslo_messaging_notifications] driver = messagingv2): a change \
        reaches the kernel within a fraction of a second through a targeted re-read of the changed routers, and \
        a full read runs at start, whenever the broker answers again, and every --resync-interval (300 s) as a \
        safety net. While the broker is unreachable it polls at --interval. Whatever --interval says, a full read \
        starts no sooner than 10 times the last one's duration after it.

        --metrics-address serves /metrics (Prometheus), /healthz and /readyz.

        One writer per table: the daemon holds a lock for its (network namespace, table, protocol); a second \
        one exits 2 naming the holder's PID. Deletions beyond the deletion brake (--max-delete) are held and \
        logged once; 'metadata-route-agent sync --force-delete' asks the daemon to carry them out.

        --dry-run reads, plans and logs what it would change, with the same metrics, and writes nothing (and \
        takes no lock): run it first on a new host.

        Examples:
          metadata-route-agent run --os-cloud prod --metrics-address 127.0.0.1:9100
          metadata-route-agent run --config /etc/metadata-route-agent/config.yaml
          metadata-route-agent run --os-cloud prod --dry-run --log-level info
          metadata-route-agent run --os-cloud prod --events-url amqp://mra@rabbit.example:5672/ \\
              --events-password-file /etc/metadata-route-agent/rabbit-password
        """
    )

    @OptionGroup var options: AgentOptions
    @OptionGroup(title: "Neutron's notifications") var events: EventsOptions

    @Option(\.interval) var interval: String?
    @Option(\.resyncInterval) var resyncInterval: String?
    @Option(\.maxBackoff) var maxBackoff: String?
    @Option(\.metricsAddress) var metricsAddress: String?
    @Flag(\.cleanupOnExit) var cleanupOnExit: Bool?

    func validate() throws { try validateSettingFlags(of: self) }

    @Flag(\.dryRun) var dryRun: Bool?

    func run() async throws {
        var extra = settingOverrides(of: self)
        for (k, v) in settingOverrides(of: events).values { extra[k] = v }
        let rt = try Runtime(options, extra: extra)
        let eventsConfig: EventStreamConfiguration?
        do { eventsConfig = try eventStreamConfiguration(rt.settings) } catch { throw fail("\(error)", code: Exit.usage) }
        if !rt.settings.dryRun { try rt.requireNetAdmin() }
        let forceTarget = ForceTarget()
        let lock: TableLock? = rt.settings.dryRun ? nil : try rt.takeLock { request in
            guard request == "force-delete" else { return "error: unknown request" }
            return forceTarget.forceDelete()
        }
        defer { lock?.release() }
        let logger = rt.logger
        let metrics = AgentMetrics()
        MetricsSystem.bootstrap(metrics.factory)
        let kernel = try rt.kernel()
        // Fail early on a bad configuration; later reloads keep the old one instead.
        _ = try rt.reconciler(kernel: kernel, metrics: metrics)
        let firstSource = try rt.source()
        let expected = ExpectedKernelChanges()
        let firstUse = FirstUse(firstSource)
        let daemon: Daemon
        do {
            daemon = try Daemon(settings: rt.settings, logger: logger, metrics: metrics, reloadSettings: { try rt.reload() }) { settings in
                let source = try firstUse.take() ?? Runtime.buildSource(settings: settings, logger: logger)
                var reconciler = try Reconciler(kernel: kernel, settings: settings, logger: logger, metrics: metrics)
                reconciler.expectedChanges = expected
                return (source, reconciler)
            }
        } catch {
            throw fail("\(error)", code: Exit.usage)
        }
        forceTarget.set(daemon)
        metrics.setFullReadAge { daemon.secondsSinceFullRead() }
        var server: MetricsServer?
        if let address = rt.settings.metricsAddress {
            do {
                let hp = try HostPort.parse(address)
                server = try await MetricsServer(host: hp.host, port: hp.port,
                                                 responder: MetricsServer.agentResponder(metrics: metrics, ready: { daemon.readiness() }))
                logger.info("serving metrics", metadata: ["address": "\(hp)", "paths": "/metrics,/healthz,/readyz"])
            } catch {
                throw fail("cannot serve metrics on \(address): \(error)", code: Exit.usage)
            }
        }
        var watcher: KernelEventWatcher?
        do {
            let w = try KernelEventWatcher(namespace: rt.settings.netns)
            w.start(ownership: rt.settings.ownership, logger: logger, expected: expected) { daemon.kernelChanged() }
            watcher = w
            daemon.kernelEventsWatched.store(true, ordering: .relaxed)
        } catch {
            logger.warning("cannot subscribe to route events; self-healing waits for the interval", metadata: ["error": "\(error)"])
        }
        logger.notice("started", metadata: [
            "source": "\(firstSource.label)", "table": "\(rt.settings.table)", "protocol": "\(rt.settings.proto)",
            "interval": "\(rt.settings.interval)s", "max_delete": "\(rt.settings.deletionBrake)",
            "notifications": "\(eventsConfig == nil ? "off (polling)" : "on (resync every \(fixed(rt.settings.resyncInterval, 0)) s)")",
            "mode": "\(rt.settings.dryRun ? "dry-run (writes nothing)" : "write")",
        ])
        let hup = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { daemon.reload() }
        }
        var follower: Task<Void, Never>?
        if let eventsConfig {
            let f = EventFollower(daemon: daemon, logger: logger, metrics: metrics)
            logger.notice("connecting to the broker for Neutron's notifications; polling until bound", metadata: [
                "broker": "\(eventsConfig.endpoint)", "exchange": "\(eventsConfig.exchange)",
                "routing_key": "\(eventsConfig.routingKey)", "queue": "\(eventsConfig.queue)",
            ])
            follower = Task { await f.run(EventStream(configuration: eventsConfig)) }
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: daemon)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Logger(label: "service-group", factory: { _ in SwiftLogNoOpLogHandler() })
        ))
        try await group.run()
        follower?.cancel()
        hup.cancel()
        watcher?.stop()
        await server?.close()
    }
}

/// Hands the already-built first source to the daemon's first wiring call, and nothing afterwards.
final class FirstUse: Sendable {
    private let slot: Synchronization.Mutex<(any SnapshotSource)?>
    init(_ source: any SnapshotSource) { slot = .init(source) }
    func take() -> (any SnapshotSource)? { slot.withLock { s in defer { s = nil }; return s } }
}

/// The daemon that a `force-delete` request over the lock socket reaches (set once it exists).
final class ForceTarget: Sendable {
    private let slot = Synchronization.Mutex<Daemon?>(nil)
    func set(_ d: Daemon) { slot.withLock { $0 = d } }
    func forceDelete() -> String {
        guard let d = slot.withLock({ $0 }) else { return "error: the daemon is still starting; try again" }
        return d.forceDelete()
    }
}
