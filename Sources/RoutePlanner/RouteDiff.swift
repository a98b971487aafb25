import Model

/// The difference between the desired routes and the routes the agent owns in the kernel, as kernel writes in
/// apply order (nexthop add/replace, route add, route replace, route delete, nexthop delete) and as route-level
/// changes for reports. Routes point at the nexthops `NexthopAllocation` chose.
///
/// Only what `policy.ownership` owns is ever written, replaced or deleted.
struct RouteDiff {
    private(set) var operations: [KernelOperation] = []
    private(set) var changes: [PlannedChange] = []

    /// Owned routes by destination, each group sorted by `routeOrder`.
    private let routesByDestination: [IPPrefix: [KernelRoute]]
    /// Every kernel nexthop by ID (any owner), to resolve where a route sends traffic now.
    private let nexthopByID: [UInt32: KernelNexthop]
    /// Gateway → the nexthop ID its routes point at (none: a classic route).
    private let nexthopFor: [IPAddress: UInt32]
    /// Nexthop objects to write → true for a replace.
    private let nexthopWrites: [KernelNexthop: Bool]
    private let policy: Policy
    /// The nexthops written in this plan, by ID.
    private let written: [UInt32: KernelNexthop]
    private var adds: [RouteSpec] = [], replaces: [RouteSpec] = [], deletes: [RouteSpec] = []

    /// The whole diff: every desired route, every owned route, every owned nexthop.
    init(desired: [DesiredRoute], owned: OwnedKernelState, nexthops: NexthopAllocation, policy: Policy) {
        var desiredDestinations = Set<IPPrefix>(minimumCapacity: desired.count)
        for d in desired { desiredDestinations.insert(d.destination) }
        let stale = owned.routesByDestination.keys.filter { !desiredDestinations.contains($0) }
        // A nexthop is referenced when a desired route points at it: exactly the allocated ones (every allocated
        // gateway is some desired route's next hop).
        let referenced = Set(nexthops.nexthopFor.values)
        let nexthopDeletes = owned.nexthops.map(\.id).filter { !referenced.contains($0) && !owned.foreignReferences.contains($0) }
        self.init(desired: desired, stale: stale, routesByDestination: owned.routesByDestination,
                  nexthopByID: owned.nexthopByID, nexthopFor: nexthops.nexthopFor, nexthopWrites: nexthops.writes,
                  nexthopDeletes: nexthopDeletes, policy: policy)
    }

    /// The diff of some destinations only (the incremental planner's): `desired` (sorted) for the destinations that
    /// want a route, `stale` for those that want none (their owned routes are deleted), and the nexthop writes and
    /// deletes decided by the caller. Destinations in neither list are not looked at.
    init(desired: [DesiredRoute], stale: some Sequence<IPPrefix>, routesByDestination: [IPPrefix: [KernelRoute]],
         nexthopByID: [UInt32: KernelNexthop], nexthopFor: [IPAddress: UInt32], nexthopWrites: [KernelNexthop: Bool],
         nexthopDeletes: [UInt32], policy: Policy) {
        self.routesByDestination = routesByDestination
        self.nexthopByID = nexthopByID
        self.nexthopFor = nexthopFor
        self.nexthopWrites = nexthopWrites
        self.policy = policy
        written = Dictionary(nexthopWrites.keys.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

        var previous: IPPrefix?
        for d in desired where d.destination != previous {   // sorted: the first route per destination
            previous = d.destination
            diff(d, against: routesByDestination[d.destination] ?? [])
        }
        for destination in stale {
            for r in routesByDestination[destination] ?? [] { delete(r) }
        }
        assembleOperations(nexthopDeletes: nexthopDeletes)
    }

    /// One desired route against the owned routes at its destination: add it, keep the one that already matches
    /// (or replace the first in place), and delete the rest.
    private mutating func diff(_ d: DesiredRoute, against group: [KernelRoute]) {
        let t = target(d)
        guard let first = group.first else {
            adds.append(RouteSpec(destination: d.destination, table: policy.table, proto: policy.proto, target: t))
            changes.append(PlannedChange(action: .add, destination: d.destination, nextHop: d.nextHop,
                                         routerID: d.routerID, subnetID: d.subnetID))
            return
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
        for r in group where r != keep { delete(r) }
    }

    private mutating func delete(_ r: KernelRoute) {
        deletes.append(spec(r))
        changes.append(PlannedChange(action: .delete, destination: r.destination, previousNextHop: resolve(r).0))
    }

    /// The writes in apply order; owned nexthops no desired route (and no foreign route) uses are deleted last.
    private mutating func assembleOperations(nexthopDeletes: [UInt32]) {
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
        for (n, isReplace) in nexthopWrites.sorted(by: { $0.key.id < $1.key.id }) {
            operations.append(isReplace ? .replaceNexthop(n) : .addNexthop(n))
        }
        operations += adds.sorted(by: specOrder).map { .addRoute($0) }
        operations += replaces.sorted(by: specOrder).map { .replaceRoute($0) }
        operations += deletes.sorted(by: deleteOrder).map { .deleteRoute($0) }
        operations += nexthopDeletes.sorted().map { .deleteNexthop(id: $0) }
        changes.sort()
    }

    // MARK: - Routes

    /// Where a desired route should point: its gateway's nexthop, or the gateway itself (classic).
    private func target(_ d: DesiredRoute) -> RouteTarget {
        if let id = nexthopFor[d.nextHop] { return .nexthop(id) }
        return .gateway(d.nextHop, outputInterface: d.outputInterface)
    }

    /// Whether an owned route already points where `t` says.
    private func matches(_ r: KernelRoute, _ t: RouteTarget) -> Bool {
        guard r.type == KernelRoute.unicast else { return false }
        switch t {
        case .nexthop(let id):
            return r.nexthopID == id
        case .gateway(let g, let oif):
            return r.nexthopID == nil && r.gateway == g && (r.outputInterface == nil || r.outputInterface == oif)
        }
    }

    /// Where a route sends traffic now: its gateway, or its nexthop's.
    private func resolve(_ r: KernelRoute) -> (IPAddress?, Int32?) {
        if let id = r.nexthopID {
            let n = nexthopByID[id]
            return (n?.gateway ?? r.gateway, n?.outputInterface ?? r.outputInterface)
        }
        return (r.gateway, r.outputInterface)
    }

    /// An owned route as the spec that deletes exactly it.
    private func spec(_ r: KernelRoute) -> RouteSpec {
        let t: RouteTarget
        if let id = r.nexthopID { t = .nexthop(id) } else {
            t = .gateway(r.gateway ?? r.destination.family.unspecifiedAddress, outputInterface: r.outputInterface)
        }
        return RouteSpec(destination: r.destination, table: policy.table, proto: policy.proto, target: t, metric: exactMetric(r))
    }

    /// The route's metric as the kernel matches it: explicit, except IPv4's 0, which a delete can only say as
    /// "any" (and then the kernel takes the lowest metric first, which is this route: keys are unique).
    private func exactMetric(_ r: KernelRoute) -> UInt32? {
        let m = effectiveMetric(r)
        return m == 0 ? nil : m
    }
}
