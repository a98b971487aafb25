import Model
import Testing
@testable import RoutePlanner

@Suite struct NexthopDiffTests {
    /// r1 (gateway .10) with two subnets, r2 (gateway .20) with one.
    static func cloud() -> Cloud {
        var c = Cloud()
        c.router("r1")
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        c.subnet("s2", "10.2.0.0/24", router: "r1")
        c.router("r2", gateways: ["203.0.113.20"])
        c.subnet("s3", "10.3.0.0/24", router: "r2")
        return c
    }

    @Test func emptyKernelGetsOneNexthopPerGatewayThenRoutes() {
        let plan = Self.cloud().plan()
        #expect(plan.operations == [
            .addNexthop(KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)),
            .addNexthop(KernelNexthop(id: nh2, gateway: ip("203.0.113.20"), outputInterface: 2, proto: 200)),
            .addRoute(RouteSpec(destination: pfx("10.1.0.0/24"), table: 254, proto: 200, target: .nexthop(nh1))),
            .addRoute(RouteSpec(destination: pfx("10.2.0.0/24"), table: 254, proto: 200, target: .nexthop(nh1))),
            .addRoute(RouteSpec(destination: pfx("10.3.0.0/24"), table: 254, proto: 200, target: .nexthop(nh2))),
        ])
        #expect(plan.changes.map(\.action) == [.add, .add, .add])
    }

    @Test func identicalStateNeedsNoOperations() {
        var c = Self.cloud()
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200),
                             KernelNexthop(id: nh2, gateway: ip("203.0.113.20"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", nexthop: nh1), owned("10.2.0.0/24", nexthop: nh1), owned("10.3.0.0/24", nexthop: nh2)]
        let plan = c.plan()
        #expect(plan.isEmpty)
        #expect(plan.changes.isEmpty)
        #expect(plan.desired.count == 3)
    }

    @Test func existingNexthopsAreReusedByGatewayWhateverTheirID() {
        var c = Self.cloud()
        c.kernel.nexthops = [KernelNexthop(id: 200_000_500, gateway: ip("203.0.113.20"), outputInterface: 2, proto: 200)]
        let plan = c.plan()
        #expect(plan.operations.first == .addNexthop(KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)))
        #expect(plan.operations.contains(.addRoute(RouteSpec(destination: pfx("10.3.0.0/24"), table: 254, proto: 200, target: .nexthop(200_000_500)))))
    }

    @Test func changedGatewayIsOneNexthopReplace() {
        var c = Self.cloud()
        c.snapshot.routers[0].gateways[0].fixedIPs[0].ipAddress = ip("203.0.113.11")
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200),
                             KernelNexthop(id: nh2, gateway: ip("203.0.113.20"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", nexthop: nh1), owned("10.2.0.0/24", nexthop: nh1), owned("10.3.0.0/24", nexthop: nh2)]
        let plan = c.plan()
        #expect(plan.operations == [.replaceNexthop(KernelNexthop(id: nh1, gateway: ip("203.0.113.11"), outputInterface: 2, proto: 200))])
        #expect(plan.changes == [
            PlannedChange(action: .replace, destination: pfx("10.1.0.0/24"), nextHop: ip("203.0.113.11"), previousNextHop: ip("203.0.113.10"), routerID: "r1", subnetID: "s1"),
            PlannedChange(action: .replace, destination: pfx("10.2.0.0/24"), nextHop: ip("203.0.113.11"), previousNextHop: ip("203.0.113.10"), routerID: "r1", subnetID: "s2"),
        ])
    }

    @Test func gatewayMovingOntoAnExistingNexthopReplacesRoutesAndDropsTheOldNexthop() {
        var c = Self.cloud()
        c.snapshot.routers[0].gateways[0].fixedIPs[0].ipAddress = ip("203.0.113.20")   // r1 now shares r2's address
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200),
                             KernelNexthop(id: nh2, gateway: ip("203.0.113.20"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", nexthop: nh1), owned("10.2.0.0/24", nexthop: nh1), owned("10.3.0.0/24", nexthop: nh2)]
        #expect(c.plan().summaries == [
            "replace route 10.1.0.0/24 via nexthop \(nh2) table 254",
            "replace route 10.2.0.0/24 via nexthop \(nh2) table 254",
            "delete nexthop \(nh1)",
        ])
    }

    @Test func changedGatewayWithAStaleRouteOnTheOldNexthopIsNotAReplaceInPlace() {
        var c = Self.cloud()
        c.snapshot.routers[0].gateways[0].fixedIPs[0].ipAddress = ip("203.0.113.11")
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200),
                             KernelNexthop(id: nh2, gateway: ip("203.0.113.20"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", nexthop: nh1), owned("10.2.0.0/24", nexthop: nh1), owned("10.3.0.0/24", nexthop: nh2),
                           owned("10.77.0.0/24", nexthop: nh1)]
        #expect(c.plan().summaries == [
            "add nexthop \(nh3) via 203.0.113.11",
            "replace route 10.1.0.0/24 via nexthop \(nh3) table 254", "replace route 10.2.0.0/24 via nexthop \(nh3) table 254",
            "delete route 10.77.0.0/24 table 254", "delete nexthop \(nh1)",
        ])
    }

    @Test func gatewayChangingFamilyNeverReusesTheOldNexthop() {
        var c = Cloud()
        c.router("r1", gateways: ["2001:db8:0:1::10"])
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        c.subnet("s6", "fd00:1::/64", router: "r1")
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("fd00:1::/64", nexthop: nh1, metric: 1024)]
        #expect(c.plan().summaries == ["add nexthop \(nh2) via 2001:db8:0:1::10", "replace route fd00:1::/64 via nexthop \(nh2) table 254",
                                       "delete nexthop \(nh1)"])
    }

    @Test func splitRoutesOfOneNexthopGetANewNexthopAndRouteReplaces() {
        var c = Self.cloud()
        // s2 moves to a new router with a new gateway; s1 stays on .10.
        c.router("r9", gateways: ["203.0.113.90"])
        c.snapshot.ports[1].deviceID = "r9"
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200),
                             KernelNexthop(id: nh2, gateway: ip("203.0.113.20"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", nexthop: nh1), owned("10.2.0.0/24", nexthop: nh1), owned("10.3.0.0/24", nexthop: nh2)]
        #expect(c.plan().summaries == ["add nexthop \(nh3) via 203.0.113.90", "replace route 10.2.0.0/24 via nexthop \(nh3) table 254"])
    }

    @Test func foreignNexthopIDsInsideOurRangeAreSkippedAndLeftAlone() {
        var c = Self.cloud()
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 4),
                             KernelNexthop(id: nh3, gateway: nil, outputInterface: 0, proto: 17)]
        let plan = c.plan()
        #expect(plan.summaries.prefix(2) == ["add nexthop \(nh2) via 203.0.113.10", "add nexthop 200000004 via 203.0.113.20"])
        #expect(!plan.operations.contains { if case .deleteNexthop = $0 { return true } else { return false } })
    }

    @Test func ownedLookingNexthopsOutsideTheRangeAreNotOurs() {
        var c = Self.cloud()
        c.kernel.nexthops = [KernelNexthop(id: 7, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)]
        let plan = c.plan()
        #expect(plan.operations.first == .addNexthop(KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)))
        #expect(!plan.operations.contains(.deleteNexthop(id: 7)))
    }

    @Test func staleOwnedRoutesAndTheirNexthopAreDeletedAfterRouteWrites() {
        var c = Self.cloud()
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200),
                             KernelNexthop(id: nh2, gateway: ip("203.0.113.20"), outputInterface: 2, proto: 200),
                             KernelNexthop(id: nh3, gateway: ip("203.0.113.77"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", nexthop: nh1), owned("10.2.0.0/24", nexthop: nh1), owned("10.3.0.0/24", nexthop: nh2),
                           owned("10.77.0.0/24", nexthop: nh3), owned("10.78.0.0/24", via: "203.0.113.78")]
        let plan = c.plan()
        #expect(plan.summaries == ["delete route 10.77.0.0/24 table 254", "delete route 10.78.0.0/24 table 254", "delete nexthop \(nh3)"])
        #expect(plan.changes.map(\.action) == [.delete, .delete])
        #expect(plan.changes.first?.previousNextHop == ip("203.0.113.77"))
    }

    @Test func nexthopUsedByAForeignRouteIsNeverDeletedOrReplaced() {
        var c = Cloud()
        c.router("r1", gateways: ["203.0.113.11"])
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", nexthop: nh1),
                           KernelRoute(destination: pfx("192.168.50.0/24"), table: 100, proto: 4, nexthopID: nh1)]
        let plan = c.plan()
        #expect(plan.summaries == ["add nexthop \(nh2) via 203.0.113.11", "replace route 10.1.0.0/24 via nexthop \(nh2) table 254"])
    }

    @Test func movedInterfaceReplacesTheNexthopInPlace() {
        var c = Cloud()
        c.router("r1")
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        c.kernel.connected[0].interfaceIndex = 5
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", nexthop: nh1)]
        #expect(c.plan().operations == [.replaceNexthop(KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 5, proto: 200))])
    }

    @Test func classicRoutesAreReplacedWhenSwitchingToNexthops() {
        var c = Self.cloud()
        c.kernel.routes = [owned("10.1.0.0/24", via: "203.0.113.10"), owned("10.2.0.0/24", via: "203.0.113.10"), owned("10.3.0.0/24", via: "203.0.113.20")]
        let plan = c.plan()
        #expect(plan.summaries == [
            "add nexthop \(nh1) via 203.0.113.10", "add nexthop \(nh2) via 203.0.113.20",
            "replace route 10.1.0.0/24 via nexthop \(nh1) table 254", "replace route 10.2.0.0/24 via nexthop \(nh1) table 254",
            "replace route 10.3.0.0/24 via nexthop \(nh2) table 254",
        ])
        #expect(plan.changes.isEmpty == false && plan.changes.allSatisfy { $0.previousNextHop == $0.nextHop })
    }

    @Test func foreignRoutesAreNeverWritten() {
        var c = Self.cloud()
        c.kernel.routes = [KernelRoute(destination: pfx("192.168.9.0/24"), proto: 4, gateway: ip("203.0.113.254")),
                           KernelRoute(destination: pfx("10.1.0.0/24"), table: 100, proto: 200, gateway: ip("203.0.113.10")),
                           KernelRoute(destination: pfx("0.0.0.0/0"), proto: 16, gateway: ip("203.0.113.254"))]
        let plan = c.plan()
        #expect(plan.refusal("s1")?.reason == .overlapsForeignRoute)
        for op in plan.operations {
            switch op {
            case .addRoute(let s), .replaceRoute(let s), .deleteRoute(let s): #expect(s.proto == 200 && s.table == 254)
            case .addNexthop(let n), .replaceNexthop(let n): #expect(n.proto == 200 && Policy().nexthopIDRange.contains(n.id))
            case .deleteNexthop(let id): #expect(Policy().nexthopIDRange.contains(id))
            }
        }
        #expect(!plan.summaries.contains { $0.contains("192.168.9.0") || $0.contains("delete") })
    }
}

