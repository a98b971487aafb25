import Foundation
import Model
import PropertyBased
import Testing
@testable import RoutePlanner

/// A random cloud and kernel built from small pools of addresses, so that overlaps, shared gateways,
/// off-link gateways, foreign routes, stale owned routes and foreign nexthops in our range all happen often.
struct Scenario: Sendable, CustomStringConvertible {
    var snapshot: CloudSnapshot
    var kernel: KernelView
    var policy: Policy

    var description: String { "Scenario(\(json(snapshot)), \(json(kernel)), \(json(policy)))" }

    static let tenantPool = [
        "10.0.0.0/16", "10.0.1.0/24", "10.0.2.0/24", "10.1.0.0/16", "10.1.1.0/24", "10.2.0.0/24", "10.0.0.0/8",
        "0.0.0.0/1", "0.0.0.0/0", "172.16.0.0/24", "172.16.0.0/12", "192.168.1.0/24", "192.168.1.128/25", "100.64.0.0/24",
        "10.99.0.0/24", "203.0.113.128/25", "192.0.2.0/24", "127.0.0.0/8", "169.254.0.0/24",
        "fd00::/64", "fd00:1::/64", "fd00::/48", "fd00::/32", "fd00:0:0:1::/64", "2001:db8:0:1::/64", "::/0", "fe80::/64",
    ]
    static let v4Gateways = ["203.0.113.10", "203.0.113.11", "203.0.113.20", "198.51.100.5"]
    static let v6Gateways = ["2001:db8:0:1::10", "2001:db8:0:1::20", "2001:db8:99::1"]
    static let owners = RouterPort.interfaceOwners + ["network:router_ha_interface", "network:router_centralized_snat", "network:router_gateway"]
    static let goodPool = [
        "10.0.0.0/16", "10.0.1.0/24", "10.0.2.0/24", "10.1.0.0/16", "10.1.1.0/24", "10.2.0.0/24", "172.16.0.0/24",
        "192.168.1.0/24", "192.168.1.128/25", "fd00::/64", "fd00:1::/64", "fd00::/48", "fd00:0:0:1::/64",
    ]
    static let foreignPool = ["10.2.0.0/16", "192.168.1.0/24", "0.0.0.0/0", "fd00:1::/64", "10.0.2.0/28", "::/0"]

