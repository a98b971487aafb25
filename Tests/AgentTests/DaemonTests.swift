import Foundation
import Logging
import Model
import ServiceLifecycle
import Synchronization
import Testing
@testable import Agent

/// The daemon on a test clock: time moves only when a test moves it, and tests wait for the loop's cycles,
/// never for wall time, so nothing here depends on how busy the machine is.
@Suite struct DaemonTests {
    struct Rig {
        let kernel: InMemoryKernel
        let source: ScriptedSource
        let daemon: Daemon
        let logs: LogCapture
        let metrics: AgentMetrics
        let clock: TestClock
    }

    func rig(_ configure: (inout Settings) -> Void = { _ in }, reload: (@Sendable () throws -> Settings)? = nil) throws -> Rig {
        var settings = Settings()
        settings.interval = 10
        settings.maxBackoff = 40
        configure(&settings)
        let clock = TestClock()
        let kernel = hostKernel()
        let source = ScriptedSource(sampleCloud(), clock: clock)
        let logs = LogCapture()
        let logger = logs.logger()
        let metrics = AgentMetrics()
        let fixed = settings
        let daemon = try Daemon(settings: settings, logger: logger, metrics: metrics,
                                reloadSettings: reload ?? { fixed }, jitter: { 1.0 }, clock: clock) { s in
            (source, try Reconciler(kernel: kernel, settings: s, logger: logger, metrics: metrics))
        }
        return Rig(kernel: kernel, source: source, daemon: daemon, logs: logs, metrics: metrics, clock: clock)
    }

    @Test func failedNeutronReadsKeepTheKernelAsItIsAndBackOffExponentiallyUpToTheCap() async throws {
        let r = try rig()
        _ = await r.daemon.fullReconcile()
        let installed = r.kernel.current
        r.source.fail("connection refused")
        var delays: [Duration] = []
        for _ in 0..<4 { delays.append(await r.daemon.fullReconcile() - r.clock.now) }
        #expect(r.kernel.current == installed)
        #expect(delays == [.seconds(10), .seconds(20), .seconds(40), .seconds(40)], "delays \(delays)")
        #expect(r.logs.contains("read failed; keeping routes as they are"))
        #expect(r.metrics.exposition().contains("mra_consecutive_read_failures 4"))
        // Recovery resets the backoff.
        r.source.fail(nil)
        #expect(await r.daemon.fullReconcile() - r.clock.now == .seconds(10))
        #expect(r.metrics.exposition().contains("mra_consecutive_read_failures 0"))
    }

    @Test func garbageFromNeutronIsAFailedReadToo() async throws {
        let r = try rig()
        _ = await r.daemon.fullReconcile()
        let installed = r.kernel.current
        // Real garbage where a snapshot should be (an error page, then a cut-off snapshot), read and decoded by
        // the product's snapshot source: were either taken for an empty cloud, every route would be deleted.
        let json = String(decoding: try sampleCloud().jsonData(), as: UTF8.self)
        for (n, garbage) in ["<html><body><h1>502 Bad Gateway</h1></body></html>", String(json.prefix(json.count / 2))].enumerated() {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("mra-garbage-\(UUID().uuidString).json")
            try Data(garbage.utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            r.source.forward(to: SnapshotFileSource(path: file.path))
            _ = await r.daemon.fullReconcile()
            #expect(r.kernel.current == installed)
            #expect(r.metrics.exposition().contains(#"mra_reconciles_total{result="neutron_error"} \#(n + 1)"#))
        }
        #expect(r.logs.contains("is not a valid snapshot"))
    }

    @Test func aReadThatNeverFinishesIsAbandonedAtTheReadTimeout() async throws {
        let clock = TestClock()
        let slow = ScriptedSource(sampleCloud(), clock: clock)
        slow.delay.withLock { $0 = .seconds(30) }
        let read = Task { try await DeadlineSource(slow, timeout: .milliseconds(200), clock: clock).read() }
        await clock.sleeping(until: .milliseconds(200))
        clock.advance(to: .milliseconds(200))
        await #expect { try await read.value } throws: { error in
            "\(error)".contains("read-timeout")
        }
        // Abandoned when the clock reached the timeout: the source's 30 s never passed and it never answered.
        #expect(clock.now == .milliseconds(200))
        #expect(slow.reads == 0)
        let fast = ScriptedSource(sampleCloud(), clock: clock)
        #expect(try await DeadlineSource(fast, timeout: .seconds(5), clock: clock).read() == sampleCloud())
        #expect(clock.now == .milliseconds(200))
    }