@Suite struct ClassicDiffTests {
    static func cloud() -> Cloud {
        var c = NexthopDiffTests.cloud()
        c.policy.useNexthopObjects = false
        return c
    }

    @Test func emptyKernelGetsViaRoutes() {
        let plan = Self.cloud().plan()
        #expect(plan.operations == [
            .addRoute(RouteSpec(destination: pfx("10.1.0.0/24"), table: 254, proto: 200, target: .gateway(ip("203.0.113.10"), outputInterface: 2))),
            .addRoute(RouteSpec(destination: pfx("10.2.0.0/24"), table: 254, proto: 200, target: .gateway(ip("203.0.113.10"), outputInterface: 2))),
            .addRoute(RouteSpec(destination: pfx("10.3.0.0/24"), table: 254, proto: 200, target: .gateway(ip("203.0.113.20"), outputInterface: 2))),
        ])
    }

    @Test func changedGatewayIsAnInPlaceReplaceNeverDeleteAndAdd() {
        var c = Self.cloud()
        c.snapshot.routers[1].gateways[0].fixedIPs[0].ipAddress = ip("203.0.113.21")
        c.kernel.routes = [owned("10.1.0.0/24", via: "203.0.113.10"), owned("10.2.0.0/24", via: "203.0.113.10"), owned("10.3.0.0/24", via: "203.0.113.20")]
        let plan = c.plan()
        #expect(plan.operations == [.replaceRoute(RouteSpec(destination: pfx("10.3.0.0/24"), table: 254, proto: 200,
                                                            target: .gateway(ip("203.0.113.21"), outputInterface: 2)))])
        #expect(plan.changes == [PlannedChange(action: .replace, destination: pfx("10.3.0.0/24"), nextHop: ip("203.0.113.21"),
                                               previousNextHop: ip("203.0.113.20"), routerID: "r2", subnetID: "s3")])
    }

    @Test func replaceKeepsTheMetricOfTheOwnedRoute() {
        var c = Cloud()
        c.policy.useNexthopObjects = false
        c.router("r6", gateways: ["2001:db8:0:1::10"])
        c.subnet("s6", "fd00:1::/64", router: "r6")
        c.kernel.routes = [owned("fd00:1::/64", via: "2001:db8:0:1::99", metric: 1024)]
        #expect(c.plan().operations == [.replaceRoute(RouteSpec(destination: pfx("fd00:1::/64"), table: 254, proto: 200,
                                                               target: .gateway(ip("2001:db8:0:1::10"), outputInterface: 2), metric: 1024))])
    }

    @Test func matchingRoutesNeedNothingAndDuplicatesAreRemoved() {
        var c = Self.cloud()
        c.kernel.routes = [owned("10.1.0.0/24", via: "203.0.113.10"), owned("10.2.0.0/24", via: "203.0.113.10"), owned("10.3.0.0/24", via: "203.0.113.20"),
                           owned("10.3.0.0/24", via: "203.0.113.66", metric: 50)]
        #expect(c.plan().summaries == ["delete route 10.3.0.0/24 table 254"])
        c.kernel.routes.removeLast()
        #expect(c.plan().isEmpty)
    }

    @Test func extraOwnedRoutesAreDeletedByTheirExactMetric() {
        var c = Cloud()
        c.policy.useNexthopObjects = false
        c.router("r6", gateways: ["2001:db8:0:1::10"])
        c.subnet("s6", "fd00:1::/64", router: "r6")
        c.kernel.routes = [owned("fd00:1::/64", via: "2001:db8:0:1::77", metric: 77), owned("fd00:1::/64", via: "2001:db8:0:1::99")]
        let plan = c.plan()
        #expect(plan.operations == [
            .replaceRoute(RouteSpec(destination: pfx("fd00:1::/64"), table: 254, proto: 200, target: .gateway(ip("2001:db8:0:1::10"), outputInterface: 2), metric: 77)),
            .deleteRoute(RouteSpec(destination: pfx("fd00:1::/64"), table: 254, proto: 200, target: .gateway(ip("2001:db8:0:1::99"), outputInterface: 2), metric: 1024)),
        ])
        c.kernel = simulate(plan.operations, on: c.kernel)
        #expect(c.kernel.routes.map(\.gateway) == [ip("2001:db8:0:1::10")])
        #expect(c.plan().isEmpty)
    }

    @Test func switchingOffNexthopsReplacesRoutesThenDeletesNexthops() {
        var c = Self.cloud()
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200),
                             KernelNexthop(id: nh2, gateway: ip("203.0.113.20"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", nexthop: nh1), owned("10.2.0.0/24", nexthop: nh1), owned("10.3.0.0/24", nexthop: nh2)]
        #expect(c.plan().summaries == [
            "replace route 10.1.0.0/24 via 203.0.113.10 table 254", "replace route 10.2.0.0/24 via 203.0.113.10 table 254",
            "replace route 10.3.0.0/24 via 203.0.113.20 table 254", "delete nexthop \(nh1)", "delete nexthop \(nh2)",
        ])
    }

    @Test func ownedBlackholeAtADesiredPrefixIsReplaced() {
        var c = Self.cloud()
        c.kernel.routes = [KernelRoute(destination: pfx("10.1.0.0/24"), proto: 200, type: 6)]
        #expect(c.plan().summaries.contains("replace route 10.1.0.0/24 via 203.0.113.10 table 254"))
    }
}

@Suite struct OperationOrderTests {
    @Test func operationsComeInApplyOrder() {
        var c = NexthopDiffTests.cloud()
        c.router("r9", gateways: ["203.0.113.90"])
        c.subnet("s9", "10.9.0.0/24", router: "r9")
        c.kernel.nexthops = [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200),
                             KernelNexthop(id: nh2, gateway: ip("203.0.113.55"), outputInterface: 2, proto: 200)]
        c.kernel.routes = [owned("10.1.0.0/24", via: "203.0.113.10"), owned("10.50.0.0/24", nexthop: nh2)]
        let kinds = c.plan().operations.map { op -> Int in
            switch op {
            case .addNexthop, .replaceNexthop: return 0
            case .addRoute: return 1
            case .replaceRoute: return 2
            case .deleteRoute: return 3
            case .deleteNexthop: return 4
            }
        }
        #expect(kinds == kinds.sorted())
        #expect(Set(kinds) == [0, 1, 2, 3, 4])
    }
}