    static func random(_ g: inout some RandomNumberGenerator) -> Scenario {
        func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &g)] }
        func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &g) < p }

        var policy = Policy()
        policy.useNexthopObjects = chance(0.6)
        if chance(0.2) { policy.allowedPrefixes = [pfx("0.0.0.0/0"), pfx("::/0")]; policy.minPrefixLengthV4 = 0; policy.minPrefixLengthV6 = 0 }
        if chance(0.15) { policy.addressScopeMode = true }
        if chance(0.15) { policy.requireSNATDisabled = true }
        if chance(0.1) { policy.projects = ["p1", "p2"] }
        if chance(0.1) { policy.routerTags = ["t1"] }
        if chance(0.1) { policy.externalNetworks = ["public"] }
        if chance(0.1) { policy.protectedPrefixes = [pfx("10.0.2.0/23")] }

        var snap = CloudSnapshot(
            subnets: [Subnet(id: "ext-v4", networkID: "ext", cidr: pfx("203.0.113.0/24")),
                      Subnet(id: "ext-v6", networkID: "ext", cidr: pfx("2001:db8:0:1::/64")),
                      Subnet(id: "far-v4", networkID: "far", cidr: pfx("198.51.100.0/24")),
                      Subnet(id: "far-v6", networkID: "far", cidr: pfx("2001:db8:99::/64"))],
            networks: [Network(id: "ext", name: "public", isExternal: true, ipv4AddressScope: "as4", ipv6AddressScope: "as6"),
                       Network(id: "far", name: "far", isExternal: true)])
        for n in 0..<3 {
            snap.networks.append(Network(id: "net\(n)", ipv4AddressScope: chance(0.7) ? "as4" : nil, ipv6AddressScope: chance(0.7) ? "as6" : nil))
        }
        let routerCount = Int.random(in: 1...4, using: &g)
        for r in 0..<routerCount {
            var fixed: [FixedIP] = []
            if chance(0.85) { let a = ip(chance(0.85) ? pick(Array(v4Gateways.prefix(3))) : pick(v4Gateways)); fixed.append(FixedIP(subnetID: a.description.hasPrefix("198") ? "far-v4" : "ext-v4", ipAddress: a)) }
            if chance(0.5) { let a = ip(pick(v6Gateways)); fixed.append(FixedIP(subnetID: a.description.hasPrefix("2001:db8:99") ? "far-v6" : "ext-v6", ipAddress: a)) }
            if chance(0.2) { fixed.append(FixedIP(subnetID: "ext-v4", ipAddress: ip(pick(Array(v4Gateways.prefix(3)))))) }
            let net = fixed.contains { $0.subnetID.hasPrefix("far") } ? "far" : "ext"
            var gateways = chance(0.9) ? [ExternalGateway(networkID: net, enableSNAT: pick([nil, true, false]), fixedIPs: fixed)] : []
            if chance(0.15) {   // gateway multihoming: a second gateway on the other external network
                let other = net == "ext" ? "far" : "ext"
                gateways.append(ExternalGateway(networkID: other, enableSNAT: false, fixedIPs: [
                    FixedIP(subnetID: "\(other)-v4", ipAddress: ip(other == "far" ? "198.51.100.7" : "203.0.113.12"))]))
            }
            snap.routers.append(Router(id: "r\(r)", projectID: pick(["p1", "p2", "p3"]), adminStateUp: chance(0.9),
                                       tags: chance(0.5) ? ["t1"] : [], gateways: gateways))
        }
        let subnetCount = Int.random(in: 1...10, using: &g)
        for s in 0..<subnetCount {
            let cidr = pfx(chance(0.7) ? pick(goodPool) : pick(tenantPool))
            snap.subnets.append(Subnet(id: "s\(s)", networkID: pick(["net0", "net1", "net2"]), cidr: cidr, projectID: pick(["p1", "p2", "p3", ""]),
                                       createdAt: pick(["2026-01-01", "2026-01-02", "2026-01-03", ""])))
            guard routerCount > 0 else { continue }
            for _ in 0..<(chance(0.15) ? 2 : 1) {
                snap.ports.append(RouterPort(id: "p\(s)", deviceID: "r\(Int.random(in: 0..<routerCount, using: &g))", deviceOwner: chance(0.85) ? pick(RouterPort.interfaceOwners) : pick(owners),
                                             fixedIPs: [FixedIP(subnetID: "s\(s)", ipAddress: cidr.address)]))
            }
        }
        if routerCount > 0 && chance(0.2) {
            snap.ports.append(RouterPort(deviceID: "r0", fixedIPs: [FixedIP(subnetID: "ghost", ipAddress: ip("10.5.0.1"))]))
        }

        var kernel = KernelView(connected: [
            ConnectedNetwork(prefix: pfx("203.0.113.0/24"), address: ip("203.0.113.1"), interfaceIndex: 2, interfaceName: "ext0"),
            ConnectedNetwork(prefix: pfx("2001:db8:0:1::/64"), address: ip("2001:db8:0:1::1"), interfaceIndex: 2, interfaceName: "ext0"),
        ])
        if chance(0.5) {
            kernel.connected.append(ConnectedNetwork(prefix: pfx("10.99.0.0/24"), address: ip("10.99.0.5"), interfaceIndex: 3, interfaceName: "mgmt"))
        }
        if chance(0.2) {   // the external network also reachable on a second interface with a longer prefix
            kernel.connected.append(ConnectedNetwork(prefix: pfx("203.0.113.0/28"), address: ip("203.0.113.2"), interfaceIndex: 4, interfaceName: "ext1"))
        }
        // Nexthops: some ours, some foreign inside our range, some ours outside the range.
        let base = policy.nexthopIDBase
        for id in UInt32(1)...4 where chance(0.4) {
            let foreignOwner = chance(0.25)
            kernel.nexthops.append(KernelNexthop(id: base + id, gateway: ip(pick(v4Gateways + v6Gateways)), outputInterface: 2,
                                                 proto: foreignOwner ? 4 : 200))
        }
        if chance(0.2) { kernel.nexthops.append(KernelNexthop(id: 9, gateway: ip("203.0.113.10"), outputInterface: 2, proto: 200)) }
        // Routes, unique per (destination, table, metric) as in a real kernel.
        var keys = Set<String>()
        func add(_ r: KernelRoute) {
            if keys.insert("\(r.destination) \(r.table) \(effectiveMetric(r))").inserted { kernel.routes.append(r) }
        }
        for _ in 0..<Int.random(in: 0...3, using: &g) {
            add(KernelRoute(destination: pfx(pick(foreignPool)), table: chance(0.8) ? 254 : 100, proto: pick([3, 4, 16, 200]),
                            gateway: ip("203.0.113.254"), outputInterface: 2))
        }
        if chance(0.3), let n = kernel.nexthops.first {   // a foreign route that uses a nexthop (maybe ours)
            add(KernelRoute(destination: pfx("192.168.77.0/24"), table: pick([100, 254]), proto: pick([4, 200]), nexthopID: n.id))
        }
        for _ in 0..<Int.random(in: 0...5, using: &g) {
            let dest = pfx(chance(0.7) ? pick(goodPool) : pick(tenantPool))
            guard !dest.isDefault else { continue }
            let nhs = kernel.nexthops.filter { $0.gateway?.family == dest.family || dest.family == .v4 }
            if chance(0.5), !nhs.isEmpty {
                add(KernelRoute(destination: dest, proto: 200, metric: dest.family == .v6 ? 1024 : nil, nexthopID: pick(nhs).id))
            } else {
                let gw = ip(pick(dest.family == .v4 ? v4Gateways : v6Gateways))
                add(KernelRoute(destination: dest, proto: 200, metric: dest.family == .v6 ? pick([1024, 1024, 77]) : pick([nil, nil, 5]),
                                gateway: gw, outputInterface: 2))
            }
        }
        return Scenario(snapshot: snap, kernel: kernel, policy: policy)
    }

    /// The same scenario with every input array shuffled.
    func shuffled(_ g: inout some RandomNumberGenerator) -> Scenario {
        var s = self
        s.snapshot.routers = s.snapshot.routers.map { r in
            var r = r
            r.gateways = r.gateways.map { var x = $0; x.fixedIPs.shuffle(using: &g); return x }.shuffled(using: &g)
            return r
        }.shuffled(using: &g)
        s.snapshot.ports = s.snapshot.ports.map { var p = $0; p.fixedIPs.shuffle(using: &g); return p }.shuffled(using: &g)
        s.snapshot.subnets.shuffle(using: &g)
        s.snapshot.networks.shuffle(using: &g)
        s.kernel.routes.shuffle(using: &g)
        s.kernel.nexthops.shuffle(using: &g)
        s.kernel.connected.shuffle(using: &g)
        return s
    }

    func plan() -> RoutePlan { makePlan(snapshot: snapshot, kernel: kernel, policy: policy) }
}

