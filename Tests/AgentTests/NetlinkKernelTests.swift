import Logging
import Model
import Netlink
import Testing
import TestSupport
@testable import Agent

/// The Agent over the real rtnetlink codec, without root: `NetlinkKernel` on a `RouteSocket` whose transport is
/// TestSupport's scripted kernel. What the codec encodes is decoded by the scripted kernel's own code, applied,
/// and dumped back through the codec's decoders.
@Suite struct NetlinkKernelTests {
    static let eth0v4 = ConnectedNetwork(prefix: IPPrefix("203.0.113.0/24")!, address: IPAddress("203.0.113.2")!, interfaceIndex: 2, interfaceName: "eth0")
    static let eth0v6 = ConnectedNetwork(prefix: IPPrefix("2001:db8:100::/64")!, address: IPAddress("2001:db8:100::2")!, interfaceIndex: 2, interfaceName: "eth0")
    static let lo = ConnectedNetwork(prefix: IPPrefix("127.0.0.0/8")!, address: IPAddress("127.0.0.1")!, interfaceIndex: 1, interfaceName: "lo")

    /// The host of `hostKernel()`, plus look-alikes of the agent's routes and nexthops that are not its own,
    /// and one stale route that is.
    static func host(nexthopSupport: Bool = true) -> ScriptedKernel {
        ScriptedKernel(
            routes: [
                KernelRoute(destination: IPPrefix("0.0.0.0/0")!, proto: 3, gateway: IPAddress("203.0.113.1")),
                KernelRoute(destination: IPPrefix("203.0.113.0/24")!, proto: 2, outputInterface: 2),
                KernelRoute(destination: IPPrefix("198.51.100.0/24")!, proto: 4, gateway: IPAddress("203.0.113.1")),
                KernelRoute(destination: IPPrefix("10.77.0.0/24")!, table: 100, proto: 200, gateway: IPAddress("203.0.113.77")),
                KernelRoute(destination: IPPrefix("10.9.0.0/24")!, proto: 200, gateway: IPAddress("203.0.113.99"), outputInterface: 2),
            ],
            nexthops: nexthopSupport ? [
                KernelNexthop(id: 7, gateway: IPAddress("203.0.113.10"), outputInterface: 2, proto: 200),
                KernelNexthop(id: 200_000_001, gateway: IPAddress("203.0.113.50"), outputInterface: 2, proto: 4),
            ] : [],
            connected: [eth0v4, eth0v6, lo], nexthopSupport: nexthopSupport)
    }

    @Test func aReconcileThroughTheRealCodecWritesThePlanTouchesNothingElseAndConverges() throws {
        let fake = Self.host()
        let foreignBefore = (fake.routes.filter { $0.proto != 200 || $0.table != 254 }, fake.nexthops)
        let kernel = NetlinkKernel(socket: RouteSocket(transport: fake.transport))
        let reconciler = try Reconciler(kernel: kernel, settings: Settings(), logger: Logger(label: "test"))
        #expect(reconciler.useNexthopObjects)

        let report = try reconciler.reconcile(snapshot: sampleCloud(), apply: true)
        #expect(report.converged)
        #expect(fake.writes.map(\.summary) == report.plan.operations.map(\.summary))
        #expect(fake.writes.map(\.summary).contains("delete route 10.9.0.0/24 table 254"))
        // The nexthop of our protocol outside our range and the foreign one inside it are neither reused nor deleted.
        #expect(!fake.writes.contains { if case .deleteNexthop = $0 { return true } else { return false } })
        #expect(fake.writes.contains(.addNexthop(KernelNexthop(id: 200_000_002, gateway: IPAddress("203.0.113.10"), outputInterface: 2, proto: 200))))
        #expect(fake.routes.filter { $0.proto != 200 || $0.table != 254 } == foreignBefore.0)
        #expect(Set(foreignBefore.1).isSubset(of: Set(fake.nexthops)))

        let view = try kernel.view(table: 254, includeNexthops: true)
        #expect(OwnedRoute.list(in: view, ownership: Settings().ownership).map { "\($0.destination) via \($0.nextHop ?? "?")" } == [
            "10.0.0.0/24 via 203.0.113.10", "10.1.0.0/24 via 203.0.113.11", "fd00:10::/64 via 2001:db8:100::10",
        ])
        // What was written reads back as what was planned: the next plan is empty.
        let again = try reconciler.reconcile(snapshot: sampleCloud(), apply: true)
        #expect(again.plan.operations.isEmpty, "\(again.plan.operations.map(\.summary))")
    }

    @Test func aRefusedWriteIsReportedForItsRouteOnlyOnAKernelWithoutNexthopObjects() throws {
        let fake = Self.host(nexthopSupport: false)
        fake.failures[IPPrefix("10.1.0.0/24")!] = 101   // ENETUNREACH
        let reconciler = try Reconciler(kernel: NetlinkKernel(socket: RouteSocket(transport: fake.transport)),
                                        settings: Settings(), logger: Logger(label: "test"))
        #expect(!reconciler.useNexthopObjects)
        let report = try reconciler.reconcile(snapshot: sampleCloud(), apply: true)
        #expect(!report.converged)
        #expect(report.failed.map(\.change.destination) == [IPPrefix("10.1.0.0/24")!])
        #expect(report.failed.first?.error.name == "ENETUNREACH")
        #expect(Set(report.applied.map(\.destination.description)) == ["10.0.0.0/24", "fd00:10::/64", "10.9.0.0/24"])
        #expect(fake.routes.contains(KernelRoute(destination: IPPrefix("10.0.0.0/24")!, proto: 200, gateway: IPAddress("203.0.113.10"), outputInterface: 2)))
    }

    @Test func theRoutesListingShowsOnlyWhatIsOurs() {
        let view = KernelView(routes: [
            KernelRoute(destination: IPPrefix("10.0.0.0/24")!, proto: 200, nexthopID: 200_000_001),
            KernelRoute(destination: IPPrefix("10.1.0.0/24")!, proto: 200, nexthopID: 7),
            KernelRoute(destination: IPPrefix("10.2.0.0/24")!, table: 100, proto: 200, gateway: IPAddress("203.0.113.12")),
            KernelRoute(destination: IPPrefix("10.3.0.0/24")!, proto: 4, gateway: IPAddress("203.0.113.13")),
        ], nexthops: [
            KernelNexthop(id: 200_000_001, gateway: IPAddress("203.0.113.10"), outputInterface: 2, proto: 200),
            KernelNexthop(id: 7, gateway: IPAddress("203.0.113.11"), outputInterface: 2, proto: 200),
        ])
        let listed = OwnedRoute.list(in: view, ownership: Ownership(proto: 200, table: 254))
        #expect(listed.map(\.destination) == ["10.0.0.0/24", "10.1.0.0/24"])
        #expect(listed[0].nextHop == "203.0.113.10")
        // Nexthop 7 carries the agent's protocol but lies outside its range: not ours, so not resolved.
        #expect(listed[1].nextHop == nil && listed[1].nexthopID == 7)
    }
}
