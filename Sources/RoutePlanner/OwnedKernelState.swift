import Model

/// The kernel view reduced to what the diff needs, indexed once: the routes and nexthops the agent owns
/// (as `Ownership` says), every nexthop by ID, and the nexthops that routes of others point at.
struct OwnedKernelState {
    /// Routes the agent owns.
    let routes: Set<KernelRoute>
    /// Owned routes by destination, each group sorted by `routeOrder`.
    let routesByDestination: [IPPrefix: [KernelRoute]]
    /// Nexthops by ID (any owner), to resolve a route's current next hop; the kernel's IDs are unique.
    let nexthopByID: [UInt32: KernelNexthop]
    /// Nexthops the agent owns, sorted by ID.
    let nexthops: [KernelNexthop]
    /// Nexthops that routes the agent does not own point at: never replaced or deleted (that would change or
    /// remove those routes).
    let foreignReferences: Set<UInt32>

    init(kernel: KernelView, ownership: Ownership) {
        routes = Set(kernel.routes.filter(ownership.owns(route:)))
        var byDestination: [IPPrefix: [KernelRoute]] = [:]
        for r in routes { byDestination[r.destination, default: []].append(r) }
        for k in byDestination.keys { byDestination[k]!.sort(by: routeOrder) }
        routesByDestination = byDestination

        var byID: [UInt32: KernelNexthop] = [:]
        for n in kernel.nexthops {
            if let old = byID[n.id], String(describing: old) <= String(describing: n) { continue }
            byID[n.id] = n
        }
        nexthopByID = byID
        nexthops = byID.values
            .filter(ownership.owns(nexthop:))
            .sorted { $0.id < $1.id }
        foreignReferences = Set(kernel.routes.filter { !ownership.owns(route: $0) }
            .compactMap(\.nexthopID))
    }
}
