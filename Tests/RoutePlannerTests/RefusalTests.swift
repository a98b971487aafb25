import Foundation
import Model
import Testing
@testable import RoutePlanner

/// One row per rule: a cloud where exactly one router or subnet breaks it, beside a subnet that is fine.
struct RefusalCase: Sendable, CustomTestStringConvertible {
    let name: String
    let reason: RefusalReason
    /// The subnet ID (or, for router-level reasons, the router ID) that must be refused.
    let refused: String
    let build: @Sendable (inout Cloud) -> Void
    var testDescription: String { name }
}

let refusalCases: [RefusalCase] = [
    RefusalCase(name: "router of an unselected project", reason: .notSelected, refused: "r2") { c in
        c.policy.projects = ["p1"]
        c.router("r2", project: "p2", gateways: ["203.0.113.20"]); c.subnet("s2", "10.2.0.0/24", router: "r2", project: "p2")
    },
    RefusalCase(name: "router without a selected tag", reason: .notSelected, refused: "r2") { c in
        c.policy.routerTags = ["metadata", "bgp"]
        c.snapshot.routers[0].tags = ["bgp"]
        c.router("r2", gateways: ["203.0.113.20"], tags: ["other"]); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "router on an unselected external network", reason: .notSelected, refused: "r2") { c in
        c.policy.externalNetworks = ["public"]
        c.snapshot.networks.append(Network(id: "ext2", name: "other", isExternal: true))
        c.router("r2", gateways: ["203.0.113.20"], network: "ext2"); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "router with SNAT when SNAT must be disabled", reason: .notSelected, refused: "r2") { c in
        c.policy.requireSNATDisabled = true
        c.snapshot.routers[0].gateways[0].enableSNAT = false
        c.router("r2", gateways: ["203.0.113.20"], snat: true); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "router whose SNAT setting is not reported when SNAT must be disabled", reason: .notSelected, refused: "r2") { c in
        c.policy.requireSNATDisabled = true
        c.snapshot.routers[0].gateways[0].enableSNAT = false
        c.router("r2", gateways: ["203.0.113.20"], snat: nil); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "disabled router", reason: .routerDisabled, refused: "r2") { c in
        c.router("r2", gateways: ["203.0.113.20"], adminUp: false); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "router without a gateway", reason: .routerWithoutGateway, refused: "r2") { c in
        c.router("r2", gateways: []); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "router whose gateway has no addresses", reason: .routerWithoutGateway, refused: "r2") { c in
        c.router("r2", gateways: []); c.snapshot.routers[1].gateways = [ExternalGateway(networkID: "ext", fixedIPs: [])]
        c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "router without interfaces", reason: .routerWithoutInterfaces, refused: "r2") { c in
        c.router("r2", gateways: ["203.0.113.20"])
    },
    RefusalCase(name: "interface on a subnet Neutron did not list", reason: .unknownSubnet, refused: "ghost") { c in
        c.snapshot.ports.append(RouterPort(deviceID: "r1", fixedIPs: [FixedIP(subnetID: "ghost", ipAddress: ip("10.3.0.1"))]))
    },
    RefusalCase(name: "IPv6 subnet on a router with an IPv4 gateway only", reason: .noGatewayForFamily, refused: "s6") { c in
        c.subnet("s6", "fd00:6::/64", router: "r1")
    },
    RefusalCase(name: "address scope differs from the external network's", reason: .addressScopeMismatch, refused: "s2") { c in
        c.policy.addressScopeMode = true
        c.snapshot.networks[0].ipv4AddressScope = "scope-a"
        c.snapshot.networks.append(Network(id: "net-s1", ipv4AddressScope: "scope-a"))
        c.snapshot.networks.append(Network(id: "net-s2", ipv4AddressScope: "scope-b"))
        c.subnet("s2", "10.2.0.0/24", router: "r1")
    },
    RefusalCase(name: "address scope missing in address-scope mode", reason: .addressScopeMismatch, refused: "s2") { c in
        c.policy.addressScopeMode = true
        c.snapshot.networks[0].ipv4AddressScope = "scope-a"
        c.snapshot.networks.append(Network(id: "net-s1", ipv4AddressScope: "scope-a"))
        c.subnet("s2", "10.2.0.0/24", router: "r1")
    },
    RefusalCase(name: "subnet outside the allowed prefixes", reason: .outsideAllowedPrefixes, refused: "s2") { c in
        c.subnet("s2", "192.0.2.0/24", router: "r1")
    },
    RefusalCase(name: "0.0.0.0/1 with the default allowed prefixes", reason: .outsideAllowedPrefixes, refused: "s2") { c in
        c.subnet("s2", "0.0.0.0/1", router: "r1", created: "2020-01-01T00:00:00Z")
    },
    RefusalCase(name: "subnet wider than the IPv4 minimum", reason: .prefixTooShort, refused: "s2") { c in
        c.subnet("s2", "10.16.0.0/12", router: "r1", created: "2020-01-01T00:00:00Z")
    },
    RefusalCase(name: "subnet wider than the IPv6 minimum", reason: .prefixTooShort, refused: "s6") { c in
        c.router("r6", gateways: ["2001:db8:0:1::10"]); c.subnet("s6", "fd00::/40", router: "r6")
    },
    RefusalCase(name: "0.0.0.0/1 when everything is allowed", reason: .overlapsProtectedPrefix, refused: "s2") { c in
        c.policy.allowedPrefixes = [pfx("0.0.0.0/0"), pfx("::/0")]
        c.policy.minPrefixLengthV4 = 0
        c.subnet("s2", "0.0.0.0/1", router: "r1", created: "2020-01-01T00:00:00Z")
    },
    RefusalCase(name: "subnet on a network the host is connected to", reason: .overlapsProtectedPrefix, refused: "s2") { c in
        c.kernel.connected.append(ConnectedNetwork(prefix: pfx("10.99.0.0/24"), address: ip("10.99.0.5"), interfaceIndex: 3, interfaceName: "mgmt"))
        c.subnet("s2", "10.99.0.0/16", router: "r1")
    },
    RefusalCase(name: "subnet inside the external network", reason: .overlapsProtectedPrefix, refused: "s2") { c in
        c.snapshot.subnets.append(Subnet(id: "ext-cgn", networkID: "ext", cidr: pfx("100.64.0.0/16")))
        c.subnet("s2", "100.64.5.0/24", router: "r1")
    },
    RefusalCase(name: "subnet of an external network only known from a gateway", reason: .overlapsProtectedPrefix, refused: "s2") { c in
        c.snapshot.subnets.append(Subnet(id: "ext-b", networkID: "not-listed", cidr: pfx("172.16.0.0/16")))
        c.snapshot.routers.append(Router(id: "r3", gateways: [ExternalGateway(networkID: "not-listed", fixedIPs: [FixedIP(subnetID: "ext-b", ipAddress: ip("172.16.0.9"))])]))
        c.subnet("s2", "172.16.1.0/24", router: "r1")
    },
    RefusalCase(name: "subnet overlapping a configured protected prefix", reason: .overlapsProtectedPrefix, refused: "s2") { c in
        c.policy.protectedPrefixes = [pfx("10.2.0.0/16")]
        c.subnet("s2", "10.2.3.0/24", router: "r1")
    },
    RefusalCase(name: "subnet inside an operator's static route", reason: .overlapsForeignRoute, refused: "s2") { c in
        c.kernel.routes.append(KernelRoute(destination: pfx("10.2.0.0/16"), proto: 4, gateway: ip("203.0.113.254"), outputInterface: 2))
        c.kernel.routes.append(KernelRoute(destination: pfx("0.0.0.0/0"), proto: 3, gateway: ip("203.0.113.254"), outputInterface: 2))
        c.subnet("s2", "10.2.3.0/24", router: "r1")
    },
    RefusalCase(name: "subnet around a route of our protocol in another table", reason: .overlapsForeignRoute, refused: "s2") { c in
        c.kernel.routes.append(KernelRoute(destination: pfx("10.2.3.0/28"), table: 100, proto: 200, gateway: ip("203.0.113.254")))
        c.subnet("s2", "10.2.0.0/16", router: "r1")
    },
    RefusalCase(name: "gateway off-link", reason: .nextHopNotConnected, refused: "s2") { c in
        c.snapshot.subnets.append(Subnet(id: "ext2-v4", networkID: "ext2", cidr: pfx("198.51.100.0/24")))
        c.snapshot.networks.append(Network(id: "ext2", name: "far", isExternal: true))
        c.router("r2", gateways: [], network: "ext2")
        c.snapshot.routers[1].gateways = [ExternalGateway(networkID: "ext2", fixedIPs: [FixedIP(subnetID: "ext2-v4", ipAddress: ip("198.51.100.10"))])]
        c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    // A gateway address on a connected network that no neighbour can have: the kernel would refuse the nexthop (the
    // host's own IPv6 address, the IPv4 broadcast) or accept a route that sends tenant traffic nowhere (the host's
    // own IPv4 address, loopback, the network address).
    RefusalCase(name: "gateway is this host's own address", reason: .nextHopNotConnected, refused: "s2") { c in
        c.router("r2", gateways: ["203.0.113.1"]); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "IPv6 gateway is this host's own address", reason: .nextHopNotConnected, refused: "s2") { c in
        c.router("r2", gateways: ["2001:db8:0:1::1"]); c.subnet("s2", "fd00:2::/64", router: "r2")
    },
    RefusalCase(name: "gateway is the external network's broadcast address", reason: .nextHopNotConnected, refused: "s2") { c in
        c.router("r2", gateways: ["203.0.113.255"]); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "gateway is the external network's network address", reason: .nextHopNotConnected, refused: "s2") { c in
        c.router("r2", gateways: ["203.0.113.0"]); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "gateway is a loopback address", reason: .nextHopNotConnected, refused: "s2") { c in
        c.kernel.connected.append(ConnectedNetwork(prefix: pfx("127.0.0.0/8"), address: ip("127.0.0.1"), interfaceIndex: 1, interfaceName: "lo"))
        c.router("r2", gateways: ["127.0.0.2"]); c.subnet("s2", "10.2.0.0/24", router: "r2")
    },
    RefusalCase(name: "IPv6 gateway is link-local (no interface named)", reason: .nextHopNotConnected, refused: "s2") { c in
        c.kernel.connected.append(ConnectedNetwork(prefix: pfx("fe80::/64"), address: ip("fe80::1"), interfaceIndex: 2, interfaceName: "ext0"))
        c.kernel.connected.append(ConnectedNetwork(prefix: pfx("fe80::/64"), address: ip("fe80::2"), interfaceIndex: 3, interfaceName: "ext1"))
        c.router("r2", gateways: ["fe80::99"]); c.subnet("s2", "fd00:2::/64", router: "r2")
    },
    RefusalCase(name: "same CIDR as an older subnet of another project", reason: .conflictsWithOtherTenant, refused: "s2") { c in
        c.router("r2", project: "p2", gateways: ["203.0.113.20"])
        c.subnet("s2", "10.1.0.0/24", router: "r2", project: "p2", created: Cloud.later)
    },
]

@Suite struct RefusalTests {
    /// r1 with subnet s1 = 10.1.0.0/24, created early, routed via 203.0.113.10.
    static func base() -> Cloud {
        var c = Cloud()
        c.router("r1")
        c.subnet("s1", "10.1.0.0/24", router: "r1")
        return c
    }

    @Test(arguments: refusalCases)
    func refusesTheBrokenOneAndKeepsTheOtherRoute(_ row: RefusalCase) throws {
        var c = Self.base()
        row.build(&c)
        let plan = c.plan()
        let r = try #require(plan.refusal(row.refused), "no refusal for \(row.refused): \(plan.refused)")
        #expect(r.reason == row.reason)
        #expect(r.message.hasSuffix(".") && r.message.count > 40)
        #expect(plan.route("10.1.0.0/24")?.nextHop == ip("203.0.113.10"), "s1 must keep its route: \(plan.desired)")
        #expect(!plan.desired.contains { $0.subnetID == row.refused || $0.routerID == row.refused })
    }

    @Test func everyReasonHasARowInTheTable() {
        #expect(Set(refusalCases.map(\.reason)) == Set(RefusalReason.allCases))
    }

    @Test func reasonRawValuesAreSnakeCase() {
        for r in RefusalReason.allCases {
            #expect(r.rawValue.allSatisfy { $0.isLowercase || $0 == "_" }, "\(r.rawValue)")
        }
    }

    /// Each reason explains itself in its own words (no copied line), and both refusal tables an operator reads
    /// (the planner's README and the operator's guide) have a row for it.
    @Test func everyReasonIsExplainedAndDocumented() throws {
        let explanations = RefusalReason.allCases.map(\.explanation)
        #expect(Set(explanations).count == RefusalReason.allCases.count, "two reasons share an explanation")
        #expect(explanations.allSatisfy { $0.count > 20 && $0.first?.isLowercase == true && !$0.hasSuffix(".") })
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for doc in ["Sources/RoutePlanner/README.md", "docs/operators-guide.md"] {
            let text = try String(contentsOf: root.appendingPathComponent(doc), encoding: .utf8)
            for r in RefusalReason.allCases {
                #expect(text.contains("| `\(r.rawValue)` |"), "\(doc) has no row for \(r.rawValue)")
            }
        }
    }

    @Test func routerLevelRefusalsNameNoSubnet() throws {
        var c = Self.base()
        c.router("r2", gateways: [])
        let r = try #require(c.plan().refusal("r2"))
        #expect(r.reason == .routerWithoutGateway)
        #expect(r.subnetID == nil && r.destination == nil && r.nextHop == nil)
        #expect(r.projectID == "p1")
    }

    @Test func refusalCarriesTheNextHopOnceKnown() throws {
        var c = Self.base()
        c.subnet("s2", "192.0.2.0/24", router: "r1")
        let r = try #require(c.plan().refusal("s2"))
        #expect(r.nextHop == ip("203.0.113.10"))
        #expect(r.destination == pfx("192.0.2.0/24"))
    }

    @Test func defaultRouteOfTheOperatorDoesNotBlockTenants() {
        var c = Self.base()
        c.kernel.routes.append(KernelRoute(destination: pfx("0.0.0.0/0"), proto: 4, gateway: ip("203.0.113.254"), outputInterface: 2))
        #expect(c.plan().refused.isEmpty)
        #expect(c.plan().destinations == ["10.1.0.0/24"])
    }

    @Test func protectedMessageNamesWhatIsProtected() throws {
        var c = Self.base()
        c.kernel.connected.append(ConnectedNetwork(prefix: pfx("10.99.0.0/24"), address: ip("10.99.0.5"), interfaceIndex: 3, interfaceName: "mgmt"))
        c.subnet("s2", "10.99.0.0/16", router: "r1")
        let r = try #require(c.plan().refusal("s2"))
        #expect(r.message.contains("10.99.0.0/24") && r.message.contains("mgmt"))
    }

    @Test func firstFailingRuleIsTheReason() throws {
        // Outside the allowed prefixes AND too short AND overlapping loopback: reported as outside.
        var c = Self.base()
        c.subnet("s2", "127.0.0.0/8", router: "r1")
        #expect(try #require(c.plan().refusal("s2")).reason == .outsideAllowedPrefixes)
    }
}
