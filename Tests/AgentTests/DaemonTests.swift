import Foundation
import Model
import Synchronization
import Testing
@testable import Agent

@Suite struct DaemonTests {
    struct Rig {
        let kernel: InMemoryKernel
        let source: ScriptedSource
        let daemon: Daemon
        let logs: LogCapture
        let metrics: AgentMetrics
    }

    func rig(_ configure: (inout Settings) -> Void = { _ in }, reload: (@Sendable () throws -> Settings)? = nil) throws -> Rig {
        var settings = Settings()
        settings.interval = 10
        settings.maxBackoff = 40
        configure(&settings)
        let kernel = hostKernel()
        let source = ScriptedSource(sampleCloud())
        let logs = LogCapture()
        let logger = logs.logger()
        let metrics = AgentMetrics()
        let fixed = settings
        let daemon = try Daemon(settings: settings, logger: logger, metrics: metrics,
                                reloadSettings: reload ?? { fixed }, jitter: { 1.0 }) { s in
            (source, try Reconciler(kernel: kernel, settings: s, logger: logger, metrics: metrics))
        }
        return Rig(kernel: kernel, source: source, daemon: daemon, logs: logs, metrics: metrics)
    }

    func seconds(until deadline: ContinuousClock.Instant) -> Double {
        let d = deadline - .now
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    @Test func failedNeutronReadsKeepTheKernelAsItIsAndBackOffExponentiallyUpToTheCap() async throws {
        let r = try rig()
        _ = await r.daemon.fullReconcile()
        let installed = r.kernel.current
        r.source.fail("connection refused")
        var delays: [Double] = []
        for _ in 0..<4 { delays.append(seconds(until: await r.daemon.fullReconcile())) }
        #expect(r.kernel.current == installed)
        #expect(zip(delays, [10.0, 20, 40, 40]).allSatisfy { abs($0 - $1) < 0.5 }, "delays \(delays)")
        #expect(r.logs.contains("read failed; keeping routes as they are"))
        #expect(r.metrics.exposition().contains("mra_consecutive_read_failures 4"))
        // Recovery resets the backoff.
        r.source.fail(nil)
        #expect(abs(seconds(until: await r.daemon.fullReconcile()) - 10) < 0.5)
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
        let slow = ScriptedSource(sampleCloud())
        slow.delay.withLock { $0 = .seconds(30) }
        let start = ContinuousClock.now
        await #expect { try await DeadlineSource(slow, timeout: .milliseconds(200)).read() } throws: { error in
            "\(error)".contains("read-timeout")
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        let fast = ScriptedSource(sampleCloud())
        #expect(try await DeadlineSource(fast, timeout: .seconds(5)).read() == sampleCloud())
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
        #expect(await eventually { ownedRoutes(r.kernel).count == 3 })
        let reads = r.source.reads
        r.kernel.mutate { $0.routes.removeAll { $0.destination == IPPrefix("10.0.0.0/24")! && $0.proto == 200 } }
        let start = ContinuousClock.now
        r.daemon.kernelChanged()
        #expect(await eventually(timeout: .seconds(1)) { ownedRoutes(r.kernel).contains("10.0.0.0/24 via 203.0.113.10") })
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(r.source.reads == reads)
        #expect(r.metrics.exposition().contains("mra_self_heal_total 1"))
        r.daemon.stop()
        try await task.value
    }

    @Test func stoppingFinishesTheLoopAndLeavesRoutesInPlace() async throws {
        let r = try rig()
        let task = Task { try await r.daemon.loop() }
        #expect(await eventually { ownedRoutes(r.kernel).count == 3 })
        r.daemon.stop()
        try await task.value
        #expect(ownedRoutes(r.kernel).count == 3)
        #expect(r.logs.contains("routes stay in place"))
    }

    @Test func cleanupOnExitRemovesOwnedRoutesOnly() async throws {
        let r = try rig { $0.cleanupOnExit = true }
        let foreign = r.kernel.current.routes.filter { $0.proto != 200 }
        let task = Task { try await r.daemon.loop() }
        #expect(await eventually { ownedRoutes(r.kernel).count == 3 })
        r.daemon.stop()
        try await task.value
        #expect(ownedRoutes(r.kernel).isEmpty)
        #expect(r.kernel.current.routes.sorted() == foreign.sorted())
    }

    @Test func reloadAppliesTheNewConfigurationAndRejectsATableChange() async throws {
        let next = Mutex<Settings>({ var s = Settings(); s.interval = 10; return s }())
        let r = try rig(reload: { next.withLock { $0 } })
        let task = Task { try await r.daemon.loop() }
        #expect(await eventually { ownedRoutes(r.kernel).count == 3 })
        next.withLock { $0.protectedPrefixes = [IPPrefix("10.1.0.0/16")!] }
        r.daemon.reload()
        #expect(await eventually { !ownedRoutes(r.kernel).contains { $0.hasPrefix("10.1.0.0/24") } })
        #expect(r.daemon.settings.protectedPrefixes == [IPPrefix("10.1.0.0/16")!])
        #expect(r.logs.contains("configuration reloaded"))
        next.withLock { $0.table = 200 }
        r.daemon.reload()
        #expect(await eventually { r.logs.contains("reload refused") })
        #expect(r.daemon.settings.table == 254)
        r.daemon.stop()
        try await task.value
    }

    @Test func readinessNeedsARecentSuccessfulSync() async throws {
        let r = try rig()
        #expect(r.daemon.readiness().0 == false)
        _ = await r.daemon.fullReconcile()
        #expect(r.daemon.readiness().0 == true)
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
