import Foundation
import Model

/// The generated cloud behind `NeutronStandIn`: N routers, each with
/// - a gateway on one external network (`198.18.0.0/15` and `2001:db8:100::/64`) holding one IPv4
///   and one IPv6 address of its own, and a `network:router_gateway` port;
/// - two tenant networks: network A with an IPv4 `/26` from `10.0.0.0/8` and an IPv6 `/64` from
///   `fd00::/8` (one interface port holding both addresses, as Neutron does for a network with
///   both families), network B with a second IPv4 `/26` (a second interface port).
///
/// So every router gives three routes (two IPv4 via its IPv4 gateway address, one IPv6 via its IPv6
/// gateway address) and two distinct next hops. IDs are UUID-shaped and increase with creation, so
/// each collection stays sorted by ID (Neutron's default paging order) as objects are added.
///
/// Everything is deterministic: the same `routers` (and the same sequence of churn rounds) always
/// gives the same cloud.
public struct StandInCloud: Sendable {
    public struct Router: Sendable {
        public var id: String
        public var index: Int
        public var project: String
        public var gatewayV4: UInt32
        public var gatewayV6: UInt32       // low 32 bits of an address in 2001:db8:100::/64
        public var gatewayPortID: String
    }

    public struct Port: Sendable {
        public var id: String
        public var routerID: String
        public var networkID: String
        public var project: String
        public var owner: String
        /// (subnet ID, address text)
        public var fixedIPs: [(String, String)]
    }

    public struct Subnet: Sendable {
        public var id: String
        public var networkID: String
        public var project: String
        public var ipVersion: Int
        public var cidr: String
        public var gatewayIP: String
        public var createdAt: String
    }

    public struct Network: Sendable {
        public var id: String
        public var name: String
        public var project: String
        public var external: Bool
        public var subnetIDs: [String]
    }

    public static let externalNetworkID = "e0000000-0000-4000-8000-000000000001"
    public static let externalSubnetV4ID = "b4000000-0000-4000-8000-000000000001"
    public static let externalSubnetV6ID = "b6000000-0000-4000-8000-000000000001"
    public static let externalV4 = "198.18.0.0/15"
    public static let externalV6 = "2001:db8:100::/64"
    /// An address on the external networks for the host (the benchmark's dummy interface).
    public static let hostAddressV4 = "198.18.0.1/15"
    public static let hostAddressV6 = "2001:db8:100::1/64"

    public internal(set) var routers: [Router] = []
    public internal(set) var ports: [Port] = []
    public internal(set) var subnets: [Subnet] = []
    public internal(set) var networks: [Network] = []

    private var nextPort = 0
    private var nextSubnet = 0
    private var nextNetwork = 0
    /// Next IPv4 /26 block of 10.0.0.0/8 (index of the block).
    private var nextV4Block = 0
    /// Next fresh gateway addresses handed out by churn.
    var nextChurnGatewayV4: UInt32 = 0xC613_F000   // 198.19.240.0 (4,095 addresses, after every router's own)
    var nextChurnGatewayV6: UInt32 = 0x0100_0000
    public private(set) var churnRounds = 0
    /// Single changes made so far (`applyChange`), which also seeds their choice of router.
    public internal(set) var changesApplied = 0

    /// The address plan's limit: router gateways 198.18.0.16 + i stay below churn's 198.19.240.0.
    public static let maxRouters = 120_000

