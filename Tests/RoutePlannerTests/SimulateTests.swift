import Foundation
import Model
import Testing
@testable import RoutePlanner

@Suite struct SimulateTests {
    let foreign = KernelRoute(destination: pfx("10.1.0.0/24"), proto: 4, gateway: ip("203.0.113.254"), outputInterface: 2)
    func spec(_ cidr: String, via: String = "203.0.113.10", proto: UInt8 = 200, metric: UInt32? = nil) -> RouteSpec {
        RouteSpec(destination: pfx(cidr), table: 254, proto: proto, target: .gateway(ip(via), outputInterface: 2), metric: metric)
    }

    @Test func exclusiveAddOfAnExistingRouteChangesNothing() {
        let view = KernelView(routes: [foreign])
        #expect(simulate([.addRoute(spec("10.1.0.0/24"))], on: view) == view)
    }

    @Test func addWithAnotherMetricIsASecondRoute() {
        let view = KernelView(routes: [foreign])
        #expect(simulate([.addRoute(spec("10.1.0.0/24", metric: 100))], on: view).routes.count == 2)
    }

    @Test func deleteRemovesOnlyTheMatchingProtocol() {
        let view = KernelView(routes: [foreign])
        #expect(simulate([.deleteRoute(spec("10.1.0.0/24"))], on: view) == view)
        #expect(simulate([.deleteRoute(spec("10.1.0.0/24", proto: 4))], on: view).routes.isEmpty)
    }

    @Test func deleteWithAMetricRemovesOnlyThatMetric() {
        let view = KernelView(routes: [owned("fd00:1::/64", via: "2001:db8::1", metric: 1024), owned("fd00:1::/64", via: "2001:db8::2", metric: 50)])
        let after = simulate([.deleteRoute(RouteSpec(destination: pfx("fd00:1::/64"), table: 254, proto: 200,
                                                     target: .gateway(ip("2001:db8::2"), outputInterface: 2), metric: 50))], on: view)
        #expect(after.routes.map(\.metric) == [1024])
    }

    @Test func ipv6RoutesGetTheKernelDefaultMetric() {
        let after = simulate([.addRoute(spec("fd00:1::/64", via: "2001:db8::1"))], on: KernelView())
        #expect(after.routes.first?.metric == 1024)
        #expect(simulate([.addRoute(spec("10.2.0.0/24", metric: 0))], on: KernelView()).routes.first?.metric == nil)
    }

    @Test func replaceOverwritesTheRouteWithTheSameKeyOrCreatesIt() {
        let view = KernelView(routes: [owned("10.2.0.0/24", via: "203.0.113.10")])
        let after = simulate([.replaceRoute(spec("10.2.0.0/24", via: "203.0.113.11")), .replaceRoute(spec("10.3.0.0/24"))], on: view)
        #expect(after.routes.map(\.gateway) == [ip("203.0.113.11"), ip("203.0.113.10")])
    }

    @Test func routeViaAMissingNexthopFails() {
        let op = KernelOperation.addRoute(RouteSpec(destination: pfx("10.2.0.0/24"), table: 254, proto: 200, target: .nexthop(nh1)))
        #expect(simulate([op], on: KernelView()).routes.isEmpty)
        let nh = KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)
        #expect(simulate([.addNexthop(nh), op], on: KernelView()).routes == [owned("10.2.0.0/24", nexthop: nh1)])
    }

    @Test func nexthopAddOfAnExistingIDFailsAndReplaceOverwrites() {
        let a = KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 4)
        let b = KernelNexthop(id: nh1, gateway: ip("203.0.113.11"), outputInterface: 2, proto: 200)
        let view = KernelView(nexthops: [a])
        #expect(simulate([.addNexthop(b)], on: view).nexthops == [a])
        #expect(simulate([.replaceNexthop(b)], on: view).nexthops == [b])
    }

    @Test func deletingANexthopRemovesTheRoutesUsingIt() {
        let view = KernelView(routes: [owned("10.2.0.0/24", nexthop: nh1), foreign],
                              nexthops: [KernelNexthop(id: nh1, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)])
        let after = simulate([.deleteNexthop(id: nh1)], on: view)
        #expect(after.routes == [foreign] && after.nexthops.isEmpty)
    }

    @Test func applyingAPlanThenPlanningAgainIsEmpty() {
        var c = NexthopDiffTests.cloud()
        c.kernel.routes = [owned("10.77.0.0/24", via: "203.0.113.77"), owned("10.1.0.0/24", via: "203.0.113.10")]
        let plan = c.plan()
        #expect(!plan.isEmpty)
        c.kernel = simulate(plan.operations, on: c.kernel)
        #expect(c.plan().isEmpty)
        #expect(c.plan().desired == plan.desired)
    }
}

@Suite struct PolicyTests {
    @Test func defaultsMatchTheDesign() {
        let p = Policy()
        #expect(p.proto == 200 && p.table == 254)
        #expect(p.allowedPrefixes.map(\.description) == ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"])
        #expect(p.minPrefixLengthV4 == 16 && p.minPrefixLengthV6 == 48)
        #expect(p.useNexthopObjects && !p.requireSNATDisabled && !p.addressScopeMode)
        #expect(p.nexthopIDRange == 200_000_001...200_999_999)
    }

    @Test func partialJSONFallsBackToDefaults() throws {
        let p = try JSONDecoder().decode(Policy.self, from: Data(#"{"protocol": 201, "allowed_prefixes": ["10.0.0.0/8"]}"#.utf8))
        var expected = Policy(proto: 201)
        expected.allowedPrefixes = [pfx("10.0.0.0/8")]
        #expect(p == expected)
        #expect(try JSONDecoder().decode(Policy.self, from: JSONEncoder().encode(expected)) == expected)
    }
}
