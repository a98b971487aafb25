import Foundation
import Model
import RoutePlanner
import Testing
@testable import Agent

/// The deletion brake's state over time (injected instants), the scope check, and their use by the daemon.
@Suite struct SafeguardsTests {
    /// A cloud of `n` routers (one /24 each, all on 203.0.113.0/24) in `projects` projects.
    func cloud(_ n: Int, projects: Int = 4) -> CloudSnapshot {
        var s = sampleCloud()
        s.routers = []
        s.ports = []
        s.subnets = s.subnets.filter { $0.networkID == "ext-net" }
        for i in 0..<n {
            let project = "proj-\(i % projects)"
            s.routers.append(Router(id: "r\(i)", projectID: project, gateways: [ExternalGateway(networkID: "ext-net", fixedIPs: [
                FixedIP(subnetID: "ext-v4", ipAddress: IPAddress("203.0.113.\(20 + i)")!)])]))
            s.subnets.append(Subnet(id: "s\(i)", networkID: "n\(i)", cidr: IPPrefix("10.\(i).0.0/24")!, projectID: project, createdAt: "2026-01-01T00:00:00Z"))
            s.ports.append(RouterPort(id: "p\(i)", deviceID: "r\(i)", fixedIPs: [FixedIP(subnetID: "s\(i)", ipAddress: IPAddress("10.\(i).0.1")!)]))
        }
        return s
    }

    func dropping(_ routers: Range<Int>, from s: CloudSnapshot) -> CloudSnapshot {
        var s = s
        let gone = Set(routers.map { "r\($0)" })
        s.routers.removeAll { gone.contains($0.id) }
        s.ports.removeAll { gone.contains($0.deviceID) }
        return s
    }

    struct Rig {
        let kernel = hostKernel()
        let reconciler: Reconciler
        let guards: Safeguards
        init(_ settings: Settings = Settings(), confirmAfter: Duration? = nil) throws {
            reconciler = try Reconciler(kernel: kernel, settings: settings, logger: LogCapture().logger())
            guards = Safeguards(brake: settings.deletionBrake, confirmAfter: confirmAfter)
        }
        @discardableResult
        func sync(_ s: CloudSnapshot, at now: Duration) throws -> ReconcileReport {
            try reconciler.reconcile(snapshot: s, apply: true) { plan, view in
                guards.decide(plan, kernel: view, ownership: Ownership(proto: 200, table: 254), now: now).braked
            }
        }
        var owned: Int { kernel.current.routes.filter { $0.proto == 200 }.count }
    }

    let t0 = Duration.seconds(1000)

    @Test func smallBatchesCannotDrainTheTableWithinTheWindow() throws {
        let rig = try Rig()
        let full = cloud(100)
        try rig.sync(full, at: t0)
        #expect(rig.owned == 100)
        // Four routers vanish every minute: the window (10 min) allows 10 % of 100 = 10.
        var reports: [ReconcileReport] = []
        for minute in 1...5 {
            reports.append(try rig.sync(dropping(0..<(4 * minute), from: full), at: t0 + .seconds(60 * minute)))
        }
        #expect(rig.owned == 90)
        #expect(reports.last!.held.count == 10)
        // Once the first deletions leave the window, more are allowed: at 12 min the 4 + 4 of minutes 1 and 2
        // have left it, the 2 of minute 3 remain: 10 % of (90 + 2) = 9, minus 2 = 7 more.
        try rig.sync(dropping(0..<20, from: full), at: t0 + .seconds(60 * 12))
        #expect(rig.owned == 83)
    }

    @Test func forceCarriesOutEveryHeldDeletionOnce() throws {
        let rig = try Rig()
        try rig.sync(cloud(50), at: t0)
        let report = try rig.sync(CloudSnapshot(networks: cloud(1).networks), at: t0 + .seconds(1))
        #expect(report.held.count == 45)
        #expect(rig.owned == 45)
        rig.guards.requestForce()
        let forced = try rig.sync(CloudSnapshot(networks: cloud(1).networks), at: t0 + .seconds(2))
        #expect(forced.held.isEmpty)
        #expect(rig.owned == 0)
        #expect(rig.guards.held.isEmpty)
    }