    public init(routers count: Int) {
        precondition(count >= 0 && count <= Self.maxRouters, "the address plan holds at most \(Self.maxRouters) routers")
        networks.append(Network(id: Self.externalNetworkID, name: "public", project: "admin", external: true,
                                subnetIDs: [Self.externalSubnetV4ID, Self.externalSubnetV6ID]))
        // The external subnets ("b…") sort before every tenant subnet ("c…"), so the list stays sorted by ID.
        subnets.append(Subnet(id: Self.externalSubnetV4ID, networkID: Self.externalNetworkID, project: "admin",
                              ipVersion: 4, cidr: Self.externalV4, gatewayIP: "198.18.0.1", createdAt: "2026-01-01T00:00:00Z"))
        subnets.append(Subnet(id: Self.externalSubnetV6ID, networkID: Self.externalNetworkID, project: "admin",
                              ipVersion: 6, cidr: Self.externalV6, gatewayIP: "2001:db8:100::1", createdAt: "2026-01-01T00:00:00Z"))
        networks[0].subnetIDs = subnets.map(\.id)
        routers.reserveCapacity(count)
        ports.reserveCapacity(count * 3)
        subnets.reserveCapacity(count * 3 + 2)
        networks.reserveCapacity(count * 2 + 1)
        for i in 0..<count {
            let rid = Self.uuid("a0000000", i)
            let project = String(format: "project-%04d", i % 997)
            let gwPort = newPortID()
            let r = Router(id: rid, index: i, project: project, gatewayV4: 0xC612_0010 + UInt32(i),
                           gatewayV6: 0x1000 + UInt32(i), gatewayPortID: gwPort)
            routers.append(r)
            ports.append(gatewayPort(r))
            // Network A: IPv4 + IPv6, one port holding both.
            let netA = newNetworkID()
            let a4 = newV4Subnet(network: netA, project: project, serial: i)
            let a6 = Subnet(id: newSubnetID(), networkID: netA, project: project, ipVersion: 6,
                            cidr: "fd00:0:\(String(i >> 16, radix: 16)):\(String(i & 0xffff, radix: 16))::/64",
                            gatewayIP: "fd00:0:\(String(i >> 16, radix: 16)):\(String(i & 0xffff, radix: 16))::1",
                            createdAt: Self.timestamp(i))
            subnets.append(a4)
            subnets.append(a6)
            networks.append(Network(id: netA, name: "net-\(i)-a", project: project, external: false, subnetIDs: [a4.id, a6.id]))
            ports.append(Port(id: newPortID(), routerID: rid, networkID: netA, project: project, owner: "network:router_interface",
                              fixedIPs: [(a4.id, a4.gatewayIP), (a6.id, a6.gatewayIP)]))
            // Network B: a second IPv4 subnet.
            let netB = newNetworkID()
            let b4 = newV4Subnet(network: netB, project: project, serial: i)
            subnets.append(b4)
            networks.append(Network(id: netB, name: "net-\(i)-b", project: project, external: false, subnetIDs: [b4.id]))
            ports.append(Port(id: newPortID(), routerID: rid, networkID: netB, project: project, owner: "network:router_interface",
                              fixedIPs: [(b4.id, b4.gatewayIP)]))
        }
    }

    /// Routes the cloud asks for: three per router (two IPv4, one IPv6).
    public var expectedRoutes: Int {
        ports.filter { $0.owner == "network:router_interface" }.reduce(0) { $0 + $1.fixedIPs.count }
    }

    /// Distinct gateway addresses (next hops): two per router.
    public var expectedNexthops: Int { routers.count * 2 }

    // MARK: - Churn

    /// What one churn round changed and what an agent should write for it.
    public struct ChurnReport: Sendable, Codable {
        public var round: Int
        public var routersChanged: Int
        public var gatewayChanges: Int
        public var interfacesAdded: Int
        public var interfacesRemoved: Int
        /// With nexthop objects: each gateway change replaces the router's two nexthops in place
        /// (no route is touched); an added interface adds one route, a removed one deletes one.
        public var expectedNexthopWrites: Int
        public var expectedRouteWritesWithNexthops: Int
        /// With classic `via` routes: a gateway change replaces the router's three routes.
        public var expectedRouteWritesClassic: Int
        /// Route and nexthop notifications (`ip monitor route nexthop`) with nexthop objects: the
        /// writes, plus one route notification per route using a replaced nexthop (the kernel
        /// announces those routes again, in both families).
        public var expectedEventsWithNexthops: Int

