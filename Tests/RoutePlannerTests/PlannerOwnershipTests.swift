import Model
import Testing
@testable import RoutePlanner

/// The planner asks `Policy.ownership` and nothing else: with an empty cloud (the cleanup plan) it deletes
/// exactly what is ours and leaves every look-alike alone; a look-alike route at a tenant's prefix is foreign.
@Suite struct PlannerOwnershipTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let name: String
        let routes: [KernelRoute]
        let nexthops: [KernelNexthop]
        /// What the cleanup plan must do: nothing for what is not ours.
        let cleanup: [String]
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "our route: deleted", routes: [owned("10.50.0.0/24", via: "203.0.113.10")], nexthops: [],
            cleanup: ["delete route 10.50.0.0/24 table 254"]),
        Row(name: "our nexthop: deleted", routes: [],
            nexthops: [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)],
            cleanup: ["delete nexthop \(nh1)"]),
        Row(name: "our protocol in another table", routes: [KernelRoute(destination: pfx("10.50.0.0/24"), table: 100, proto: 200, gateway: ip("203.0.113.10"))],
            nexthops: [], cleanup: []),
        Row(name: "another protocol in our table", routes: [KernelRoute(destination: pfx("10.50.0.0/24"), table: 254, proto: 4, gateway: ip("203.0.113.10"))],
            nexthops: [], cleanup: []),
        Row(name: "our protocol, nexthop ID below the range", routes: [],
            nexthops: [KernelNexthop(id: 7, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)], cleanup: []),
        Row(name: "our protocol, nexthop ID above the range", routes: [],
            nexthops: [KernelNexthop(id: 201_000_001, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)], cleanup: []),
        Row(name: "another protocol, nexthop ID inside the range", routes: [],
            nexthops: [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 4)], cleanup: []),
    ]

    @Test(arguments: rows)
    func cleanupDeletesOnlyWhatIsOurs(_ row: Row) {
        var c = Cloud()
        c.kernel.routes = row.routes
        c.kernel.nexthops = row.nexthops
        #expect(c.plan().summaries == row.cleanup)
    }

    @Test(arguments: [KernelRoute(destination: pfx("10.1.0.0/24"), table: 100, proto: 200, gateway: ip("203.0.113.10")),
                      KernelRoute(destination: pfx("10.1.0.0/24"), table: 254, proto: 4, gateway: ip("203.0.113.10"))])
    func aLookAlikeRouteAtATenantPrefixIsForeign(_ route: KernelRoute) {
        var c = Cloud()
        c.router("r1")
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        c.kernel.routes = [route]
        let plan = c.plan()
        #expect(plan.refusal("s1")?.reason == .overlapsForeignRoute)
        #expect(plan.operations.isEmpty)
    }

    @Test func policyOwnershipIsItsProtocolAndTable() {
        var p = Policy()
        p.proto = 42
        p.table = 100
        #expect(p.ownership == Ownership(proto: 42, table: 100))
        #expect(p.nexthopIDRange == p.ownership.nexthopIDs)
        #expect(p.nexthopIDRange == 42_000_001...42_999_999)
    }
}