    @Test func hugeSecondsNeverTrapWhenTurnedIntoDurations() {
        #expect(Duration.seconds(clamping: 1e300) == .seconds(3_155_760_000))
        #expect(Duration.seconds(clamping: .infinity) == .seconds(3_155_760_000))
        #expect(Duration.seconds(clamping: -5) == .zero)
        #expect(Duration.seconds(clamping: .nan) == .zero)
        #expect(Duration.seconds(clamping: 1.5) == .milliseconds(1500))
    }

    @Test func aKernelUnreadableDuringAReconcileIsReportedAndChangesNothing() async throws {
        let r = try rig()
        r.kernel.failReads("EPERM")
        _ = await r.daemon.fullReconcile()
        #expect(r.kernel.writes.isEmpty)
        #expect(r.logs.contains("kernel access failed; nothing changed"))
    }

    @Test func theDaemonRestoresARouteDeletedBehindItsBackWithoutAskingNeutron() async throws {
        let r = try rig()
        let task = Task { try await r.daemon.loop() }
        await r.daemon.waitForCycles(1)
        #expect(ownedRoutes(r.kernel).count == 3)
        let reads = r.source.reads
        r.kernel.mutate { $0.routes.removeAll { $0.destination == IPPrefix("10.0.0.0/24")! && $0.proto == 200 } }
        let start = r.clock.now
        r.daemon.kernelChanged()
        // The only time that passes is the settle time for a burst of events; no interval elapses.
        await r.clock.sleeping(until: start + Daemon.settleTime)
        r.clock.advance(to: start + Daemon.settleTime)
        await r.daemon.waitForCycles(2)
        #expect(ownedRoutes(r.kernel).contains("10.0.0.0/24 via 203.0.113.10"))
        #expect(r.clock.now - start == Daemon.settleTime)
        #expect(r.source.reads == reads)
        #expect(r.metrics.exposition().contains("mra_self_heal_total 1"))
        r.daemon.stop()
        try await task.value
    }

    @Test func theIntervalWakesTheLoopExactlyWhenItIsDue() async throws {
        let r = try rig()
        let task = Task { try await r.daemon.loop() }
        await r.daemon.waitForCycles(1)
        #expect(r.source.reads == 1)
        await r.clock.sleeping(until: .seconds(10))
        r.clock.advance(to: .seconds(10) - .nanoseconds(1))
        #expect(r.clock.deadlines == [.seconds(10)], "the interval's timer is still asleep 1 ns before it is due")
        r.clock.advance(to: .seconds(10))
        await r.daemon.waitForCycles(2)
        #expect(r.source.reads == 2)
        r.daemon.stop()
        try await task.value
    }

