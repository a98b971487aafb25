import Testing
import Foundation
@testable import Netlink
import Model
import TestSupport

/// A namespace with `dummy0` (a veth) up on 203.0.113.1/24 and 2001:db8:100::1/64.
private func uplinkNamespace(_ purpose: String) throws -> (TestNamespace, Int32) {
    let ns = try TestNamespace(purpose)
    // A veth pair (the dummy driver is not available everywhere); the peer must be up for the link to be.
    try ns.ip("link add dummy0 type veth peer name dummy0p")
    try ns.ip("link set dummy0p up")
    try ns.ip("link set dummy0 up")
    try ns.ip("addr add 203.0.113.1/24 dev dummy0")
    try ns.ip("addr add 2001:db8:100::1/64 dev dummy0 nodad")
    let index = try #require(Int32(ns.exec(["cat", "/sys/class/net/dummy0/ifindex"]).trimmingCharacters(in: .whitespacesAndNewlines)))
    return (ns, index)
}

private let owned: UInt8 = 200

private func spec(_ p: String, _ target: RouteTarget, table: UInt32 = 254, metric: UInt32? = nil) -> RouteSpec {
    RouteSpec(destination: IPPrefix(p)!, table: table, proto: owned, target: target, metric: metric)
}

@Suite(.enabled(if: TestNamespace.isAvailable, "needs root (or CI set) for network namespaces"))
struct KernelTests {
    @Test func routesViaGatewayAreAddedReplacedDumpedAndDeletedInBothFamilies() throws {
        let (ns, dummy) = try uplinkNamespace("routes")
        let socket = try RouteSocket(namespace: ns.name)
        let v4 = spec("10.1.0.0/24", .gateway(IPAddress("203.0.113.10")!, outputInterface: nil))
        let v6 = spec("fd00:1::/64", .gateway(IPAddress("2001:db8:100::10")!, outputInterface: dummy), metric: 1024)
        let big = spec("10.9.0.0/16", .gateway(IPAddress("203.0.113.11")!, outputInterface: nil), table: 1000)
        #expect(try socket.apply([.addRoute(v4), .addRoute(v6), .addRoute(big)]) == [nil, nil, nil])

        let main = try socket.routes(family: nil, table: 254).filter { $0.proto == owned }
        #expect(main.map(\.destination) == [v4.destination, v6.destination])
        #expect(main[0].gateway == IPAddress("203.0.113.10"))
        #expect(main[0].outputInterface == dummy)
        #expect(main[1].metric == 1024)
        #expect(try socket.routes(family: .v4, table: 1000).map(\.destination) == [big.destination])
        #expect(try socket.routes(family: .v6, table: 4242).isEmpty)

        var moved = v4
        moved.target = .gateway(IPAddress("203.0.113.20")!, outputInterface: nil)
        #expect(try socket.apply([.replaceRoute(moved)]) == [nil])
        #expect(try socket.routes(family: .v4, table: 254).first { $0.proto == owned }?.gateway == IPAddress("203.0.113.20"))
        #expect(try ns.ip("route show proto 200").contains("10.1.0.0/24 via 203.0.113.20"))

        #expect(try socket.apply([.deleteRoute(moved), .deleteRoute(v6), .deleteRoute(big)]) == [nil, nil, nil])
        #expect(try socket.routes(family: nil, table: 254).filter { $0.proto == owned }.isEmpty)
        #expect(try socket.routes(family: nil, table: 1000).isEmpty)
    }

