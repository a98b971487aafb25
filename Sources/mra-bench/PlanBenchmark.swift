// mra-bench plan: the planner's CPU time on a generated cloud, no root needed.
//
//   mra-bench plan [--routers 10000] [--updates 1000] [--seed 1]
//
// N routers, each with its own IPv4 and IPv6 gateway (198.18.0.0/15, 2001:db8:100::/64, both connected on
// interface 2), two IPv4 /26 subnets from 10.0.0.0/8 and one IPv6 /64 from fd00::/8: 3N routes. Times
// makePlan against an empty kernel and against the converged one (a whole no-op), IncrementalPlanner.init on
// both, and the mean of single-router updates of mixed kinds (gateway change, interface added or removed,
// router disabled or enabled, deleted, added), each with its `record`.
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Model
import RoutePlanner

struct PlanBench {
    var routers = 10_000
    var updates = 1000
    var seed: UInt64 = 1
}

/// A small deterministic generator (SplitMix64).
struct BenchRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct BenchCloud {
    var snapshot = CloudSnapshot()
    var nextSubnet = 0
    var nextGateway = 0

    static func v4Subnet(_ k: Int) -> IPPrefix { IPPrefix(address: IPAddress(v4: 0x0A00_0000 | UInt32(k) << 6), length: 26)! }
    static func v6Subnet(_ k: Int) -> IPPrefix { IPPrefix(address: IPAddress(v6High: 0xFD00_0000_0000_0000 | UInt64(k), low: 0), length: 64)! }
    static func v4Gateway(_ k: Int) -> IPAddress { IPAddress(v4: 0xC612_0002 &+ UInt32(k)) }             // 198.18.0.2 + k
    static func v6Gateway(_ k: Int) -> IPAddress { IPAddress(v6High: 0x2001_0DB8_0100_0000, low: 2 + UInt64(k)) }

    mutating func gateways() -> [ExternalGateway] {
        defer { nextGateway += 1 }
        return [ExternalGateway(networkID: "ext", enableSNAT: false, fixedIPs: [
            FixedIP(subnetID: "ext-v4", ipAddress: Self.v4Gateway(nextGateway)),
            FixedIP(subnetID: "ext-v6", ipAddress: Self.v6Gateway(nextGateway)),
        ])]
    }

    mutating func subnet(_ v6: Bool, router: String) -> (Subnet, RouterPort) {
        defer { nextSubnet += 1 }
        let cidr = v6 ? Self.v6Subnet(nextSubnet) : Self.v4Subnet(nextSubnet)
        let s = Subnet(id: "subnet-\(nextSubnet)", networkID: "net-\(router)", cidr: cidr, projectID: "p-\(router)",
                       createdAt: "2026-01-01T00:00:00Z")
        let port = RouterPort(id: "port-\(nextSubnet)", deviceID: router, deviceOwner: RouterPort.legacyInterface,
                              fixedIPs: [FixedIP(subnetID: s.id, ipAddress: cidr.address)])
        return (s, port)
    }

    mutating func addRouter(_ id: String) {
        snapshot.routers.append(Router(id: id, name: id, projectID: "p-\(id)", gateways: gateways()))
        for v6 in [false, false, true] {
            let (s, p) = subnet(v6, router: id)
            snapshot.subnets.append(s)
            snapshot.ports.append(p)
        }
    }

    init(routers: Int) {
        snapshot.networks = [Network(id: "ext", name: "public", isExternal: true)]
        snapshot.subnets = [Subnet(id: "ext-v4", networkID: "ext", cidr: IPPrefix("198.18.0.0/15")!),
                            Subnet(id: "ext-v6", networkID: "ext", cidr: IPPrefix("2001:db8:100::/64")!)]
        for r in 0..<routers { addRouter("router-\(r)") }
    }

    static let connected = [
        ConnectedNetwork(prefix: IPPrefix("198.18.0.0/15")!, address: IPAddress("198.18.0.1")!, interfaceIndex: 2, interfaceName: "uplink0"),
        ConnectedNetwork(prefix: IPPrefix("2001:db8:100::/64")!, address: IPAddress("2001:db8:100::1")!, interfaceIndex: 2, interfaceName: "uplink0"),
    ]
}

/// Neutron's routers, ports and subnets by router, so that one router's update is built without a scan.
struct BenchNeutron {
    var routers: [String: Router] = [:]
    var ports: [String: [RouterPort]] = [:]
    var subnets: [String: Subnet] = [:]

    init(_ s: CloudSnapshot) {
        for r in s.routers { routers[r.id] = r }
        for p in s.ports { ports[p.deviceID, default: []].append(p) }
        for x in s.subnets { subnets[x.id] = x }
    }

    func update(_ id: String) -> RouterUpdate {
        let ps = ports[id] ?? []
        return RouterUpdate(routerID: id, router: routers[id], ports: ps,
                            subnets: ps.flatMap { $0.fixedIPs.compactMap { subnets[$0.subnetID] } })
    }
}

/// Wall time and this thread's CPU time (the machine may be shared: CPU time is what the planner costs).
struct Took {
    var wall: Duration = .zero
    var cpu: Duration = .zero
    static func += (a: inout Took, b: Took) { a.wall += b.wall; a.cpu += b.cpu }
    var text: String { String(format: "%8.1f ms CPU (%.1f ms wall)", milliseconds(cpu), milliseconds(wall)) }
}

func threadCPU() -> Duration {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return .seconds(Int64(ts.tv_sec)) + .nanoseconds(Int64(ts.tv_nsec))
}

func measure(_ body: () -> Void) -> Took {
    let c0 = threadCPU(), w0 = ContinuousClock.now
    body()
    return Took(wall: ContinuousClock.now - w0, cpu: threadCPU() - c0)
}

