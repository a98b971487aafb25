import Model
@testable import RoutePlanner

/// A deterministic generator (SplitMix64): the incremental property tests run fixed seeds.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The snapshot after `updates`, written independently of the planner, over the snapshot's arrays: for several
/// updates of one router the last one counts; the router's entries and its ports are replaced; every subnet given
/// replaces the subnet with its ID; a subnet an interface port names but the update does not give is removed.
func fold(_ snapshot: CloudSnapshot, _ updates: [RouterUpdate]) -> CloudSnapshot {
    var s = snapshot
    let lastIndex = Dictionary(updates.enumerated().map { ($0.element.routerID, $0.offset) }, uniquingKeysWith: { _, b in b })
    for (i, u) in updates.enumerated() where lastIndex[u.routerID] == i {
        s.routers.removeAll { $0.id == u.routerID }
        if let r = u.router { s.routers.append(r) }
        s.ports.removeAll { $0.deviceID == u.routerID }
        let ports = u.ports.filter { $0.deviceID == u.routerID }
        s.ports += ports
        let given = Set(u.subnets.map(\.id))
        s.subnets.removeAll { given.contains($0.id) }
        s.subnets += u.subnets
        let named = Set(ports.filter { RouterPort.interfaceOwners.contains($0.deviceOwner) }.flatMap { $0.fixedIPs.map(\.subnetID) })
        s.subnets.removeAll { named.contains($0.id) && !given.contains($0.id) }
    }
    return s
}

/// The update that says what `snapshot` holds about router `id` (after the caller changed it there).
func updateFor(_ id: String, in snapshot: CloudSnapshot) -> RouterUpdate {
    let ports = snapshot.ports.filter { $0.deviceID == id }
    let named = Set(ports.filter { RouterPort.interfaceOwners.contains($0.deviceOwner) }.flatMap { $0.fixedIPs.map(\.subnetID) })
    return RouterUpdate(routerID: id, router: snapshot.routers.first { $0.id == id }, ports: ports,
                        subnets: snapshot.subnets.filter { named.contains($0.id) })
}

/// Applies operations one by one the way the kernel would, failing those in `failing` on purpose (and those the
/// kernel itself refuses: an add of something that exists, a delete of something missing, a route via a missing
/// nexthop). Returns the kernel afterwards and each operation's success.
func apply(_ ops: [KernelOperation], to kernel: KernelView, failing: Set<Int> = []) -> (KernelView, [Bool]) {
    var k = simulate([], on: kernel)
    var results: [Bool] = []
    for (i, op) in ops.enumerated() {
        if failing.contains(i) { results.append(false); continue }
        let after = simulate([op], on: k)
        let ok: Bool
        switch op {
        case .replaceNexthop:
            ok = true
        case .replaceRoute(let s):
            if case .nexthop(let id) = s.target { ok = k.nexthops.contains { $0.id == id } } else { ok = true }
        default:
            ok = after != k
        }
        results.append(ok)
        k = after
    }
    return (k, results)
}

/// Owned nexthops that no route (of any owner) points at.
func orphanNexthops(_ kernel: KernelView, _ policy: Policy) -> [KernelNexthop] {
    let used = Set(kernel.routes.compactMap(\.nexthopID))
    return kernel.nexthops.filter { policy.ownership.owns(nexthop: $0) && !used.contains($0.id) }
}
