import Foundation
import Testing
@testable import Model

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("10.0.0.1", "10.0.0.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ("2001:db8::1", "2001:db8::1"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"), ("::", "::"), ("::1", "::1"),
        ("fe80::", "fe80::"), ("2001:db8:0:1:0:0:0:0", "2001:db8:0:1::"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"), ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"),
        ("1::2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
    ])
    func parsesAndFormatsCanonically(input: String, expected: String) throws {
        let a = try #require(IPAddress(input))
        #expect(a.description == expected)
        #expect(IPAddress(a.description) == a)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.-4", ":::", "1:::2", "1::2::3",
                      "12345::", "g::1", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", ":1::", "1::2:", "fe80::1%eth0",
                      "1.2.3.4::", " 1.2.3.4", "::1.2.3"])
    func rejectsMalformedText(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func bytesRoundTrip() throws {
        let v6 = try #require(IPAddress("2001:db8::a:b"))
        #expect(v6.bytes == [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0x0b])
        #expect(IPAddress(bytes: v6.bytes) == v6)
        let v4 = try #require(IPAddress("192.0.2.33"))
        #expect(v4.bytes == [192, 0, 2, 33])
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }

    @Test func everyAddressRoundTripsThroughItsText() throws {
        var rng = SystemRandomNumberGenerator()
        for i in 0..<20_000 {
            // Sparse values too, so that zero runs of every length and place are compressed.
            var h = UInt64.random(in: .min ... .max, using: &rng), l = UInt64.random(in: .min ... .max, using: &rng)
            if i % 2 == 0 { h &= 0xffff_0000_0000_ffff; l &= UInt64(i % 7 == 0 ? 0 : 0x0000_ffff_0000_ffff) }
            let v6 = IPAddress(v6High: h, low: l)
            #expect(IPAddress(v6.description) == v6, "\(v6)")
            let v4 = IPAddress(v4: UInt32.random(in: .min ... .max, using: &rng))
            #expect(IPAddress(v4.description) == v4, "\(v4)")
        }
    }

    @Test func ordersIPv4BeforeIPv6() throws {
        let list = ["2001:db8::1", "10.0.0.2", "10.0.0.1", "::1"].compactMap { IPAddress($0) }.sorted()
        #expect(list.map(\.description) == ["10.0.0.1", "10.0.0.2", "::1", "2001:db8::1"])
    }
}

@Suite struct IPPrefixTests {
    @Test func strictParsingRejectsHostBitsButLenientClearsThem() throws {
        #expect(IPPrefix("10.0.0.5/24") == nil)
        #expect(IPPrefix(lenient: "10.0.0.5/24")?.description == "10.0.0.0/24")
        #expect(IPPrefix("2001:db8::/32")?.description == "2001:db8::/32")
        #expect(IPPrefix("10.0.0.0/33") == nil)
        #expect(IPPrefix("10.0.0.0/") == nil)
        #expect(IPPrefix("10.0.0.0/-1") == nil)
        #expect(IPPrefix("::/129") == nil)
        #expect(IPPrefix("10.0.0.1")?.length == 32)
    }

    @Test func containmentAndOverlap() throws {
        let net = try #require(IPPrefix("10.0.0.0/16"))
        let sub = try #require(IPPrefix("10.0.5.0/24"))
        let other = try #require(IPPrefix("10.1.0.0/24"))
        let v6 = try #require(IPPrefix("::/0"))
        #expect(net.contains(sub) && !sub.contains(net))
        #expect(net.overlaps(sub) && sub.overlaps(net))
        #expect(!net.overlaps(other))
        #expect(!v6.overlaps(net))
        #expect(IPPrefix("0.0.0.0/1")!.contains(IPAddress("127.255.0.1")!))
        #expect(!IPPrefix("0.0.0.0/1")!.contains(IPAddress("128.0.0.1")!))
        #expect(IPPrefix("2001:db8::/33")!.contains(IPAddress("2001:db8:7fff::1")!))
        #expect(!IPPrefix("2001:db8::/33")!.contains(IPAddress("2001:db8:8000::1")!))
        #expect(IPPrefix("2001:db8::/96")!.contains(IPAddress("2001:db8::ffff:ffff")!))
    }
}

@Suite struct SnapshotFileTests {
    @Test func aSnapshotRoundTripsThroughItsJSONFile() throws {
        let snap = CloudSnapshot(
            routers: [Router(id: "r1", name: "one", projectID: "p", tags: ["a"], gateways: [
                ExternalGateway(networkID: "ext", enableSNAT: false, fixedIPs: [FixedIP(subnetID: "s-ext", ipAddress: IPAddress("203.0.113.10")!)])])],
            ports: [RouterPort(id: "port", deviceID: "r1", fixedIPs: [FixedIP(subnetID: "s1", ipAddress: IPAddress("10.0.0.1")!)])],
            subnets: [Subnet(id: "s1", networkID: "n1", cidr: IPPrefix("10.0.0.0/24")!, projectID: "p", createdAt: "2026-01-01T00:00:00Z")],
            networks: [Network(id: "ext", name: "public", isExternal: true, ipv4AddressScope: "scope")])
        let data = try snap.jsonData()
        #expect(try JSONDecoder().decode(CloudSnapshot.self, from: data) == snap)
        #expect(try snap.jsonData() == data)
    }

    // Routers in Neutron's own shape (external_gateway_info/external_gateways) in a snapshot file:
    // OpenStack's SnapshotFile reads them (OpenStackTests/NeutronWireTests).
    @Test func aRouterWithoutGatewaysHasNone() throws {
        let json = #"{"routers":[{"id":"r1"}],"ports":[],"subnets":[]}"#
        let snap = try JSONDecoder().decode(CloudSnapshot.self, from: Data(json.utf8))
        #expect(snap.routers[0].gateways.isEmpty && snap.routers[0].adminStateUp)
    }

    @Test func aBadAddressInASnapshotIsAnErrorNotACrash() {
        let json = #"{"routers":[],"ports":[{"device_id":"r","device_owner":"network:router_interface","fixed_ips":[{"subnet_id":"s","ip_address":"10.0.0.256"}]}],"subnets":[]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(CloudSnapshot.self, from: Data(json.utf8)) }
    }
}
