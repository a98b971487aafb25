import Foundation
import Model
import RoutePlanner
import Testing
@testable import Agent

@Suite struct ReconcilerTests {
    func reconciler(_ kernel: InMemoryKernel, _ configure: (inout Settings) -> Void = { _ in }) throws -> Reconciler {
        var s = Settings()
        configure(&s)
        return try Reconciler(kernel: kernel, settings: s, logger: LogCapture().logger())
    }

    @Test func syncInstallsEverySubnetOfEveryRouterAndASecondSyncWritesNothing() throws {
        let kernel = hostKernel()
        let r = try reconciler(kernel)
        let first = try r.reconcile(snapshot: sampleCloud(), apply: true)
        #expect(first.converged)
        #expect(ownedRoutes(kernel) == ["10.0.0.0/24 via 203.0.113.10", "10.1.0.0/24 via 203.0.113.11", "fd00:10::/64 via 2001:db8:100::10"])
        let writes = kernel.writes.count
        let second = try r.reconcile(snapshot: sampleCloud(), apply: true)
        #expect(second.plan.operations.isEmpty)
        #expect(kernel.writes.count == writes)
    }

    @Test func classicModeWritesViaRoutesWithoutNexthopObjects() throws {
        let kernel = hostKernel()
        let r = try reconciler(kernel) { $0.nexthopMode = .classic }
        _ = try r.reconcile(snapshot: sampleCloud(), apply: true)
        #expect(kernel.current.nexthops.isEmpty)
        let owned = kernel.current.routes.filter { $0.proto == 200 }
        #expect(owned.count == 3)
        #expect(owned.allSatisfy { $0.gateway != nil && $0.nexthopID == nil })
    }

    @Test func autoModeFallsBackToClassicRoutesOnAKernelWithoutNexthopObjects() throws {
        let kernel = hostKernel(nexthopSupport: false)
        let r = try reconciler(kernel)
        #expect(!r.useNexthopObjects)
        #expect(throws: ConfigError.self) { try reconciler(kernel) { $0.nexthopMode = .objects } }
    }

    @Test func planChangesNothing() throws {
        let kernel = hostKernel()
        let before = kernel.current
        let report = try reconciler(kernel).reconcile(snapshot: sampleCloud(), apply: false)
        #expect(report.plan.changes.filter { $0.action == .add }.count == 3)
        #expect(kernel.current == before)
        #expect(kernel.writes.isEmpty)
    }

    @Test func aFailedWriteIsReportedForThatRouteAndTheOthersStillLand() throws {
        let kernel = hostKernel()
        kernel.failWrites(to: IPPrefix("10.1.0.0/24")!, errno: ENETUNREACH)
        let report = try reconciler(kernel).reconcile(snapshot: sampleCloud(), apply: true)
        #expect(!report.converged)
        #expect(report.failed.map { "\($0.change.destination)" } == ["10.1.0.0/24"])
        #expect(report.failed.first?.error.name == "ENETUNREACH")
        #expect(ownedRoutes(kernel) == ["10.0.0.0/24 via 203.0.113.10", "fd00:10::/64 via 2001:db8:100::10"])
    }

    @Test func cleanupDeletesOwnedRoutesAndNexthopsAndNothingElse() throws {
        let kernel = hostKernel()
        let r = try reconciler(kernel)
        _ = try r.reconcile(snapshot: sampleCloud(), apply: true)
        let foreign = kernel.current.routes.filter { $0.proto != 200 }
        _ = try r.cleanup()
        #expect(ownedRoutes(kernel).isEmpty)
        #expect(kernel.current.nexthops.filter { $0.proto == 200 }.isEmpty)
        #expect(kernel.current.routes.sorted() == foreign.sorted())
    }

    @Test func aRemovedRouterInterfaceDeletesItsRoute() throws {
        let kernel = hostKernel()
        let r = try reconciler(kernel)
        _ = try r.reconcile(snapshot: sampleCloud(), apply: true)
        var cloud = sampleCloud()
        cloud.ports.removeAll { $0.id == "p3" }
        let report = try r.reconcile(snapshot: cloud, apply: true)
        #expect(report.applied.map { "\($0.action) \($0.destination)" } == ["delete 10.1.0.0/24"])
        #expect(!ownedRoutes(kernel).contains { $0.hasPrefix("10.1.0.0/24") })
    }

    @Test func aKernelThatCannotBeReadChangesNothing() throws {
        let kernel = hostKernel()
        kernel.failReads("netlink socket closed")
        #expect(throws: ReconcileError.self) { try reconciler(kernel).reconcile(snapshot: sampleCloud(), apply: true) }
        #expect(kernel.writes.isEmpty)
    }
}
