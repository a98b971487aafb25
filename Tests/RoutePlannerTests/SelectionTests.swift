import Model
import Testing
@testable import RoutePlanner

@Suite struct SubnetDiscoveryTests {
    @Test func twoSubnetsOnOneIPv6PortAreBothRouted() {
        var c = Cloud()
        c.router("r6", gateways: ["2001:db8:0:1::10"])
        c.snapshot.subnets += [Subnet(id: "a", cidr: pfx("fd00:a::/64")), Subnet(id: "b", cidr: pfx("fd00:b::/64"))]
        c.snapshot.ports.append(RouterPort(deviceID: "r6", fixedIPs: [
            FixedIP(subnetID: "a", ipAddress: ip("fd00:a::1")), FixedIP(subnetID: "b", ipAddress: ip("fd00:b::1")),
        ]))
        let plan = c.plan()
        #expect(plan.destinations == ["fd00:a::/64", "fd00:b::/64"])
        #expect(plan.desired.allSatisfy { $0.nextHop == ip("2001:db8:0:1::10") && $0.outputInterface == 2 })
    }

    @Test func dualStackRouterRoutesEachFamilyViaItsOwnGateway() {
        var c = Cloud()
        c.router("r1", gateways: ["203.0.113.10", "2001:db8:0:1::10"])
        c.subnet("s4", "10.1.0.0/24", router: "r1")
        c.subnet("s6", "fd00:1::/64", router: "r1")
        let plan = c.plan()
        #expect(plan.route("10.1.0.0/24")?.nextHop == ip("203.0.113.10"))
        #expect(plan.route("fd00:1::/64")?.nextHop == ip("2001:db8:0:1::10"))
        #expect(plan.refused.isEmpty)
    }

    @Test func ipv6OnlyGatewayRoutesIPv6AndSkipsIPv4WithAReason() throws {
        var c = Cloud()
        c.router("r1", gateways: ["2001:db8:0:1::10"])
        c.subnet("s4", "10.1.0.0/24", router: "r1")
        c.subnet("s6", "fd00:1::/64", router: "r1")
        let plan = c.plan()
        #expect(plan.destinations == ["fd00:1::/64"])
        #expect(try #require(plan.refusal("s4")).reason == .noGatewayForFamily)
    }

    @Test func haAndDVRInterfacePortsCountButHANetworkAndSNATPortsDoNot() {
        var c = Cloud()
        c.router("r1")
        c.subnet("legacy", "10.1.0.0/24", router: "r1")
        c.subnet("dvr", "10.2.0.0/24", router: "r1", owner: RouterPort.distributedInterface)
        c.subnet("ha", "10.3.0.0/24", router: "r1", owner: RouterPort.haReplicatedInterface)
        c.subnet("ha-net", "10.4.0.0/24", router: "r1", owner: "network:router_ha_interface")
        c.subnet("snat", "10.5.0.0/24", router: "r1", owner: "network:router_centralized_snat")
        c.subnet("gw", "10.6.0.0/24", router: "r1", owner: "network:router_gateway")
        c.subnet("vm", "10.7.0.0/24", router: "r1", owner: "compute:nova")
        let plan = c.plan()
        #expect(plan.destinations == ["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"])
        #expect(plan.refused.isEmpty)
    }

    @Test func severalGatewaysOfOneFamilyUseTheLowestAddress() {
        var c = Cloud()
        c.router("r1", gateways: ["203.0.113.30", "203.0.113.12"])
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        #expect(c.plan().route("10.1.0.0/24")?.nextHop == ip("203.0.113.12"))
    }