    @Test func nexthopObjectsAndRoutesThroughThemRoundTrip() throws {
        let (ns, dummy) = try uplinkNamespace("nexthops")
        let socket = try RouteSocket(namespace: ns.name)
        #expect(socket.supportsNexthopObjects())
        let nh4 = KernelNexthop(id: 17, gateway: IPAddress("203.0.113.10")!, outputInterface: dummy, proto: owned)
        let nh6 = KernelNexthop(id: 18, gateway: IPAddress("2001:db8:100::10")!, outputInterface: dummy, proto: owned)
        let r4 = spec("10.2.0.0/24", .nexthop(17))
        let r6 = spec("fd00:2::/64", .nexthop(18))
        #expect(try socket.apply([.addNexthop(nh4), .addNexthop(nh6), .addRoute(r4), .addRoute(r6)]) == [nil, nil, nil, nil])
        try ns.ip("nexthop add id 99 group 17")   // a foreign group: no gateway of its own

        let nhs = try socket.nexthops().sorted()
        #expect(nhs.filter { $0.proto == owned } == [nh4, nh6])
        #expect(nhs.first { $0.id == 99 }?.gateway == nil)
        let routes = try socket.routes(family: nil, table: 254).filter { $0.proto == owned }
        #expect(routes.map(\.nexthopID) == [17, 18])

        var moved = nh4
        moved.gateway = IPAddress("203.0.113.30")!
        #expect(try socket.apply([.replaceNexthop(moved)]) == [nil])
        #expect(try socket.nexthops().first { $0.id == 17 }?.gateway == IPAddress("203.0.113.30"))

        let again = try socket.apply([.addNexthop(nh4)])
        #expect(again[0]?.errno == 17)
        try ns.ip("nexthop del id 99")
        #expect(try socket.apply([.deleteRoute(r4), .deleteRoute(r6), .deleteNexthop(id: 17), .deleteNexthop(id: 18)]) == [nil, nil, nil, nil])
        #expect(try socket.nexthops().isEmpty)
        #expect(try socket.apply([.deleteNexthop(id: 17)])[0] != nil)
    }

    @Test func failuresAreReportedPerRouteWhileTheRestOfTheBatchSucceeds() throws {
        let (ns, _) = try uplinkNamespace("batch")
        let socket = try RouteSocket(namespace: ns.name)
        let a = spec("10.3.1.0/24", .gateway(IPAddress("203.0.113.10")!, outputInterface: nil))
        let unreachable = spec("10.3.2.0/24", .gateway(IPAddress("198.51.100.1")!, outputInterface: nil))
        let b = spec("10.3.3.0/24", .gateway(IPAddress("203.0.113.11")!, outputInterface: nil))
        let results = try socket.apply([.addRoute(a), .addRoute(unreachable), .addRoute(a), .addRoute(b)])
        #expect(results[0] == nil)
        #expect(results[1]?.errno == 101)
        #expect(results[1]?.description.contains("add route 10.3.2.0/24 via 198.51.100.1 table 254: Network is unreachable (ENETUNREACH)") == true)
        #expect(results[2]?.errno == 17)
        #expect(results[2]?.errnoName == "EEXIST")
        #expect(results[3] == nil)
        let present = try socket.routes(family: .v4, table: 254).filter { $0.proto == owned }.map(\.destination)
        #expect(present == [a.destination, b.destination])
    }

    @Test func deleteNeverRemovesAForeignRouteWithTheSamePrefix() throws {
        let (ns, _) = try uplinkNamespace("foreign")
        try ns.ip("route add 10.4.0.0/24 via 203.0.113.50 proto static")
        try ns.ip("-6 route add fd00:4::/64 via 2001:db8:100::50 proto static")
        let socket = try RouteSocket(namespace: ns.name)
        let ours4 = spec("10.4.0.0/24", .gateway(IPAddress("203.0.113.10")!, outputInterface: nil))
        let ours6 = spec("fd00:4::/64", .gateway(IPAddress("2001:db8:100::10")!, outputInterface: nil))
        let results = try socket.apply([.deleteRoute(ours4), .deleteRoute(ours6), .addRoute(ours4)])
        #expect(results[0]?.errno == 3)   // ESRCH: no route of our protocol
        #expect(results[1]?.errno == 3)
        #expect(results[2]?.errno == 17)  // EXCL add does not take the foreign route over
        let routes = try socket.routes(family: nil, table: 254).filter { $0.destination == ours4.destination || $0.destination == ours6.destination }
        #expect(routes.map(\.proto) == [4, 4])
        #expect(routes.map(\.gateway) == [IPAddress("203.0.113.50"), IPAddress("2001:db8:100::50")])
    }

