import Foundation
import Model
@testable import RoutePlanner

func ip(_ s: String) -> IPAddress { IPAddress(s)! }
func pfx(_ s: String) -> IPPrefix { IPPrefix(s)! }

/// A small cloud with one external network ("public", ID "ext": 203.0.113.0/24 and 2001:db8:0:1::/64)
/// that the host is connected to on interface 2, plus builders for routers and subnets.
struct Cloud: Sendable {
    var snapshot: CloudSnapshot
    var kernel: KernelView
    var policy = Policy()

    static let early = "2026-01-01T00:00:00Z"
    static let later = "2026-02-01T00:00:00Z"

    init() {
        snapshot = CloudSnapshot(
            subnets: [
                Subnet(id: "ext-v4", networkID: "ext", cidr: pfx("203.0.113.0/24"), createdAt: "2025-01-01T00:00:00Z"),
                Subnet(id: "ext-v6", networkID: "ext", cidr: pfx("2001:db8:0:1::/64"), createdAt: "2025-01-01T00:00:00Z"),
            ],
            networks: [Network(id: "ext", name: "public", isExternal: true)])
        kernel = KernelView(connected: [
            ConnectedNetwork(prefix: pfx("203.0.113.0/24"), address: ip("203.0.113.1"), interfaceIndex: 2, interfaceName: "ext0"),
            ConnectedNetwork(prefix: pfx("2001:db8:0:1::/64"), address: ip("2001:db8:0:1::1"), interfaceIndex: 2, interfaceName: "ext0"),
        ])
    }

    /// Adds a router whose gateway addresses are `gateways` on `network` (subnet chosen by family).
    mutating func router(_ id: String, project: String = "p1", gateways: [String] = ["203.0.113.10"],
                         network: String = "ext", adminUp: Bool = true, tags: [String] = [], snat: Bool? = nil) {
        let fixed = gateways.map { g -> FixedIP in
            let a = ip(g)
            return FixedIP(subnetID: a.family == .v4 ? "ext-v4" : "ext-v6", ipAddress: a)
        }
        let gws = fixed.isEmpty ? [] : [ExternalGateway(networkID: network, enableSNAT: snat, fixedIPs: fixed)]
        snapshot.routers.append(Router(id: id, name: "", projectID: project, adminStateUp: adminUp, tags: tags, gateways: gws))
    }

    /// Adds a subnet and an interface port for it on `router`.
    mutating func subnet(_ id: String, _ cidr: String, router: String, project: String = "p1", created: String = Cloud.early,
                         network: String? = nil, owner: String = RouterPort.legacyInterface) {
        let p = pfx(cidr)
        snapshot.subnets.append(Subnet(id: id, networkID: network ?? "net-\(id)", cidr: p, projectID: project, createdAt: created))
        let address = IPAddress(v6High: p.address.high, low: p.address.low | 1)
        let gwIP = p.family == .v4 ? IPAddress(v4: UInt32(p.address.low) | 1) : address
        snapshot.ports.append(RouterPort(id: "port-\(id)-\(router)", deviceID: router, deviceOwner: owner,
                                         fixedIPs: [FixedIP(subnetID: id, ipAddress: gwIP)]))
    }

    func plan() -> RoutePlan { makePlan(snapshot: snapshot, kernel: kernel, policy: policy) }
}

extension RoutePlan {
    func refusal(_ subnetOrRouter: String) -> Refusal? {
        refused.first { $0.subnetID == subnetOrRouter } ?? refused.first { $0.subnetID == nil && $0.routerID == subnetOrRouter }
    }
    func route(_ cidr: String) -> DesiredRoute? { desired.first { $0.destination == pfx(cidr) } }
    var destinations: [String] { desired.map(\.destination.description) }
    var summaries: [String] { operations.map(\.summary) }
}

func json<T: Encodable>(_ value: T) -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    return String(decoding: try! e.encode(value), as: UTF8.self)
}

/// A route owned by the default policy (protocol 200, main table).
func owned(_ cidr: String, via gateway: String? = nil, nexthop: UInt32? = nil, oif: Int32? = 2, metric: UInt32? = nil) -> KernelRoute {
    KernelRoute(destination: pfx(cidr), proto: 200, metric: metric, gateway: gateway.map(ip), nexthopID: nexthop,
                outputInterface: nexthop == nil ? oif : nil)
}

let nh1: UInt32 = 200_000_001
let nh2: UInt32 = 200_000_002
let nh3: UInt32 = 200_000_003
