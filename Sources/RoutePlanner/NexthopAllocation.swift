import Model

/// Which kernel nexthop object each gateway of the desired routes goes through, and the nexthop writes
/// (add or replace) that takes. Only nexthops the agent owns are reused or replaced; new IDs come from its
/// range. With classic routes (`useNexthopObjects` false) nothing is allocated.
struct NexthopAllocation {
    /// Gateway → nexthop ID. A gateway without one gets a classic `via` route (classic mode, or the range ran out).
    private(set) var nexthopFor: [IPAddress: UInt32] = [:]
    /// Nexthop objects to write → true for a replace of an existing one, false for an add.
    private(set) var writes: [KernelNexthop: Bool] = [:]

    init(desired: [DesiredRoute], owned: OwnedKernelState, policy: Policy) {
        guard policy.useNexthopObjects else { return }
        var gatewayInterface: [IPAddress: Int32] = [:]
        for d in desired { gatewayInterface[d.nextHop] = d.outputInterface }
        let gateways = gatewayInterface.keys.sorted()
        // Step 1 only ever takes a nexthop via the gateway itself, so a nexthop is taken when its own gateway got it
        // in step 1, or when step 2 gave it to another gateway.
        var movedInStep2 = Set<UInt32>()
        func isUsed(_ n: KernelNexthop) -> Bool {
            if let g = n.gateway, nexthopFor[g] == n.id { return true }
            return movedInStep2.contains(n.id)
        }
        lazy var desiredByDestination = Dictionary(desired.map { ($0.destination, $0.nextHop) }, uniquingKeysWith: { a, _ in a })
        lazy var destinationsVia: [IPAddress: [IPPrefix]] = {
            var via: [IPAddress: [IPPrefix]] = [:]
            for d in desired { via[d.nextHop, default: []].append(d.destination) }
            return via
        }()
        lazy var routesOn: [UInt32: [KernelRoute]] = {
            var on: [UInt32: [KernelRoute]] = [:]
            for r in owned.routes { if let id = r.nexthopID { on[id, default: []].append(r) } }
            return on
        }()

        // 1. An owned nexthop already via this gateway (fix its interface in place when it moved).
        // Indexed by gateway once: a scan of every owned nexthop per gateway is quadratic (20,000² at 10,000 routers).
        var ownedByGateway: [IPAddress: [KernelNexthop]] = [:]
        for n in owned.nexthops { if let g = n.gateway { ownedByGateway[g, default: []].append(n) } }
        for g in gateways {
            let oif = gatewayInterface[g]!
            let same = ownedByGateway[g] ?? []
            if let n = same.first(where: { $0.outputInterface == oif }) {
                nexthopFor[g] = n.id
            } else if let n = same.first(where: { !owned.foreignReferences.contains($0.id) }) {
                nexthopFor[g] = n.id
                writes[KernelNexthop(id: n.id, gateway: g, outputInterface: oif, proto: policy.proto)] = true
            }
        }
        // 2. A changed gateway: an owned nexthop whose routes all move to one new gateway is replaced in place.
        // Such a nexthop has a route at a destination that wants this gateway, so only the nexthops of the owned routes
        // there are candidates (a scan of every owned nexthop per gateway is quadratic when many gateways change);
        // the lowest ID wins, as in ID order.
        for g in gateways where nexthopFor[g] == nil {
            let oif = gatewayInterface[g]!
            var candidateIDs = Set<UInt32>()
            for d in destinationsVia[g] ?? [] {
                for r in owned.routesByDestination[d] ?? [] { if let id = r.nexthopID { candidateIDs.insert(id) } }
            }
            let candidates = candidateIDs.sorted().compactMap { id in owned.nexthopByID[id].flatMap { owned.ownership.owns(nexthop: $0) ? $0 : nil } }
            let movable = candidates.first { n in
                guard !isUsed(n), !owned.foreignReferences.contains(n.id),
                      let old = n.gateway, old.family == g.family,
                      let routes = routesOn[n.id], !routes.isEmpty else { return false }
                return routes.allSatisfy { desiredByDestination[$0.destination] == g }
            }
            if let n = movable {
                nexthopFor[g] = n.id
                movedInStep2.insert(n.id)
                writes[KernelNexthop(id: n.id, gateway: g, outputInterface: oif, proto: policy.proto)] = true
            }
        }
        // 3. New nexthops: the lowest IDs of the range that no nexthop (of any owner) uses, in gateway order.
        guard gateways.contains(where: { nexthopFor[$0] == nil }) else { return }
        var taken = Set(owned.nexthopByID.keys)
        let range = policy.ownership.nexthopIDs
        var nextID = range.lowerBound
        for g in gateways where nexthopFor[g] == nil {
            while taken.contains(nextID) && nextID < range.upperBound { nextID += 1 }
            guard !taken.contains(nextID) else { break }   // range exhausted: classic routes for the rest
            taken.insert(nextID)
            nexthopFor[g] = nextID
            writes[KernelNexthop(id: nextID, gateway: g, outputInterface: gatewayInterface[g]!, proto: policy.proto)] = false
        }
    }
}