    @Test func tenThousandRoutesRoundTripExactly() throws {
        let (ns, dummy) = try uplinkNamespace("tenk")
        let socket = try RouteSocket(namespace: ns.name)
        // Ask for one giant send: the socket clamps it so that every ACK still fits its receive buffer.
        socket.maxMessagesPerSend = 1_000_000
        socket.maxBytesPerSend = 64 << 20
        #expect(socket.maxMessagesPerSend < 1_000_000)
        let n = 10_000
        var ops: [KernelOperation] = []
        var want: [KernelRoute] = []
        for i in 0..<n {
            let dst = IPPrefix(address: IPAddress(v4: 0x0a00_0000 | UInt32(i) << 8), length: 24)!
            let gw = IPAddress(v4: 0xcb00_7100 | UInt32(2 + i % 250))
            ops.append(.addRoute(RouteSpec(destination: dst, table: 254, proto: owned, target: .gateway(gw, outputInterface: nil))))
            want.append(KernelRoute(destination: dst, table: 254, proto: owned, type: 1, gateway: gw, outputInterface: dummy))
        }
        #expect(try socket.apply(ops).allSatisfy { $0 == nil })
        let got = try socket.routes(family: .v4, table: 254).filter { $0.proto == owned }.sorted()
        #expect(got == want.sorted())
        let deletes = ops.map { op -> KernelOperation in
            guard case .addRoute(let s) = op else { fatalError() }
            return .deleteRoute(s)
        }
        #expect(try socket.apply(deletes).allSatisfy { $0 == nil })
        #expect(try socket.routes(family: .v4, table: 254).filter { $0.proto == owned }.isEmpty)
        #expect(socket.statistics.sendCalls < 60)
    }

    @Test func multipathRoutesReportTheirFirstPath() throws {
        let (ns, dummy) = try uplinkNamespace("multipath")
        try ns.ip("route add 10.7.0.0/24 proto 200 nexthop via 203.0.113.10 dev dummy0 nexthop via 203.0.113.11 dev dummy0")
        try ns.ip("-6 route add fd00:7::/64 proto 200 nexthop via 2001:db8:100::10 dev dummy0 nexthop via 2001:db8:100::11 dev dummy0")
        let routes = try RouteSocket(namespace: ns.name).routes(family: nil, table: 254).filter { $0.proto == owned }
        #expect(routes.map(\.destination) == [IPPrefix("10.7.0.0/24")!, IPPrefix("fd00:7::/64")!])
        #expect(routes.map(\.gateway) == [IPAddress("203.0.113.10"), IPAddress("2001:db8:100::10")])
        #expect(routes.map(\.outputInterface) == [dummy, dummy])
    }

    @Test func connectedNetworksListInterfaceAddressesWithNames() throws {
        let (ns, dummy) = try uplinkNamespace("connected")
        let nets = try RouteSocket(namespace: ns.name).connectedNetworks()
        #expect(nets.contains(ConnectedNetwork(prefix: IPPrefix("203.0.113.0/24")!, address: IPAddress("203.0.113.1")!, interfaceIndex: dummy, interfaceName: "dummy0")))
        #expect(nets.contains(ConnectedNetwork(prefix: IPPrefix("2001:db8:100::/64")!, address: IPAddress("2001:db8:100::1")!, interfaceIndex: dummy, interfaceName: "dummy0")))
        #expect(nets.contains { $0.interfaceName == "lo" && $0.prefix == IPPrefix("127.0.0.0/8")! })
    }

