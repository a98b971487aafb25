import Testing
import Model

/// The one rule for "is this ours?": a route by protocol and table, a nexthop by protocol and ID range.
@Suite struct OwnershipTests {
    static let ours = Ownership(proto: 200, table: 254)
    static let dst = IPPrefix("10.1.0.0/24")!
    static let gw = IPAddress("203.0.113.10")!

    struct RouteRow: Sendable, CustomTestStringConvertible {
        let name: String
        let route: KernelRoute
        let owned: Bool
        var testDescription: String { name }
    }

    static let routeRows: [RouteRow] = [
        RouteRow(name: "our protocol in our table", route: KernelRoute(destination: dst, table: 254, proto: 200, gateway: gw), owned: true),
        RouteRow(name: "our protocol via our nexthop", route: KernelRoute(destination: dst, table: 254, proto: 200, nexthopID: 200_000_001), owned: true),
        RouteRow(name: "our protocol in another table", route: KernelRoute(destination: dst, table: 100, proto: 200, gateway: gw), owned: false),
        RouteRow(name: "another protocol in our table", route: KernelRoute(destination: dst, table: 254, proto: 4, gateway: gw), owned: false),
        RouteRow(name: "the kernel's own route", route: KernelRoute(destination: dst, table: 254, proto: 2), owned: false),
        RouteRow(name: "a neighbouring protocol number", route: KernelRoute(destination: dst, table: 254, proto: 201, gateway: gw), owned: false),
        RouteRow(name: "another protocol and another table", route: KernelRoute(destination: dst, table: 255, proto: 4), owned: false),
    ]

    @Test(arguments: routeRows)
    func routeIsOursOnlyWithOurProtocolInOurTable(_ row: RouteRow) {
        #expect(Self.ours.owns(route: row.route) == row.owned)
    }

    struct NexthopRow: Sendable, CustomTestStringConvertible {
        let name: String
        let nexthop: KernelNexthop
        let owned: Bool
        var testDescription: String { name }
    }

    static func nexthop(_ id: UInt32, proto: UInt8 = 200) -> KernelNexthop {
        KernelNexthop(id: id, gateway: gw, outputInterface: 2, proto: proto)
    }

    static let nexthopRows: [NexthopRow] = [
        NexthopRow(name: "first ID of the range", nexthop: nexthop(200_000_001), owned: true),
        NexthopRow(name: "last ID of the range", nexthop: nexthop(200_999_999), owned: true),
        NexthopRow(name: "the range's base itself", nexthop: nexthop(200_000_000), owned: false),
        NexthopRow(name: "just past the range", nexthop: nexthop(201_000_000), owned: false),
        NexthopRow(name: "a low ID of our protocol", nexthop: nexthop(1), owned: false),
        NexthopRow(name: "another protocol's range", nexthop: nexthop(201_000_001), owned: false),
        NexthopRow(name: "in our range but another protocol", nexthop: nexthop(200_000_001, proto: 4), owned: false),
    ]

    @Test(arguments: nexthopRows)
    func nexthopIsOursOnlyWithOurProtocolAndAnIDInOurRange(_ row: NexthopRow) {
        #expect(Self.ours.owns(nexthop: row.nexthop) == row.owned)
    }

    @Test func theNexthopRangeFollowsTheProtocol() {
        #expect(Self.ours.nexthopIDs == 200_000_001...200_999_999)
        #expect(Ownership(proto: 5, table: 254).nexthopIDs == 5_000_001...5_999_999)
        #expect(Ownership(proto: 254, table: 1).nexthopIDs == 254_000_001...254_999_999)
        // The table plays no part in the nexthop range: nexthop objects have no table.
        #expect(Ownership(proto: 200, table: 100).owns(nexthop: Self.nexthop(200_000_001)))
    }
}
