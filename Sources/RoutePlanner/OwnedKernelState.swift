import Model

/// The kernel view reduced to what the diff needs, indexed once: the routes and nexthops the agent owns
/// (as `Ownership` says), every nexthop by ID, and the nexthops that routes of others point at.
struct OwnedKernelState {
    /// Routes the agent owns (each once).
    let routes: [KernelRoute]
    let ownership: Ownership
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
        self.ownership = ownership
        // Grouped by destination first; identical duplicates (which a kernel never reports) are dropped within a
        // group, instead of building a set of every route.
        var byDestination: [IPPrefix: [KernelRoute]] = [:]
        var unique: [KernelRoute] = []
        for r in kernel.routes where ownership.owns(route: r) {
            if let group = byDestination[r.destination], group.contains(r) { continue }
            byDestination[r.destination, default: []].append(r)
            unique.append(r)
        }
        for (k, group) in byDestination where group.count > 1 { byDestination[k] = group.sorted(by: routeOrder) }
        routes = unique
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
        var foreign = Set<UInt32>()
        for r in kernel.routes where !ownership.owns(route: r) { if let id = r.nexthopID { foreign.insert(id) } }
        foreignReferences = foreign
    }
}