    @Test func eventMonitorSeesARouteDeletedByIp() throws {
        let (ns, _) = try uplinkNamespace("events")
        let monitor = try RouteEventMonitor(namespace: ns.name)
        try ns.ip("route add 10.5.0.0/24 via 203.0.113.10 proto 200")
        try ns.ip("route del 10.5.0.0/24 proto 200")
        // Both events are queued on the socket before `ip` returns: read until the deletion shows or the
        // socket stays quiet (no wall-clock deadline that a busy machine could miss).
        var seen: [RouteEvent] = []
        while !seen.contains(where: { if case .routeDeleted(let r) = $0 { return r.destination == IPPrefix("10.5.0.0/24")! } else { return false } }) {
            let more = try monitor.next(timeout: .seconds(5))
            if more.isEmpty { break }
            seen += more
        }
        let added = seen.contains { if case .routeAdded(let r) = $0 { return r.destination == IPPrefix("10.5.0.0/24")! && r.proto == 200 } else { return false } }
        let deleted = seen.contains { if case .routeDeleted(let r) = $0 { return r.destination == IPPrefix("10.5.0.0/24")! } else { return false } }
        #expect(added)
        #expect(deleted)
    }

    @Test func eventMonitorReportsNexthopChangesAndTimesOutEmpty() throws {
        let (ns, _) = try uplinkNamespace("nhevents")
        let monitor = try RouteEventMonitor(namespace: ns.name)
        #expect(try monitor.next(timeout: .milliseconds(50)).isEmpty)
        try ns.ip("nexthop add id 5 via 203.0.113.10 dev dummy0")
        let events = try monitor.next(timeout: .seconds(1))
        #expect(events.contains { if case .nexthopAdded(let n) = $0 { return n.id == 5 && n.gateway == IPAddress("203.0.113.10") } else { return false } })
    }

    @Test(.timeLimit(.minutes(1))) func closeWakesAWaitingMonitorFromAnotherThread() async throws {
        let (ns, _) = try uplinkNamespace("close")
        let monitor = try RouteEventMonitor(namespace: ns.name)
        let waiter = Task.detached { () -> Int32? in
            // Route events of the fresh link (IPv6 link-local) may come first: keep waiting until close.
            // Only close ends this loop (ECANCELED, 125): a monitor that close did not wake keeps the test here
            // until its time limit, so no elapsed-time assertion is needed.
            do {
                while true { _ = try monitor.next(timeout: .seconds(3600)) }
            } catch let e as NetlinkError { return e.errno } catch { return -1 }
        }
        try await Task.sleep(for: .milliseconds(100))   // lets the waiter block first (as before; what is measured is only that close wakes it)
        monitor.close()
        #expect(await waiter.value == 125)
    }

    @Test func eventMonitorOverflowIsReportedAsOverflowNotAnError() throws {
        let (ns, _) = try uplinkNamespace("overflow")
        let monitor = try RouteEventMonitor(namespace: ns.name)
        // Shrink the receive buffer far below what a burst needs.
        var small: Int32 = 4096
        #expect(setsockopt(monitor.socketDescriptor, SOL_SOCKET, SO_RCVBUFFORCE, &small, 4) == 0)
        let socket = try RouteSocket(namespace: ns.name)
        let ops = (0..<2000).map { i in
            KernelOperation.addRoute(spec("10.6.\(i / 250).\(i % 250)/32", .gateway(IPAddress("203.0.113.10")!, outputInterface: nil)))
        }
        #expect(try socket.apply(ops).allSatisfy { $0 == nil })
        #expect(try monitor.next(timeout: .seconds(1)) == [.overflow])
    }

    @Test func unknownNamespaceIsAnErrorValue() {
        #expect { try RouteSocket(namespace: "mra-does-not-exist-\(getpid())") } throws: { e in
            (e as? NetlinkError)?.errno == 2
        }
        #expect { try RouteSocket(namespace: "../etc") } throws: { e in (e as? NetlinkError)?.errno == 22 }
    }
}
