import Foundation
import Logging
import Model
import OpenStack
import Synchronization
@testable import Agent

/// A small cloud: router-a (gateway 203.0.113.10, 2001:db8:100::10) with 10.0.0.0/24 and fd00:10::/64,
/// router-b (gateway 203.0.113.11) with 10.1.0.0/24, on external network `public`.
func sampleCloud() -> CloudSnapshot {
    let ext = Network(id: "ext-net", name: "public", isExternal: true)
    let subnets = [
        Subnet(id: "ext-v4", networkID: "ext-net", cidr: IPPrefix("203.0.113.0/24")!, createdAt: "2026-01-01T00:00:00Z"),
        Subnet(id: "ext-v6", networkID: "ext-net", cidr: IPPrefix("2001:db8:100::/64")!, createdAt: "2026-01-01T00:00:00Z"),
        Subnet(id: "sub-a", networkID: "net-a", cidr: IPPrefix("10.0.0.0/24")!, projectID: "proj-a", createdAt: "2026-01-02T00:00:00Z"),
        Subnet(id: "sub-a6", networkID: "net-a", cidr: IPPrefix("fd00:10::/64")!, projectID: "proj-a", createdAt: "2026-01-02T00:00:01Z"),
        Subnet(id: "sub-b", networkID: "net-b", cidr: IPPrefix("10.1.0.0/24")!, projectID: "proj-b", createdAt: "2026-01-03T00:00:00Z"),
    ]
    let routers = [
        Router(id: "router-a", name: "ra", projectID: "proj-a", gateways: [ExternalGateway(networkID: "ext-net", fixedIPs: [
            FixedIP(subnetID: "ext-v4", ipAddress: IPAddress("203.0.113.10")!),
            FixedIP(subnetID: "ext-v6", ipAddress: IPAddress("2001:db8:100::10")!),
        ])]),
        Router(id: "router-b", name: "rb", projectID: "proj-b", gateways: [ExternalGateway(networkID: "ext-net", fixedIPs: [
            FixedIP(subnetID: "ext-v4", ipAddress: IPAddress("203.0.113.11")!),
        ])]),
    ]
    let ports = [
        RouterPort(id: "p1", deviceID: "router-a", fixedIPs: [FixedIP(subnetID: "sub-a", ipAddress: IPAddress("10.0.0.1")!)]),
        RouterPort(id: "p2", deviceID: "router-a", fixedIPs: [FixedIP(subnetID: "sub-a6", ipAddress: IPAddress("fd00:10::1")!)]),
        RouterPort(id: "p3", deviceID: "router-b", fixedIPs: [FixedIP(subnetID: "sub-b", ipAddress: IPAddress("10.1.0.1")!)]),
    ]
    return CloudSnapshot(routers: routers, ports: ports, subnets: subnets, networks: [ext])
}

/// A host on the external network: eth0 with 203.0.113.2/24 and 2001:db8:100::2/64, a default route
/// and an operator's static route.
func hostKernel(nexthopSupport: Bool = true) -> InMemoryKernel {
    InMemoryKernel(KernelView(
        routes: [
            KernelRoute(destination: IPPrefix("0.0.0.0/0")!, proto: 3, gateway: IPAddress("203.0.113.1")),
            KernelRoute(destination: IPPrefix("203.0.113.0/24")!, proto: 2, outputInterface: 2),
            KernelRoute(destination: IPPrefix("198.51.100.0/24")!, proto: 4, gateway: IPAddress("203.0.113.1")),
        ],
        connected: [
            ConnectedNetwork(prefix: IPPrefix("203.0.113.0/24")!, address: IPAddress("203.0.113.2")!, interfaceIndex: 2, interfaceName: "eth0"),
            ConnectedNetwork(prefix: IPPrefix("2001:db8:100::/64")!, address: IPAddress("2001:db8:100::2")!, interfaceIndex: 2, interfaceName: "eth0"),
            ConnectedNetwork(prefix: IPPrefix("127.0.0.0/8")!, address: IPAddress("127.0.0.1")!, interfaceIndex: 1, interfaceName: "lo"),
        ]), nexthopSupport: nexthopSupport)
}

/// Owned routes of a kernel view as "dst via gateway" strings, nexthop objects resolved.
func ownedRoutes(_ kernel: InMemoryKernel, proto: UInt8 = 200) -> [String] {
    OwnedRoute.list(in: kernel.current, ownership: Ownership(proto: proto, table: 254)).map { "\($0.destination) via \($0.nextHop ?? "?")" }
}

/// A Neutron stand-in whose answers a test scripts: a snapshot, or an error.
final class ScriptedSource: SnapshotSource {
    private let state: Mutex<(snapshot: CloudSnapshot, failure: String?, reads: Int)>
    var label: String { "scripted" }

    /// The clock a read's `delay` runs on.
    let clock: any AgentClock

    init(_ snapshot: CloudSnapshot, clock: any AgentClock = SystemClock()) {
        state = Mutex((snapshot, nil, 0))
        self.clock = clock
    }

    func set(_ snapshot: CloudSnapshot) { state.withLock { $0.snapshot = snapshot } }
    func fail(_ message: String?) { state.withLock { $0.failure = message } }
    var reads: Int { state.withLock { $0.reads } }

    /// How long each read takes (a Neutron that is slow or never answers).
    let delay = Mutex<Duration>(.zero)

    /// Hands reads to another source (a real one fed with bad input); nil: answer from the script again.
    func forward(to source: (any SnapshotSource)?) { upstream.withLock { $0 = source } }
    private let upstream = Mutex<(any SnapshotSource)?>(nil)

    /// What the last read answered: `readIfChanged` says nil when the cloud is still that (Neutron's pages byte for byte).
    private let lastServed = Mutex<CloudSnapshot?>(nil)
    /// Reads that answered "unchanged".
    let unchangedReads = Mutex(0)

    func readIfChanged() async throws -> CloudSnapshot? {
        let current = try await read()
        let same = lastServed.withLock { last in
            defer { last = current }
            return last == current
        }
        if same { unchangedReads.withLock { $0 += 1 } }
        return same ? nil : current
    }

    /// Targeted re-reads (`readRouters`) so far, and the router IDs each asked for.
    let targeted = Mutex<[Set<String>]>([])

    func readRouters(_ ids: Set<String>, knownSubnets: @escaping @Sendable (String) -> Bool) async throws -> RoutersRead {
        let (snapshot, failure) = state.withLock { ($0.snapshot, $0.failure) }
        targeted.withLock { $0.append(ids) }
        if let failure { throw SourceError(failure) }
        return RoutersRead.extract(ids, from: snapshot, knownSubnets: knownSubnets)
    }

    func read() async throws -> CloudSnapshot {
        let d = delay.withLock { $0 }
        if d > .zero { try await clock.sleep(for: d) }
        if let u = upstream.withLock({ $0 }) {
            state.withLock { $0.reads += 1 }
            return try await u.read()
        }
        return try state.withLock { s in
            s.reads += 1
            if let f = s.failure { throw SourceError(f) }
            return s.snapshot
        }
    }
}

/// Captures log lines for assertions.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func contains(_ s: String) -> Bool { all.contains { $0.contains(s) } }

    func logger() -> Logger {
        Logger(label: "test") { _ in LineLogHandler(label: "test", format: .logfmt, level: .debug) { line in self.lines.withLock { $0.append(line) } } }
    }
}