        enum CodingKeys: String, CodingKey {
            case round
            case routersChanged = "routers_changed"
            case gatewayChanges = "gateway_changes"
            case interfacesAdded = "interfaces_added"
            case interfacesRemoved = "interfaces_removed"
            case expectedNexthopWrites = "expected_nexthop_writes"
            case expectedRouteWritesWithNexthops = "expected_route_writes_with_nexthops"
            case expectedRouteWritesClassic = "expected_route_writes_classic"
            case expectedEventsWithNexthops = "expected_events_with_nexthops"
        }
    }

    /// Changes `percent` % of the routers (at least one): a third get new gateway addresses (both
    /// families), a third get a new IPv4 interface (new network, subnet and port), a third lose
    /// their last interface port (the subnet stays, unrouted, as in Neutron).
    public mutating func churn(percent: Double) -> ChurnReport {
        churnRounds += 1
        let n = routers.count
        var report = ChurnReport(round: churnRounds, routersChanged: 0, gatewayChanges: 0, interfacesAdded: 0, interfacesRemoved: 0,
                                 expectedNexthopWrites: 0, expectedRouteWritesWithNexthops: 0, expectedRouteWritesClassic: 0,
                                 expectedEventsWithNexthops: 0)
        guard n > 0 else { return report }
        let k = min(n, max(1, Int((Double(n) * percent / 100).rounded())))
        // Spread the changed routers over the whole range, a different set each round.
        var rng = SplitMix64(seed: UInt64(churnRounds) &* 0x9E37_79B9 &+ UInt64(n))
        var chosen: [Int] = []
        var seen = Set<Int>()
        while chosen.count < k {
            let i = Int(rng.next() % UInt64(n))
            if seen.insert(i).inserted { chosen.append(i) }
        }
        var removedPorts = Set<String>()
        for (j, i) in chosen.enumerated() {
            switch j % 3 {
            case 0:
                // New gateway addresses on the same external network.
                let oldRoutes = interfaceAddresses(of: routers[i].id)
                routers[i].gatewayV4 = nextChurnGatewayV4
                routers[i].gatewayV6 = nextChurnGatewayV6
                nextChurnGatewayV4 += 1
                nextChurnGatewayV6 += 1
                if let p = ports.firstIndex(where: { $0.id == routers[i].gatewayPortID }) { ports[p] = gatewayPort(routers[i]) }
                report.gatewayChanges += 1
                report.expectedNexthopWrites += 2
                report.expectedRouteWritesClassic += oldRoutes
                report.expectedEventsWithNexthops += 2 + oldRoutes
            case 1:
                let r = routers[i]
                let net = newNetworkID()
                let s = newV4Subnet(network: net, project: r.project, serial: r.index)
                subnets.append(s)
                networks.append(Network(id: net, name: "net-\(r.index)-c\(churnRounds)", project: r.project, external: false,
                                        subnetIDs: [s.id]))
                ports.append(Port(id: newPortID(), routerID: r.id, networkID: net, project: r.project,
                                  owner: "network:router_interface", fixedIPs: [(s.id, s.gatewayIP)]))
                report.interfacesAdded += 1
                report.expectedRouteWritesWithNexthops += 1
                report.expectedRouteWritesClassic += 1
                report.expectedEventsWithNexthops += 1
            default:
                let rid = routers[i].id
                // The router's last IPv4-only interface port; a router with fewer than two ports keeps them.
                let mine = ports.indices.filter { ports[$0].routerID == rid && ports[$0].owner == "network:router_interface" }
                guard mine.count >= 2, let p = mine.last(where: { ports[$0].fixedIPs.count == 1 }) else { continue }
                removedPorts.insert(ports[p].id)
                report.interfacesRemoved += 1
                report.expectedRouteWritesWithNexthops += 1
                report.expectedRouteWritesClassic += 1
                report.expectedEventsWithNexthops += 1
            }
            report.routersChanged += 1
        }
        if !removedPorts.isEmpty { ports.removeAll { removedPorts.contains($0.id) } }
        return report
    }

    // MARK: - Helpers