let scenarios = Generator<(Scenario, Scenario), Shrink.None<(Scenario, Scenario)>>(run: { rng in
    let s = Scenario.random(&rng)
    return (s, s.shuffled(&rng))
})

@Suite struct PlannerProperties {
    @Test func plannedRoutesNeverOverlapWithDifferentNextHops() async {
        await propertyCheck(count: 300, input: scenarios) { s, _ in
            let d = s.plan().desired
            for (i, a) in d.enumerated() {
                for b in d[(i + 1)...] where a.destination.overlaps(b.destination) {
                    #expect(a.nextHop == b.nextHop, "\(a) vs \(b)")
                }
            }
        }
    }

    @Test func plannedRoutesStayInsideAllowedAndOutsideProtectedPrefixes() async {
        await propertyCheck(count: 300, input: scenarios) { s, _ in
            let plan = s.plan()
            let special: [IPPrefix] = [.loopbackV4, .loopbackV6, .linkLocalV4, .linkLocalV6, .multicastV4, .multicastV6,
                                       .unspecifiedV4, .unspecifiedV6, .broadcastV4]
            let externalIDs = Set(s.snapshot.networks.filter(\.isExternal).map(\.id))
            let protected = special + s.policy.protectedPrefixes + s.kernel.connected.map(\.prefix)
                + s.snapshot.subnets.filter { externalIDs.contains($0.networkID) }.map(\.cidr)
            let foreign = s.kernel.routes.filter { !($0.proto == s.policy.proto && $0.table == s.policy.table) && !$0.destination.isDefault }
            for d in plan.desired {
                #expect(s.policy.allowedPrefixes.contains { $0.contains(d.destination) }, "\(d)")
                #expect(d.destination.length >= s.policy.minPrefixLength(d.destination.family), "\(d)")
                #expect(!protected.contains { $0.overlaps(d.destination) }, "\(d)")
                #expect(!foreign.contains { $0.destination.overlaps(d.destination) }, "\(d)")
                #expect(s.kernel.connected.contains { $0.prefix.contains(d.nextHop) && $0.interfaceIndex == d.outputInterface }, "\(d)")
            }
        }
    }