    /// The real path of SIGTERM/SIGINT: a ServiceGroup, as `run` builds it, shut down gracefully.
    func runUntilGracefulShutdown(_ r: Rig) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: r.daemon)],
            logger: Logger(label: "service-group", factory: { _ in SwiftLogNoOpLogHandler() })
        ))
        let running = Task { try await group.run() }
        await r.daemon.waitForCycles(1)
        #expect(ownedRoutes(r.kernel).count == 3)
        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test func aGracefulShutdownFinishesTheLoopAndLeavesRoutesInPlace() async throws {
        let r = try rig()
        try await runUntilGracefulShutdown(r)
        #expect(ownedRoutes(r.kernel).count == 3)
        #expect(r.logs.contains("routes stay in place"))
    }

    @Test func cleanupOnExitRemovesOwnedRoutesOnly() async throws {
        let r = try rig { $0.cleanupOnExit = true }
        let foreign = r.kernel.current.routes.filter { $0.proto != 200 }
        try await runUntilGracefulShutdown(r)
        #expect(ownedRoutes(r.kernel).isEmpty)
        #expect(r.kernel.current.routes.sorted() == foreign.sorted())
    }

    @Test func reloadAppliesTheNewConfigurationAndRejectsATableChange() async throws {
        let next = Mutex<Settings>({ var s = Settings(); s.interval = 10; s.maxBackoff = 40; return s }())
        let r = try rig(reload: { next.withLock { $0 } })
        let task = Task { try await r.daemon.loop() }
        await r.daemon.waitForCycles(1)
        #expect(ownedRoutes(r.kernel).count == 3)
        next.withLock { $0.protectedPrefixes = [IPPrefix("10.1.0.0/16")!] }
        r.daemon.reload()
        await r.daemon.waitForCycles(2)
        #expect(!ownedRoutes(r.kernel).contains { $0.hasPrefix("10.1.0.0/24") })
        #expect(r.daemon.settings.protectedPrefixes == [IPPrefix("10.1.0.0/16")!])
        #expect(r.logs.contains("configuration reloaded") && r.logs.contains("changed=protected-prefix"))
        next.withLock { $0.table = 200 }
        r.daemon.reload()
        await r.daemon.waitForCycles(3)
        #expect(r.logs.contains("table needs a restart to change; still using the running value"))
        #expect(r.daemon.settings.table == 254)
        #expect(r.logs.all.filter { $0.contains("configuration reloaded") }.count == 1)
        r.daemon.stop()
        try await task.value
    }

    @Test func aReloadThatNeedsARestartSaysSoAndKeepsTheRunningValue() async throws {
        let next = Mutex<Settings>({ var s = Settings(); s.interval = 10; s.maxBackoff = 40; return s }())
        let r = try rig({ $0.metricsAddress = "127.0.0.1:9100" }, reload: { next.withLock { $0 } })
        let task = Task { try await r.daemon.loop() }
        await r.daemon.waitForCycles(1)
        next.withLock { $0.metricsAddress = "127.0.0.1:9200"; $0.interval = 20 }
        r.daemon.reload()
        await r.daemon.waitForCycles(2)
        #expect(r.logs.contains("metrics-address needs a restart to change"))
        #expect(r.daemon.settings.metricsAddress == "127.0.0.1:9100")
        #expect(r.daemon.settings.interval == 20)
        #expect(r.logs.contains("changed=interval"))
        r.daemon.stop()
        try await task.value
    }

    @Test func aReloadThatFailsKeepsTheRunningConfiguration() async throws {
        let broken = Mutex(false)
        let r = try rig(reload: {
            if broken.withLock({ $0 }) { throw ConfigError("--request-timeout must be between 0.001 and 3600 seconds, not 10000000000") }
            var s = Settings(); s.interval = 10; s.maxBackoff = 40; return s
        })
        let task = Task { try await r.daemon.loop() }
        await r.daemon.waitForCycles(1)
        let before = r.daemon.settings
        broken.withLock { $0 = true }
        r.daemon.reload()
        await r.daemon.waitForCycles(2)
        #expect(r.logs.contains("reload failed; keeping the running configuration"))
        #expect(r.daemon.settings == before)
        #expect(ownedRoutes(r.kernel).count == 3)
        r.daemon.stop()
        try await task.value
    }

    @Test func readinessNeedsARecentSuccessfulSync() async throws {
        let r = try rig()
        #expect(r.daemon.readiness().0 == false)
        _ = await r.daemon.fullReconcile()
        #expect(r.daemon.readiness().0 == true)
        // Ready for exactly three intervals after the last success.
        r.clock.advance(by: .seconds(30))
        #expect(r.daemon.readiness().0 == true)
        r.clock.advance(by: .nanoseconds(1))
        #expect(r.daemon.readiness().0 == false)
    }

    @Test func refusalsAreLoggedOnceNotEveryCycle() async throws {
        let r = try rig()
        var cloud = sampleCloud()
        cloud.subnets.append(Subnet(id: "evil", networkID: "net-b", cidr: IPPrefix("0.0.0.0/1")!, projectID: "proj-b", createdAt: "2026-02-01T00:00:00Z"))
        cloud.ports.append(RouterPort(id: "p9", deviceID: "router-b", fixedIPs: [FixedIP(subnetID: "evil", ipAddress: IPAddress("0.0.0.1")!)]))
        r.source.set(cloud)
        _ = await r.daemon.fullReconcile()
        _ = await r.daemon.fullReconcile()
        #expect(r.logs.all.filter { $0.contains("route refused") && $0.contains("0.0.0.0/1") }.count == 1)
        #expect(ownedRoutes(r.kernel).count == 3)
    }

    @Test func changesAreLoggedOneLinePerRoute() async throws {
        let r = try rig()
        _ = await r.daemon.fullReconcile()
        let added = r.logs.all.filter { $0.contains("msg=\"route added\"") }
        #expect(added.count == 3)
        #expect(added.contains { $0.contains("dst=10.0.0.0/24") && $0.contains("via=203.0.113.10") && $0.contains("router=router-a") })
    }
}
