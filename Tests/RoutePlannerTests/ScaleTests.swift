import Model
import Testing
@testable import RoutePlanner

@Suite struct ScaleTests {
    /// 2,000 routers with 3 subnets each (6,000 routes, 200 gateway addresses) against a kernel that already holds
    /// half of them, some stale ones, and 20,000 foreign routes elsewhere.
    @Test func largeCloudIsPlannedAndConverges() {
        var c = Cloud()
        c.kernel.connected[0] = ConnectedNetwork(prefix: pfx("198.18.0.0/16"), address: ip("198.18.0.1"), interfaceIndex: 2)
        c.snapshot.subnets[0] = Subnet(id: "ext-v4", networkID: "ext", cidr: pfx("198.18.0.0/16"))
        for r in 0..<2000 {
            let gw = IPAddress(v4: 0xC612_0000 | UInt32(10 + r % 200))
            c.snapshot.routers.append(Router(id: "r\(r)", projectID: "p\(r % 50)", gateways: [
                ExternalGateway(networkID: "ext", fixedIPs: [FixedIP(subnetID: "ext-v4", ipAddress: gw)])]))
            for s in 0..<3 {
                let cidr = IPPrefix(address: IPAddress(v4: 0x0A00_0000 | UInt32(r * 3 + s) << 8), length: 24)!
                c.snapshot.subnets.append(Subnet(id: "s\(r)-\(s)", cidr: cidr, createdAt: "2026-01-01"))
                c.snapshot.ports.append(RouterPort(deviceID: "r\(r)", fixedIPs: [FixedIP(subnetID: "s\(r)-\(s)", ipAddress: cidr.address)]))
                if (r + s) % 2 == 0 { c.kernel.routes.append(owned(cidr.description, via: gw.description)) }
            }
        }
        for i in 0..<20_000 {
            c.kernel.routes.append(KernelRoute(destination: IPPrefix(address: IPAddress(v4: 0xAC10_0000 &+ UInt32(i) << 4), length: 28)!,
                                               proto: 186, gateway: ip("198.18.0.254")))
        }
        for i in 0..<100 { c.kernel.routes.append(owned("10.200.\(i).0/24", via: "198.18.0.10")) }

        let clock = ContinuousClock()
        var plan = RoutePlan()
        let took = clock.measure { plan = c.plan() }
        print("ScaleTests: planned \(plan.desired.count) routes, \(plan.operations.count) operations in \(took)")
        #expect(plan.desired.count == 6000)
        #expect(plan.refused.isEmpty)
        #expect(plan.operations.count == 200 + 6000 + 100)   // nexthops, adds + replaces, stale deletes
        c.kernel = simulate(plan.operations, on: c.kernel)
        #expect(c.plan().isEmpty)
    }
}