    @Test func heldDeletionsAreCarriedOutAfterConfirmAfterOfReadsWantingTheSame() throws {
        let rig = try Rig(confirmAfter: .seconds(300))
        try rig.sync(cloud(40), at: t0)
        let shrunk = dropping(0..<30, from: cloud(40))
        #expect(try rig.sync(shrunk, at: t0 + .seconds(10)).held.count == 25)
        #expect(try rig.sync(shrunk, at: t0 + .seconds(200)).held.count == 25)
        #expect(rig.owned == 35)
        let last = try rig.sync(shrunk, at: t0 + .seconds(311))
        #expect(last.held.isEmpty)
        #expect(rig.owned == 10)
    }

    @Test func wantingMoreDeletionsRestartsTheConfirmClock() throws {
        let rig = try Rig(confirmAfter: .seconds(300))
        try rig.sync(cloud(40), at: t0)
        try rig.sync(dropping(0..<20, from: cloud(40)), at: t0 + .seconds(10))
        #expect(try rig.sync(dropping(0..<30, from: cloud(40)), at: t0 + .seconds(250)).held.count == 25)
        #expect(try rig.sync(dropping(0..<30, from: cloud(40)), at: t0 + .seconds(320)).held.count == 25)
        #expect(try rig.sync(dropping(0..<30, from: cloud(40)), at: t0 + .seconds(551)).held.isEmpty)
    }

    @Test func offDisablesTheBrake() throws {
        var settings = Settings()
        settings.maxDelete = .off
        let rig = try Rig(settings)
        try rig.sync(cloud(30), at: t0)
        #expect(try rig.sync(cloud(0), at: t0 + .seconds(1)).held.isEmpty)
        #expect(rig.owned == 0)
    }

    @Test func kernelEventsDeleteNothingTheLastFullPlanDidNotAllow() throws {
        let rig = try Rig()
        try rig.sync(cloud(30), at: t0)
        try rig.sync(dropping(0..<20, from: cloud(30)), at: t0 + .seconds(1))   // 5 deleted, 15 held
        #expect(rig.owned == 25)
        let heal = try rig.reconciler.reconcile(snapshot: dropping(0..<20, from: cloud(30)), apply: true) { plan, _ in
            rig.guards.decideForKernelEvent(plan)
        }
        #expect(heal.plan.changes.filter { $0.action == .delete }.isEmpty)
        #expect(rig.owned == 25)
    }

    @Test(arguments: [
        ([4, 4], false), ([4, 2], false), ([4, 1], true), ([2, 0], true), ([2, 1], false), ([1, 0], false), ([10, 4], true), ([10, 5], false),
    ])
    func scopeShrinkingSharplyIsDetected(counts: [Int], shrank: Bool) {
        let previous = Set((0..<counts[0]).map { "p\($0)" })
        let current = Set((0..<counts[1]).map { "p\($0)" })
        #expect(scopeShrankSharply(previous: previous, current: current) == shrank)
    }

    @Test func theOwnProjectIsJudgedFromRoutersAndTenantSubnetsOnly() {
        var s = cloud(3, projects: 1)
        #expect(visibleProjects(s) == ["proj-0"])   // the external subnets (no project here) do not count
        #expect(seesOnlyOwnProject(s, ownProject: "proj-0"))
        #expect(!seesOnlyOwnProject(s, ownProject: nil))
        s.routers[0].projectID = "other"
        #expect(!seesOnlyOwnProject(s, ownProject: "proj-0"))
    }