    /// Gateway multihoming where this host is on one of the external networks only: the gateway it can reach is
    /// the next hop, even when the other one has the lower address (it used to be refused as not connected).
    @Test func aMultihomedRouterIsRoutedViaTheGatewayThisHostCanReach() throws {
        var c = Cloud()
        c.snapshot.networks.append(Network(id: "far", name: "far", isExternal: true))
        c.snapshot.subnets.append(Subnet(id: "far-v4", networkID: "far", cidr: pfx("198.51.100.0/24")))
        c.router("r1", gateways: ["203.0.113.40"])
        c.snapshot.routers[0].gateways.append(ExternalGateway(networkID: "far", fixedIPs: [FixedIP(subnetID: "far-v4", ipAddress: ip("198.51.100.5"))]))
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        #expect(c.plan().route("10.1.0.0/24")?.nextHop == ip("203.0.113.40"), "\(c.plan().refused)")
        // The same when the reachable gateway's address is the host's own (unusable): the lowest usable one wins.
        c.snapshot.routers[0].gateways[0].fixedIPs.append(FixedIP(subnetID: "ext-v4", ipAddress: ip("203.0.113.1")))
        #expect(c.plan().route("10.1.0.0/24")?.nextHop == ip("203.0.113.40"), "\(c.plan().refused)")
        // Neither reachable: refused, naming the lowest.
        c.snapshot.routers[0].gateways.removeFirst()
        let r = try #require(c.plan().refusal("s1"))
        #expect(r.reason == .nextHopNotConnected && r.nextHop == ip("198.51.100.5"))
    }

    @Test func onlyGatewaysOnSelectedNetworksGiveNextHops() {
        var c = Cloud()
        c.snapshot.networks.append(Network(id: "ext2", name: "other", isExternal: true))
        c.snapshot.subnets.append(Subnet(id: "ext2-v4", networkID: "ext2", cidr: pfx("203.0.113.0/28")))
        c.router("r1", gateways: ["203.0.113.40"])
        c.snapshot.routers[0].gateways.append(ExternalGateway(networkID: "ext2", fixedIPs: [FixedIP(subnetID: "ext2-v4", ipAddress: ip("203.0.113.5"))]))
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        c.policy.externalNetworks = ["ext"]
        #expect(c.plan().route("10.1.0.0/24")?.nextHop == ip("203.0.113.40"))
        c.policy.externalNetworks = []
        #expect(c.plan().route("10.1.0.0/24")?.nextHop == ip("203.0.113.5"))
    }

    @Test func sameSubnetListedTwiceOnARouterIsOneRoute() {
        var c = Cloud()
        c.router("r1")
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        c.snapshot.ports.append(c.snapshot.ports[0])
        c.snapshot.subnets.append(c.snapshot.subnets.last!)
        let plan = c.plan()
        #expect(plan.desired.count == 1)
        #expect(plan.refused.isEmpty)
    }

    @Test func projectOfARouteIsTheSubnetsProject() {
        var c = Cloud()
        c.router("r1", project: "admin")
        c.subnet("s1", "10.1.0.0/24", router: "r1", project: "tenant")
        #expect(c.plan().route("10.1.0.0/24")?.projectID == "tenant")
    }
}

@Suite struct DeterminismTests {
    @Test func reversedInputGivesByteIdenticalJSON() {
        var c = Cloud()
        c.router("r1", gateways: ["203.0.113.10", "2001:db8:0:1::10"])
        c.router("r2", project: "p2", gateways: ["203.0.113.20"])
        c.router("r3", gateways: [])
        c.subnet("a", "10.1.0.0/24", router: "r1")
        c.subnet("b", "10.1.0.0/24", router: "r2", created: Cloud.later)
        c.subnet("c", "fd00:1::/64", router: "r1")
        c.subnet("d", "192.0.2.0/24", router: "r2")
        c.kernel.routes = [owned("10.9.0.0/24", via: "203.0.113.9"), owned("10.8.0.0/24", via: "203.0.113.8")]
        var r = c
        r.snapshot.routers.reverse(); r.snapshot.ports.reverse(); r.snapshot.subnets.reverse(); r.snapshot.networks.reverse()
        r.kernel.routes.reverse(); r.kernel.connected.reverse()
        #expect(json(c.plan()) == json(r.plan()))
        #expect(c.plan().refused.map(\.routerID) == ["r2", "r2", "r3"])
    }
}

@Suite struct SelectionTests {
    static func twoRouters() -> Cloud {
        var c = Cloud()
        c.snapshot.networks.append(Network(id: "ext2", name: "other", isExternal: true))
        c.router("r1", project: "p1", tags: ["metadata"], snat: false)
        c.subnet("s1", "10.1.0.0/24", router: "r1", project: "p1")
        c.router("r2", project: "p2", gateways: ["203.0.113.20"], network: "ext2", tags: ["other", "bgp"], snat: true)
        c.subnet("s2", "10.2.0.0/24", router: "r2", project: "p2")
        return c
    }