    func interfaceAddresses(of routerID: String) -> Int {
        ports.filter { $0.routerID == routerID && $0.owner == "network:router_interface" }.reduce(0) { $0 + $1.fixedIPs.count }
    }

    func gatewayPort(_ r: Router) -> Port {
        Port(id: r.gatewayPortID, routerID: r.id, networkID: Self.externalNetworkID, project: "", owner: "network:router_gateway",
             fixedIPs: [(Self.externalSubnetV6ID, Self.gatewayV6Text(r.gatewayV6)), (Self.externalSubnetV4ID, Self.v4Text(r.gatewayV4))])
    }

    mutating func newPortID() -> String { defer { nextPort += 1 }; return Self.uuid("d0000000", nextPort) }
    mutating func newSubnetID() -> String { defer { nextSubnet += 1 }; return Self.uuid("c0000000", nextSubnet) }
    mutating func newNetworkID() -> String { defer { nextNetwork += 1 }; return Self.uuid("f0000000", nextNetwork) }

    mutating func newV4Subnet(network: String, project: String, serial: Int) -> Subnet {
        precondition(nextV4Block < (1 << 18), "10.0.0.0/8 has no /26 left")
        let base: UInt32 = 0x0A00_0000 + UInt32(nextV4Block) * 64
        nextV4Block += 1
        return Subnet(id: newSubnetID(), networkID: network, project: project, ipVersion: 4, cidr: Self.v4Text(base) + "/26",
                      gatewayIP: Self.v4Text(base + 1), createdAt: Self.timestamp(serial))
    }

    static func uuid(_ head: String, _ n: Int) -> String {
        let digits = String(n)
        return head + "-0000-4000-8000-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    static func timestamp(_ i: Int) -> String {
        let day = 1 + i / 86_400 % 28
        let s = i % 86_400
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "2026-02-\(two(day))T\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))Z"
    }

    public static func v4Text(_ a: UInt32) -> String {
        "\(a >> 24).\(a >> 16 & 255).\(a >> 8 & 255).\(a & 255)"
    }

    public static func gatewayV6Text(_ low: UInt32) -> String {
        let hi = low >> 16, lo = low & 0xffff
        return hi == 0 ? "2001:db8:100::\(String(lo, radix: 16))" : "2001:db8:100::\(String(hi, radix: 16)):\(String(lo, radix: 16))"
    }
}

extension StandInCloud {
    /// The cloud as the snapshot the stand-in serves (every collection sorted by ID). Ports include
    /// the routers' `network:router_gateway` ports, as Neutron lists them without a filter.
    public var snapshot: CloudSnapshot {
        func ip(_ pair: (String, String)) -> FixedIP { FixedIP(subnetID: pair.0, ipAddress: IPAddress(pair.1)!) }
        let routers = self.routers.map { r in
            Model.Router(id: r.id, name: "router-\(r.index)", projectID: r.project, adminStateUp: true, tags: [], gateways: [
                ExternalGateway(networkID: Self.externalNetworkID, enableSNAT: true, fixedIPs: [
                    FixedIP(subnetID: Self.externalSubnetV6ID, ipAddress: IPAddress(Self.gatewayV6Text(r.gatewayV6))!),
                    FixedIP(subnetID: Self.externalSubnetV4ID, ipAddress: IPAddress(Self.v4Text(r.gatewayV4))!),
                ]),
            ])
        }
        let ports = self.ports.map { RouterPort(id: $0.id, deviceID: $0.routerID, deviceOwner: $0.owner, fixedIPs: $0.fixedIPs.map(ip)) }
        let subnets = self.subnets.map {
            Model.Subnet(id: $0.id, networkID: $0.networkID, cidr: IPPrefix($0.cidr)!, projectID: $0.project, createdAt: $0.createdAt)
        }
        let networks = self.networks.map { Model.Network(id: $0.id, name: $0.name, isExternal: $0.external) }
        return CloudSnapshot(routers: routers, ports: ports.sorted { $0.id < $1.id }, subnets: subnets, networks: networks)
    }
}

/// A small deterministic generator (SplitMix64), so churn rounds repeat exactly.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
