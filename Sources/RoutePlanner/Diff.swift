import Model

/// The difference between the desired routes and what the agent owns in the kernel, as kernel writes.
///
/// Owned routes and nexthops are those `policy.ownership` owns (protocol and table; protocol and ID range).
/// Nothing else is ever written, replaced or deleted.
struct KernelDiff {
    var operations: [KernelOperation] = []
    var changes: [PlannedChange] = []

    init(desired: [DesiredRoute], kernel: KernelView, policy: Policy) {
        let ownership = policy.ownership
        let ownedRoutes = Set(kernel.routes.filter(ownership.owns(route:)))
        var ownedByDestination: [IPPrefix: [KernelRoute]] = [:]
        for r in ownedRoutes { ownedByDestination[r.destination, default: []].append(r) }
        for k in ownedByDestination.keys { ownedByDestination[k]!.sort(by: routeOrder) }

        // Nexthops by ID (any owner) to resolve a route's current next hop; the kernel's IDs are unique.
        var nexthopByID: [UInt32: KernelNexthop] = [:]
        for n in kernel.nexthops {
            if let old = nexthopByID[n.id], String(describing: old) <= String(describing: n) { continue }
            nexthopByID[n.id] = n
        }
        let ownedNexthops = nexthopByID.values
            .filter(ownership.owns(nexthop:))
            .sorted { $0.id < $1.id }
        // Nexthops that routes we do not own point at: never replaced or deleted (that would change or remove those routes).
        let foreignReferences = Set(kernel.routes.filter { !ownership.owns(route: $0) }
            .compactMap(\.nexthopID))

        var nexthopAddOrReplace: [KernelNexthop: Bool] = [:]   // nexthop → is a replace
        var nexthopFor: [IPAddress: UInt32] = [:]

        if policy.useNexthopObjects {
            var gatewayInterface: [IPAddress: Int32] = [:]
            for d in desired { gatewayInterface[d.nextHop] = d.outputInterface }
            let gateways = gatewayInterface.keys.sorted()
            var used = Set<UInt32>()
            let desiredByDestination = Dictionary(desired.map { ($0.destination, $0.nextHop) }, uniquingKeysWith: { a, _ in a })
            var routesOn: [UInt32: [KernelRoute]] = [:]
            for r in ownedRoutes { if let id = r.nexthopID { routesOn[id, default: []].append(r) } }

            // 1. An owned nexthop already via this gateway (fix its interface in place when it moved).
            // Indexed by gateway once: a scan of every owned nexthop per gateway is quadratic (20,000² at 10,000 routers).
            var ownedByGateway: [IPAddress: [KernelNexthop]] = [:]
            for n in ownedNexthops { if let g = n.gateway { ownedByGateway[g, default: []].append(n) } }
            for g in gateways {
                let oif = gatewayInterface[g]!
                let same = (ownedByGateway[g] ?? []).filter { !used.contains($0.id) }
                if let n = same.first(where: { $0.outputInterface == oif }) {
                    nexthopFor[g] = n.id
                    used.insert(n.id)
                } else if let n = same.first(where: { !foreignReferences.contains($0.id) }) {
                    nexthopFor[g] = n.id
                    used.insert(n.id)
                    nexthopAddOrReplace[KernelNexthop(id: n.id, gateway: g, outputInterface: oif, proto: policy.proto)] = true
                }
            }
            // 2. A changed gateway: an owned nexthop whose routes all move to one new gateway is replaced in place.
            for g in gateways where nexthopFor[g] == nil {
                let oif = gatewayInterface[g]!
                let movable = ownedNexthops.first { n in
                    guard !used.contains(n.id), !foreignReferences.contains(n.id),
                          let old = n.gateway, old.family == g.family,
                          let routes = routesOn[n.id], !routes.isEmpty else { return false }
                    return routes.allSatisfy { desiredByDestination[$0.destination] == g }
                }
                if let n = movable {
                    nexthopFor[g] = n.id
                    used.insert(n.id)
                    nexthopAddOrReplace[KernelNexthop(id: n.id, gateway: g, outputInterface: oif, proto: policy.proto)] = true
                }
            }
            // 3. New nexthops: the lowest IDs of the range that no nexthop (of any owner) uses, in gateway order.
            var taken = Set(nexthopByID.keys)
            var nextID = policy.nexthopIDRange.lowerBound
            for g in gateways where nexthopFor[g] == nil {
                while taken.contains(nextID) && nextID < policy.nexthopIDRange.upperBound { nextID += 1 }
                guard !taken.contains(nextID) else { break }   // range exhausted: classic routes for the rest
                taken.insert(nextID)
                nexthopFor[g] = nextID
                nexthopAddOrReplace[KernelNexthop(id: nextID, gateway: g, outputInterface: gatewayInterface[g]!,
                                                  proto: policy.proto)] = false
            }
        }

        func target(_ d: DesiredRoute) -> RouteTarget {
            if let id = nexthopFor[d.nextHop] { return .nexthop(id) }
            return .gateway(d.nextHop, outputInterface: d.outputInterface)
        }
        func matches(_ r: KernelRoute, _ t: RouteTarget) -> Bool {
            guard r.type == KernelRoute.unicast else { return false }
            switch t {
            case .nexthop(let id):
                return r.nexthopID == id
            case .gateway(let g, let oif):
                return r.nexthopID == nil && r.gateway == g && (r.outputInterface == nil || r.outputInterface == oif)
            }
        }
        /// Where a route sends traffic now: its gateway, or its nexthop's.
        func resolve(_ r: KernelRoute) -> (IPAddress?, Int32?) {
            if let id = r.nexthopID {
                let n = nexthopByID[id]
                return (n?.gateway ?? r.gateway, n?.outputInterface ?? r.outputInterface)
            }
            return (r.gateway, r.outputInterface)
        }
        func spec(_ r: KernelRoute) -> RouteSpec {
            let t: RouteTarget
            if let id = r.nexthopID { t = .nexthop(id) } else {
                t = .gateway(r.gateway ?? r.destination.family.unspecifiedAddress, outputInterface: r.outputInterface)
            }
            return RouteSpec(destination: r.destination, table: policy.table, proto: policy.proto, target: t, metric: exactMetric(r))
        }
        /// The route's metric as the kernel matches it: explicit, except IPv4's 0, which a delete can only say as
        /// "any" (and then the kernel takes the lowest metric first, which is this route: keys are unique).
        func exactMetric(_ r: KernelRoute) -> UInt32? {
            let m = effectiveMetric(r)
            return m == 0 ? nil : m
        }

        let written = Dictionary(nexthopAddOrReplace.keys.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var adds: [RouteSpec] = [], replaces: [RouteSpec] = [], deletes: [RouteSpec] = []
        var desiredDestinations = Set<IPPrefix>()
        var referenced = Set<UInt32>()
        for d in desired {
            guard desiredDestinations.insert(d.destination).inserted else { continue }
            let t = target(d)
            if case .nexthop(let id) = t { referenced.insert(id) }
            let group = ownedByDestination[d.destination] ?? []
            guard let first = group.first else {
                adds.append(RouteSpec(destination: d.destination, table: policy.table, proto: policy.proto, target: t))
                changes.append(PlannedChange(action: .add, destination: d.destination, nextHop: d.nextHop,
                                             routerID: d.routerID, subnetID: d.subnetID))
                continue
            }
            let keep: KernelRoute
            if let m = group.first(where: { matches($0, t) }) {
                keep = m
                let (gw, oif) = resolve(m)
                let nowVia: KernelNexthop? = if case .nexthop(let id) = t { written[id] } else { nil }
                // In place through a nexthop replace: a route-level change without a route write.
                if let n = nowVia, n.gateway != gw || n.outputInterface != oif {
                    changes.append(PlannedChange(action: .replace, destination: d.destination, nextHop: d.nextHop,
                                                 previousNextHop: gw, routerID: d.routerID, subnetID: d.subnetID))
                }
            } else {
                keep = first
                replaces.append(RouteSpec(destination: d.destination, table: policy.table, proto: policy.proto,
                                          target: t, metric: exactMetric(first)))
                changes.append(PlannedChange(action: .replace, destination: d.destination, nextHop: d.nextHop,
                                             previousNextHop: resolve(first).0, routerID: d.routerID, subnetID: d.subnetID))
            }
            for r in group where r != keep {
                deletes.append(spec(r))
                changes.append(PlannedChange(action: .delete, destination: r.destination, previousNextHop: resolve(r).0))
            }
        }
        for (destination, group) in ownedByDestination where !desiredDestinations.contains(destination) {
            for r in group {
                deletes.append(spec(r))
                changes.append(PlannedChange(action: .delete, destination: destination, previousNextHop: resolve(r).0))
            }
        }
        let nexthopDeletes = ownedNexthops.map(\.id).filter { !referenced.contains($0) && !foreignReferences.contains($0) }

        let specOrder: (RouteSpec, RouteSpec) -> Bool = { a, b in
            if a.destination != b.destination { return a.destination < b.destination }
            return effectiveMetric(a.metric, a.destination.family) < effectiveMetric(b.metric, b.destination.family)
        }
        let deleteOrder: (RouteSpec, RouteSpec) -> Bool = { a, b in
            if specOrder(a, b) { return true }
            if specOrder(b, a) { return false }
            if a.metric != b.metric { return lessOptional(a.metric, b.metric) }
            return String(describing: a.target) < String(describing: b.target)
        }
        for (n, isReplace) in nexthopAddOrReplace.sorted(by: { $0.key.id < $1.key.id }) {
            operations.append(isReplace ? .replaceNexthop(n) : .addNexthop(n))
        }
        operations += adds.sorted(by: specOrder).map { .addRoute($0) }
        operations += replaces.sorted(by: specOrder).map { .replaceRoute($0) }
        operations += deletes.sorted(by: deleteOrder).map { .deleteRoute($0) }
        operations += nexthopDeletes.sorted().map { .deleteNexthop(id: $0) }
        changes.sort()
    }
}