    @Test(arguments: [
        (["public"], ["10.1.0.0/24"]), (["ext2"], ["10.2.0.0/24"]), (["ext", "other"], ["10.1.0.0/24", "10.2.0.0/24"]),
        ([], ["10.1.0.0/24", "10.2.0.0/24"]), (["nothing"], []),
    ])
    func externalNetworkSelectionMatchesIDsOrNames(_ selection: [String], _ routed: [String]) {
        var c = Self.twoRouters()
        c.policy.externalNetworks = selection
        #expect(c.plan().destinations == routed)
    }

    @Test func projectSelectionKeepsOnlyListedRouterProjects() throws {
        var c = Self.twoRouters()
        c.policy.projects = ["p2"]
        let plan = c.plan()
        #expect(plan.destinations == ["10.2.0.0/24"])
        #expect(try #require(plan.refusal("r1")).reason == .notSelected)
    }

    @Test func routerTagsAreAnyOf() {
        var c = Self.twoRouters()
        c.policy.routerTags = ["bgp", "metadata"]
        #expect(c.plan().destinations == ["10.1.0.0/24", "10.2.0.0/24"])
        c.policy.routerTags = ["bgp"]
        #expect(c.plan().destinations == ["10.2.0.0/24"])
    }

    @Test func requireSNATDisabledKeepsOnlyRoutersWithSNATOff() throws {
        var c = Self.twoRouters()
        c.policy.requireSNATDisabled = true
        let plan = c.plan()
        #expect(plan.destinations == ["10.1.0.0/24"])
        #expect(try #require(plan.refusal("r2")).message.contains("SNAT"))
    }

    @Test func addressScopeModeRoutesOnlySubnetsInTheExternalNetworksScope() throws {
        var c = Cloud()
        c.policy.addressScopeMode = true
        c.snapshot.networks[0].ipv4AddressScope = "as-1"
        c.snapshot.networks[0].ipv6AddressScope = "as-6"
        c.snapshot.networks += [
            Network(id: "net-same", ipv4AddressScope: "as-1", ipv6AddressScope: "as-6"),
            Network(id: "net-other", ipv4AddressScope: "as-2"),
        ]
        c.router("r1", gateways: ["203.0.113.10", "2001:db8:0:1::10"])
        c.subnet("same4", "10.1.0.0/24", router: "r1", network: "net-same")
        c.subnet("same6", "fd00:1::/64", router: "r1", network: "net-same")
        c.subnet("other", "10.2.0.0/24", router: "r1", network: "net-other")
        let plan = c.plan()
        #expect(plan.destinations == ["10.1.0.0/24", "fd00:1::/64"])
        #expect(try #require(plan.refusal("other")).reason == .addressScopeMismatch)
        c.policy.addressScopeMode = false
        #expect(c.plan().desired.count == 3)
    }
}

@Suite struct ConflictTests {
    @Test func sameCIDRInTwoProjectsKeepsTheOlderSubnet() throws {
        for swap in [false, true] {
            var c = Cloud()
            c.router("ra", project: "pa", gateways: ["203.0.113.10"])
            c.router("rb", project: "pb", gateways: ["203.0.113.20"])
            c.subnet("old", "10.1.0.0/24", router: swap ? "rb" : "ra", project: "pa", created: Cloud.early)
            c.subnet("new", "10.1.0.0/24", router: swap ? "ra" : "rb", project: "pb", created: Cloud.later)
            let plan = c.plan()
            #expect(plan.desired.map(\.subnetID) == ["old"])
            let r = try #require(plan.refusal("new"))
            #expect(r.reason == .conflictsWithOtherTenant)
            #expect(r.lostTo?.subnetID == "old" && r.lostTo?.routerID == (swap ? "rb" : "ra"))
            #expect(r.message.contains("old"))
        }
    }