    @Test func shufflingTheInputNeverChangesThePlan() async {
        await propertyCheck(count: 300, input: scenarios) { s, shuffled in
            #expect(json(s.plan()) == json(shuffled.plan()))
        }
    }

    @Test func applyingThePlanThenPlanningAgainGivesAnEmptyPlan() async {
        await propertyCheck(count: 300, input: scenarios) { s, _ in
            let plan = s.plan()
            var after = s
            after.kernel = simulate(plan.operations, on: s.kernel)
            let again = after.plan()
            #expect(again.isEmpty, "left: \(again.summaries)")
            #expect(again.desired == plan.desired)
            #expect(again.changes.isEmpty)
        }
    }

    @Test func thePlanNeverTouchesWhatTheAgentDoesNotOwn() async {
        await propertyCheck(count: 300, input: scenarios) { s, _ in
            let plan = s.plan()
            let isOwned = { (r: KernelRoute) in r.proto == s.policy.proto && r.table == s.policy.table }
            let after = simulate(plan.operations, on: s.kernel)
            // Every foreign route survives unchanged (a foreign route on our nexthop included).
            #expect(Set(s.kernel.routes.filter { !isOwned($0) }) == Set(after.routes.filter { !isOwned($0) }))
            let foreignNexthops = s.kernel.nexthops.filter { $0.proto != s.policy.proto || !s.policy.nexthopIDRange.contains($0.id) }
            #expect(Set(foreignNexthops).isSubset(of: Set(after.nexthops)))
            for op in plan.operations {
                switch op {
                case .addRoute(let r), .replaceRoute(let r), .deleteRoute(let r):
                    #expect(r.proto == s.policy.proto && r.table == s.policy.table)
                case .addNexthop(let n), .replaceNexthop(let n):
                    #expect(n.proto == s.policy.proto && s.policy.nexthopIDRange.contains(n.id))
                case .deleteNexthop(let id):
                    #expect(s.policy.nexthopIDRange.contains(id))
                }
            }
        }
    }

    @Test func everyRefusalExplainsItself() async {
        await propertyCheck(count: 200, input: scenarios) { s, _ in
            let plan = s.plan()
            for r in plan.refused {
                #expect(r.message.count > 40 && r.message.hasSuffix("."))
                #expect((r.reason == .conflictsWithOtherTenant) == (r.lostTo != nil))
            }
            // A subnet is either routed or refused, never both.
            let routed = Set(plan.desired.map { "\($0.routerID)/\($0.subnetID)" })
            let refused = Set(plan.refused.compactMap { r in r.subnetID.map { "\(r.routerID)/\($0)" } })
            #expect(routed.isDisjoint(with: refused))
        }
    }
}
