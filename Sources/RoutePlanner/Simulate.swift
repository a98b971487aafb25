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
    var v = view
    func key(_ r: KernelRoute) -> (IPPrefix, UInt32, UInt32) { (r.destination, r.table, effectiveMetric(r)) }
    func route(_ s: RouteSpec) -> KernelRoute? {
        let family = s.destination.family
        let m = effectiveMetric(s.metric, family)
        let metric: UInt32? = family == .v4 && m == 0 ? nil : m
        switch s.target {
        case .gateway(let g, let oif):
            guard g.family == family else { return nil }
            return KernelRoute(destination: s.destination, table: s.table, proto: s.proto, metric: metric,
                               gateway: g, outputInterface: oif)
        case .nexthop(let id):
            guard v.nexthops.contains(where: { $0.id == id }) else { return nil }
            return KernelRoute(destination: s.destination, table: s.table, proto: s.proto, metric: metric, nexthopID: id)
        }
    }
    for op in ops {
        switch op {
        case .addNexthop(let n):
            if !v.nexthops.contains(where: { $0.id == n.id }) { v.nexthops.append(n) }
        case .replaceNexthop(let n):
            if let i = v.nexthops.firstIndex(where: { $0.id == n.id }) { v.nexthops[i] = n } else { v.nexthops.append(n) }
        case .deleteNexthop(let id):
            guard v.nexthops.contains(where: { $0.id == id }) else { continue }
            v.nexthops.removeAll { $0.id == id }
            v.routes.removeAll { $0.nexthopID == id }
        case .addRoute(let s):
            guard let r = route(s), !v.routes.contains(where: { key($0) == key(r) }) else { continue }
            v.routes.append(r)
        case .replaceRoute(let s):
            guard let r = route(s) else { continue }
            if let i = v.routes.firstIndex(where: { key($0) == key(r) }) { v.routes[i] = r } else { v.routes.append(r) }
        case .deleteRoute(let s):
            let wanted = s.metric.map { effectiveMetric($0, s.destination.family) }
            let candidates = v.routes.indices.filter { i in
                let r = v.routes[i]
                return r.destination == s.destination && r.table == s.table && r.proto == s.proto
                    && (wanted == nil || s.metric == 0 || effectiveMetric(r) == wanted)
            }
            if let i = candidates.min(by: { routeOrder(v.routes[$0], v.routes[$1]) }) { v.routes.remove(at: i) }
        }
    }
    v.routes.sort(by: routeOrder)
    v.nexthops.sort { ($0.id, String(describing: $0)) < ($1.id, String(describing: $1)) }
    return v
}