    @Test(arguments: [(Cloud.early, Cloud.later, "wide", "narrow"), (Cloud.later, Cloud.early, "narrow", "wide")])
    func nestedCIDRsAcrossProjectsKeepTheEarlierOne(_ wideCreated: String, _ narrowCreated: String, _ winner: String, _ loser: String) throws {
        var c = Cloud()
        c.router("ra", project: "pa", gateways: ["203.0.113.10"])
        c.router("rb", project: "pb", gateways: ["203.0.113.20"])
        c.subnet("wide", "10.1.0.0/16", router: "ra", project: "pa", created: wideCreated)
        c.subnet("narrow", "10.1.2.0/24", router: "rb", project: "pb", created: narrowCreated)
        let plan = c.plan()
        #expect(plan.desired.map(\.subnetID) == [winner])
        #expect(try #require(plan.refusal(loser)).lostTo?.subnetID == winner)
    }

    @Test func equalCreationTimesFallBackToSubnetID() {
        var c = Cloud()
        c.router("ra", gateways: ["203.0.113.10"])
        c.router("rb", gateways: ["203.0.113.20"])
        c.subnet("b-subnet", "10.1.0.0/24", router: "ra")
        c.subnet("a-subnet", "10.1.0.0/24", router: "rb")
        #expect(c.plan().desired.map(\.subnetID) == ["a-subnet"])
    }

    @Test func oneSubnetOnTwoRoutersKeepsTheLowerRouterID() throws {
        var c = Cloud()
        c.router("ra", gateways: ["203.0.113.20"])
        c.router("rb", gateways: ["203.0.113.10"])
        c.subnet("s", "10.1.0.0/24", router: "rb")
        c.snapshot.ports.append(RouterPort(deviceID: "ra", fixedIPs: [FixedIP(subnetID: "s", ipAddress: ip("10.1.0.2"))]))
        let plan = c.plan()
        #expect(plan.desired.map(\.routerID) == ["ra"])
        #expect(try #require(plan.refused.first).lostTo?.routerID == "ra")
    }

    @Test func nestedSubnetsBehindTheSameGatewayBothStay() {
        var c = Cloud()
        c.router("r1")
        c.subnet("wide", "10.1.0.0/16", router: "r1")
        c.subnet("narrow", "10.1.2.0/24", router: "r1", created: Cloud.later)
        #expect(c.plan().desired.count == 2)
    }

    @Test func refusedPrefixesNeverKnockOutOthers() {
        var c = Cloud()
        c.policy.allowedPrefixes = [pfx("0.0.0.0/0")]
        c.policy.minPrefixLengthV4 = 0
        c.router("big", gateways: ["203.0.113.99"])
        c.subnet("slash1", "0.0.0.0/1", router: "big", created: "2000-01-01T00:00:00Z")
        c.subnet("wide8", "10.0.0.0/8", router: "big", created: "2000-01-01T00:00:00Z")
        c.kernel.routes.append(KernelRoute(destination: pfx("10.0.0.0/8"), proto: 4, gateway: ip("203.0.113.254")))
        c.router("r1")
        c.subnet("s1", "10.1.0.0/24", router: "r1", created: Cloud.later)
        c.subnet("s2", "172.16.1.0/24", router: "r1", created: Cloud.later)
        let plan = c.plan()
        #expect(plan.refusal("slash1")?.reason == .overlapsProtectedPrefix)
        #expect(plan.refusal("s1")?.reason == .overlapsForeignRoute)
        #expect(plan.destinations == ["172.16.1.0/24"])
    }

    @Test func slashOneBesideOrdinarySubnetsLeavesThemRouted() {
        var c = Cloud()
        c.router("r1")
        c.subnet("slash1", "0.0.0.0/1", router: "r1", created: "2000-01-01T00:00:00Z")
        c.subnet("s1", "10.1.0.0/24", router: "r1", created: Cloud.later)
        c.subnet("s2", "10.2.0.0/24", router: "r1", created: Cloud.later)
        let plan = c.plan()
        #expect(plan.destinations == ["10.1.0.0/24", "10.2.0.0/24"])
        #expect(plan.refused.map(\.subnetID) == ["slash1"])
    }
}