    @Test func daemonTreatsASharplyShrunkScopeAsAFailedReadAndKeepsRoutes() async throws {
        let kernel = hostKernel()
        let source = ScriptedSource(cloud(8, projects: 4))
        let logs = LogCapture()
        let metrics = AgentMetrics()
        var settings = Settings()
        settings.maxDelete = .off          // the scope check alone must stop this
        let fixed = settings
        let daemon = try Daemon(settings: settings, logger: logs.logger(), metrics: metrics, reloadSettings: { fixed }, jitter: { 1.0 }) { s in
            (source, try Reconciler(kernel: kernel, settings: s, logger: logs.logger(), metrics: metrics))
        }
        _ = await daemon.fullReconcile()
        #expect(kernel.current.routes.filter { $0.proto == 200 }.count == 8)
        source.set(CloudSnapshot(networks: sampleCloud().networks))   // valid but empty
        _ = await daemon.fullReconcile()
        #expect(kernel.current.routes.filter { $0.proto == 200 }.count == 8)
        #expect(logs.contains("now sees 0 project(s)"))
        #expect(metrics.exposition().contains("mra_consecutive_read_failures 1"))
        // Operator confirmation accepts the new scope; the brake is off, so everything goes.
        _ = daemon.forceDelete()
        _ = await daemon.fullReconcile()
        #expect(kernel.current.routes.filter { $0.proto == 200 }.isEmpty)
    }

    @Test func daemonHoldsDeletionsLogsThemOnceAndReportsThemInMetricsAndReadiness() async throws {
        let kernel = hostKernel()
        let source = ScriptedSource(cloud(40, projects: 2))
        let logs = LogCapture()
        let metrics = AgentMetrics()
        let settings = Settings()
        let daemon = try Daemon(settings: settings, logger: logs.logger(), metrics: metrics, reloadSettings: { settings }, jitter: { 1.0 }) { s in
            (source, try Reconciler(kernel: kernel, settings: s, logger: logs.logger(), metrics: metrics))
        }
        _ = await daemon.fullReconcile()
        source.set(dropping(0..<30, from: cloud(40, projects: 2)))
        _ = await daemon.fullReconcile()
        _ = await daemon.fullReconcile()
        #expect(kernel.current.routes.filter { $0.proto == 200 }.count == 35)
        #expect(logs.all.filter { $0.contains("deletion brake: holding") }.count == 1)
        #expect(metrics.exposition().contains("mra_deletions_held 25"))
        #expect(daemon.readiness().1.contains("25 route deletion(s) held"))
        #expect(daemon.forceDelete().hasPrefix("ok"))
        _ = await daemon.fullReconcile()
        #expect(kernel.current.routes.filter { $0.proto == 200 }.count == 10)
        #expect(metrics.exposition().contains("mra_deletions_held 0"))
    }

    @Test func dryRunWritesNothingButLogsWhatItWouldDo() async throws {
        let kernel = hostKernel()
        let source = ScriptedSource(sampleCloud())
        let logs = LogCapture()
        var settings = Settings()
        settings.dryRun = true
        let fixed = settings
        let daemon = try Daemon(settings: settings, logger: logs.logger(), metrics: AgentMetrics(), reloadSettings: { fixed }, jitter: { 1.0 }) { s in
            (source, try Reconciler(kernel: kernel, settings: s, logger: logs.logger()))
        }
        _ = await daemon.fullReconcile()
        #expect(kernel.writes.isEmpty)
        #expect(logs.all.filter { $0.contains("would add route") }.count == 3)
    }

    @Test(arguments: [("90s", 90.0), ("10m", 600), ("1h30m", 5400), ("45", 45), ("2d", 172_800)])
    func durationsParse(text: String, seconds: Double) {
        #expect(Duration.parseHuman(text) == .milliseconds(Int64(seconds * 1000)))
    }

    @Test func settingsAcceptTheBrakeOptionsAndRejectNonsenseWithTheAllowedForms() throws {
        var o = SettingsOverrides()
        o["max-delete"] = .text("25")
        o["delete-confirm-after"] = .text("15m")
        let s = try Settings.load(configFile: nil, overrides: o)
        #expect(s.maxDelete == .count(25))
        #expect(s.deleteConfirmAfter == .after(.seconds(900)))
        o["delete-confirm-after"] = .text("never")
        #expect(try Settings.load(configFile: nil, overrides: o).deleteConfirmAfter == .never)
        o["max-delete"] = .text("lots")
        #expect(throws: ConfigError.self) { try Settings.load(configFile: nil, overrides: o) }
    }
}