func milliseconds(_ d: Duration) -> Double {
    let (s, a) = d.components
    return Double(s) * 1000 + Double(a) / 1e15
}

func planBenchmark(_ o: PlanBench) {
        var cloud = BenchCloud(routers: o.routers)
    let empty = KernelView(connected: BenchCloud.connected)
    let policy = Policy()

    var plan = RoutePlan()
    let makeEmpty = measure { plan = makePlan(snapshot: cloud.snapshot, kernel: empty, policy: policy) }
    let converged = simulate(plan.operations, on: empty)
    var noop = RoutePlan()
    let makeNoop = measure { noop = makePlan(snapshot: cloud.snapshot, kernel: converged, policy: policy) }
    var planner: IncrementalPlanner?
    let initEmpty = measure { planner = IncrementalPlanner(snapshot: cloud.snapshot, kernel: empty, policy: policy) }
    planner = nil
    let initNoop = measure { planner = IncrementalPlanner(snapshot: cloud.snapshot, kernel: converged, policy: policy) }
    guard var p = planner.take(), noop.isEmpty, plan.desired.count == 3 * o.routers, p.fullPlan == noop else {
        FileHandle.standardError.write(Data("mra-bench plan: unexpected plan (\(plan.desired.count) routes, \(noop.operations.count) no-op operations)\n".utf8))
        exit(1)
    }
    p.record([], results: [])

    var neutron = BenchNeutron(cloud.snapshot)
    var rng = BenchRandom(state: o.seed)
    var live = cloud.snapshot.routers.map(\.id)
    var added = 0
    var total = Took(), worst = Took()
    var kinds: [String: (count: Int, time: Took)] = [:]
    var operations = 0
    for _ in 0..<o.updates {
        let i = Int.random(in: 0..<live.count, using: &rng)
        let id = live[i]
        let kind: String
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:
            kind = "gateway change"
            neutron.routers[id]!.gateways = cloud.gateways()
        case 1:
            kind = "interface added"
            let (s, port) = cloud.subnet(Bool.random(using: &rng), router: id)
            neutron.subnets[s.id] = s
            neutron.ports[id, default: []].append(port)
        case 2:
            kind = "interface removed"
            if !(neutron.ports[id] ?? []).isEmpty { neutron.ports[id]!.removeLast() }
        case 3:
            kind = "router disabled"
            neutron.routers[id]!.adminStateUp = false
        case 4:
            kind = "router enabled"
            neutron.routers[id]!.adminStateUp = true
        case 5:
            kind = "router deleted"
            neutron.routers[id] = nil
            neutron.ports[id] = nil
            live.swapAt(i, live.count - 1)
            live.removeLast()
        default:
            kind = "router added"
            let new = "added-\(added)"
            added += 1
            var one = BenchCloud(routers: 0)
            one.nextGateway = cloud.nextGateway
            one.nextSubnet = cloud.nextSubnet
            one.addRouter(new)
            cloud.nextGateway = one.nextGateway
            cloud.nextSubnet = one.nextSubnet
            neutron.routers[new] = one.snapshot.routers[0]
            neutron.ports[new] = one.snapshot.ports
            for s in one.snapshot.subnets where s.id.hasPrefix("subnet-") { neutron.subnets[s.id] = s }
            live.append(new)
        }
        let target = kind == "router added" ? live[live.count - 1] : id
        let update = neutron.update(target)
        let took = measure {
            guard let delta = p.update([update]) else { fatalError("update fell back to a full plan") }
            p.record(delta.operations, results: Array(repeating: true, count: delta.operations.count))
            operations += delta.operations.count
        }
        total += took
        if took.cpu > worst.cpu { worst = took }
        if ProcessInfo.processInfo.environment["MRA_BENCH_TRACE"] != nil {
            print("  \(kind): \(String(format: "%.3f", milliseconds(took.cpu))) ms CPU")
        }
        kinds[kind, default: (0, Took())].count += 1
        kinds[kind, default: (0, Took())].time += took
    }
    print("plan benchmark: \(o.routers) routers, \(3 * o.routers) routes")
    print("  makePlan, empty kernel:                \(makeEmpty.text), \(plan.operations.count) operations")
    print("  makePlan, converged kernel (no-op):    \(makeNoop.text)")
    print("  IncrementalPlanner.init, empty kernel: \(initEmpty.text)")
    print("  IncrementalPlanner.init, converged:    \(initNoop.text)")
    let n = Double(max(1, o.updates))
    print(String(format: "  update + record, mean of %d: %.3f ms CPU (%.3f ms wall); worst %.3f ms CPU; %d operations in all",
                 o.updates, milliseconds(total.cpu) / n, milliseconds(total.wall) / n, milliseconds(worst.cpu), operations))
    for (k, v) in kinds.sorted(by: { $0.key < $1.key }) {
        print("    " + k.padding(toLength: 20, withPad: " ", startingAt: 0)
              + String(format: " %4d × %.3f ms CPU", v.count, milliseconds(v.time.cpu) / Double(max(1, v.count))))
    }
    print("  desired now: \(p.desiredCount), refused: \(p.refused.count)")
}

func parsePlanOptions(_ args: [String]) -> PlanBench {
    var o = PlanBench()
    var i = 0
    while i < args.count {
        func value() -> Int {
            i += 1
            guard i < args.count, let v = Int(args[i]), v > 0 else { usage() }
            return v
        }
        switch args[i] {
        case "--routers": o.routers = value()
        case "--updates": o.updates = value()
        case "--seed": o.seed = UInt64(value())
        default: usage()
        }
        i += 1
    }
    return o
}
