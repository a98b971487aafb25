import Model

/// What the kernel does with these operations, as a pure model (used by tests and by the agent's in-memory kernel).
///
/// - Routes are keyed like the kernel keys them: destination, table and effective metric (IPv4 default 0,
///   IPv6 default 1024). An exclusive add of an existing key fails (no change); a replace overwrites the route
///   with that key, whoever owns it, or creates it; a delete removes the first route with that destination,
///   table and protocol (and metric, when one is given), never a route of another protocol.
/// - A route via a nexthop that does not exist fails (no change). Such routes are reported with `nexthopID`
///   only (like `nexthop_compat_mode=0`).
/// - Nexthops are keyed by ID: an add of an existing ID fails, a replace overwrites or creates, and deleting a
///   nexthop also removes every route that uses it, as the kernel does.
///
/// Failed operations change nothing; the others are applied in order. The result is sorted.
public func simulate(_ ops: [KernelOperation], on view: KernelView) -> KernelView {
    struct Slot: Hashable { var destination: IPPrefix; var table: UInt32 }
    var routes: [Slot: [KernelRoute]] = [:]
    for r in view.routes { routes[Slot(destination: r.destination, table: r.table), default: []].append(r) }
    var nexthops: [UInt32: KernelNexthop] = [:]
    var extraNexthops: [KernelNexthop] = []   // duplicate IDs in the input view are kept as they were
    for n in view.nexthops {
        if nexthops[n.id] == nil { nexthops[n.id] = n } else { extraNexthops.append(n) }
    }

    func route(_ s: RouteSpec) -> KernelRoute? {
        if case .nexthop(let id) = s.target, nexthops[id] == nil { return nil }
        return simulatedRoute(s)
    }
    for op in ops {
        switch op {
        case .addNexthop(let n):
            if nexthops[n.id] == nil { nexthops[n.id] = n }
        case .replaceNexthop(let n):
            nexthops[n.id] = n
        case .deleteNexthop(let id):
            guard nexthops.removeValue(forKey: id) != nil else { continue }
            extraNexthops.removeAll { $0.id == id }
            for (slot, list) in routes where list.contains(where: { $0.nexthopID == id }) {
                routes[slot] = list.filter { $0.nexthopID != id }
            }
        case .addRoute(let s):
            guard let r = route(s) else { continue }
            let slot = Slot(destination: s.destination, table: s.table)
            let m = effectiveMetric(r)
            if routes[slot, default: []].contains(where: { effectiveMetric($0) == m }) { continue }
            routes[slot, default: []].append(r)
        case .replaceRoute(let s):
            guard let r = route(s) else { continue }
            let slot = Slot(destination: s.destination, table: s.table)
            let m = effectiveMetric(r)
            if let i = routes[slot, default: []].firstIndex(where: { effectiveMetric($0) == m }) {
                routes[slot]![i] = r
            } else {
                routes[slot, default: []].append(r)
            }
        case .deleteRoute(let s):
            let slot = Slot(destination: s.destination, table: s.table)
            guard let list = routes[slot] else { continue }
            let wanted = s.metric.flatMap { $0 == 0 ? nil : effectiveMetric($0, s.destination.family) }
            let candidates = list.indices.filter { i in
                list[i].proto == s.proto && (wanted == nil || effectiveMetric(list[i]) == wanted)
            }
            if let i = candidates.min(by: { routeOrder(list[$0], list[$1]) }) { routes[slot]!.remove(at: i) }
        }
    }
    var out = view
    out.routes = routes.values.flatMap { $0 }.sorted(by: routeOrder)
    // By ID; the description only breaks ties (duplicate IDs), instead of being built for every comparison.
    out.nexthops = (Array(nexthops.values) + extraNexthops).sorted { a, b in
        a.id != b.id ? a.id < b.id : String(describing: a) < String(describing: b)
    }
    return out
}

/// The route a successful add or replace of `s` leaves in the kernel, as `simulate` models it (nil: the kernel
/// refuses a gateway of another family). Whether a nexthop it names exists is the caller's question.
func simulatedRoute(_ s: RouteSpec) -> KernelRoute? {
    let family = s.destination.family
    let m = effectiveMetric(s.metric, family)
    let metric: UInt32? = family == .v4 && m == 0 ? nil : m
    switch s.target {
    case .gateway(let g, let oif):
        guard g.family == family else { return nil }
        return KernelRoute(destination: s.destination, table: s.table, proto: s.proto, metric: metric,
                           gateway: g, outputInterface: oif)
    case .nexthop(let id):
        return KernelRoute(destination: s.destination, table: s.table, proto: s.proto, metric: metric, nexthopID: id)
    }
}
