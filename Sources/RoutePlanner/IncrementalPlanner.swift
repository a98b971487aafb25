import Model

/// What Neutron now says about one router, after a notification named it.
///
/// - `router`: nil when the router was deleted.
/// - `ports`: all its current ports (any device owner may appear; only `RouterPort.interfaceOwners` count, as in
///   `makePlan`; ports whose `deviceID` is not `routerID` are ignored).
/// - `subnets`: the subnets those interface ports name. Every subnet given replaces the planner's copy; a subnet an
///   interface port names that is missing here is taken as gone from Neutron (it becomes `unknown_subnet` for every
///   router that names it, as in a full read that did not list it).
public struct RouterUpdate: Sendable, Hashable {
    public var routerID: String
    public var router: Router?
    public var ports: [RouterPort]
    public var subnets: [Subnet]

    public init(routerID: String, router: Router?, ports: [RouterPort], subnets: [Subnet]) {
        self.routerID = routerID
        self.router = router
        self.ports = ports
        self.subnets = subnets
    }
}

/// What an `IncrementalPlanner.update` decided: the kernel writes for the destinations it re-decided, and how the
/// refusals moved.
public struct PlanDelta: Sendable, Hashable {
    /// Route-level changes, sorted, with the same meaning as `RoutePlan.changes`.
    public var changes: [PlannedChange]
    /// Kernel writes in apply order, with the same conventions as `RoutePlan.operations`.
    public var operations: [KernelOperation]
    /// Refusals that did not exist before this update, sorted.
    public var newRefusals: [Refusal]
    /// Refusals that no longer exist, sorted.
    public var withdrawnRefusals: [Refusal]
    /// How many destinations were re-decided (conflict resolution ran again over them), for logs.
    public var affectedDestinations: Int

    public init(changes: [PlannedChange] = [], operations: [KernelOperation] = [], newRefusals: [Refusal] = [],
                withdrawnRefusals: [Refusal] = [], affectedDestinations: Int = 0) {
        self.changes = changes
        self.operations = operations
        self.newRefusals = newRefusals
        self.withdrawnRefusals = withdrawnRefusals
        self.affectedDestinations = affectedDestinations
    }

    /// True when the kernel needs no write.
    public var isEmpty: Bool { operations.isEmpty }
}

/// The planner's state between reconciles, so that a notification about a few routers is planned in time
/// proportional to what those routers touch instead of the whole cloud — with exactly the result `makePlan` would
/// give for the whole cloud (see the README's "Incremental planning" for why).
///
/// ```swift
/// var planner = IncrementalPlanner(snapshot: snapshot, kernel: view, policy: policy)
/// let results = kernel.apply(planner.fullPlan.operations)         // then, always:
/// planner.record(planner.fullPlan.operations, results: results.map { $0 == nil })
/// // "routers r1, r2 changed": re-read them, then
/// if let delta = planner.update([RouterUpdate(routerID: "r1", router: r1, ports: ports1, subnets: subnets1), …]) {
///     planner.record(delta.operations, results: kernel.apply(delta.operations).map { $0 == nil })
/// } else {
///     // the protected prefixes would change: read Neutron in full and start a new planner
/// }
/// ```
///
/// The contract with the caller: every plan's or delta's operations are `record`ed (with their results) before
/// the next `update`; nothing else in the cloud changes than what the updates say; the kernel changes only by
/// the recorded writes (a change to foreign routes, foreign nexthops or connected networks needs a new planner).
public struct IncrementalPlanner: Sendable {
    /// The plan computed by `init`: equal to `makePlan(snapshot:kernel:policy:)` for the same inputs.
    public private(set) var fullPlan: RoutePlan

    private let policy: Policy
    private let ownership: Ownership
    /// The rule engine; its `subnets` are kept current (its router list and interface map are not used).
    private var rules: RefusalRules

    // MARK: The cloud
    private var routers: [String: RouterEntry] = [:]
    /// Subnet ID → the routers whose interface ports name it.
    private var subnetUsers: [String: [String]] = [:]
    /// Subnet ID → how many routers name it in a gateway (such subnets are protected).
    private var gatewaySubnetRefs: [String: Int] = [:]

    // MARK: Decisions
    private var candidates: [CandidateKey: Candidate] = [:]
    private var index: CandidateIndex
    private var conflictRefusals: [CandidateKey: Refusal] = [:]
    /// The accepted candidate's route per destination (conflict resolution accepts at most one per prefix).
    private var desiredAt: [IPPrefix: DesiredRoute] = [:]
    private var destinationsVia: [IPAddress: [IPPrefix]] = [:]

    // MARK: Nexthop objects: gateway ⇄ ID, and owned nexthops nobody wants (deleted by every delta until gone)
    private var nexthopFor: [IPAddress: UInt32] = [:]
    private var gatewayOfNexthop: [UInt32: IPAddress] = [:]
    private var orphans = Set<UInt32>()
    /// Every ID below `scanFrom` is taken, except those in `freedIDs` (sorted; some may be taken again).
    private var scanFrom: UInt32
    private var freedIDs: [UInt32] = []

    // MARK: The kernel as the recorded writes left it (owned routes; every nexthop)
    private var ownedRoutes: [IPPrefix: [KernelRoute]]
    private var nexthopByID: [UInt32: KernelNexthop]
    /// Owned nexthops by gateway, IDs ascending.
    private var ownedNexthopsVia: [IPAddress: [UInt32]] = [:]
    /// Nexthop ID → the destination of each owned route pointing at it.
    private var routesOn: [UInt32: [IPPrefix]] = [:]
    private let foreignReferences: Set<UInt32>

    // MARK: Convergence
    /// Destinations and gateways whose writes failed: planned again by the next update.
    private var dirtyDestinations = Set<IPPrefix>()
    private var dirtyGateways = Set<IPAddress>()
    /// The last plan's or delta's operations until they are recorded (if they never are, the next update plans
    /// their destinations and gateways again).
    private var unrecorded: [KernelOperation] = []

    struct RouterEntry: Sendable {
        var router: Router
        var subnetIDs: [String]
        var gatewaySubnetIDs: Set<String>
        var refusals: [Refusal] = []
        var candidates: [Candidate] = []
    }

    // MARK: - Full plan

    /// Plans from scratch (`fullPlan` equals `makePlan(snapshot:kernel:policy:)`) and indexes everything.
    public init(snapshot: CloudSnapshot, kernel: KernelView, policy: Policy) {
        let full = FullPlan(snapshot: snapshot, kernel: kernel, policy: policy)
        fullPlan = full.plan
        self.policy = policy
        ownership = policy.ownership
        rules = full.rules
        rules.routers = []
        rules.interfaceSubnets = [:]

        routers.reserveCapacity(full.rules.routers.count)
        subnetUsers.reserveCapacity(full.rules.subnets.count)
        candidates.reserveCapacity(full.candidates.count)
        desiredAt.reserveCapacity(full.accepted.count)
        for router in full.rules.routers {
            let ids = full.rules.interfaceSubnets[router.id] ?? []
            routers[router.id] = RouterEntry(router: router, subnetIDs: ids, gatewaySubnetIDs: [])
            for id in ids { subnetUsers[id, default: []].append(router.id) }
        }
        for r in snapshot.routers {   // every entry counts for the protected subnets, duplicates included
            for g in r.gateways { for ip in g.fixedIPs { routers[r.id]?.gatewaySubnetIDs.insert(ip.subnetID) } }
        }
        for entry in routers.values { for id in entry.gatewaySubnetIDs { gatewaySubnetRefs[id, default: 0] += 1 } }
        for r in full.checkRefusals { routers[r.routerID]?.refusals.append(r) }
        for c in full.candidates {
            routers[c.routerID]?.candidates.append(c)
            candidates[c.key] = c
        }
        index = CandidateIndex(full.candidates.map { ($0.subnet.cidr, $0.key) })
        for r in full.lost { conflictRefusals[CandidateKey(routerID: r.routerID, subnetID: r.subnetID ?? "")] = r }
        for c in full.accepted {
            let d = c.route
            desiredAt[d.destination] = d
            destinationsVia[d.nextHop, default: []].append(d.destination)
        }

        let owned = full.owned
        ownedRoutes = owned.routesByDestination
        nexthopByID = owned.nexthopByID
        foreignReferences = owned.foreignReferences
        for n in owned.nexthops { if let g = n.gateway { ownedNexthopsVia[g, default: []].append(n.id) } }
        for r in owned.routes { if let id = r.nexthopID { routesOn[id, default: []].append(r.destination) } }
        nexthopFor = full.nexthops.nexthopFor
        for (g, id) in nexthopFor { gatewayOfNexthop[id] = g }
        for n in owned.nexthops where gatewayOfNexthop[n.id] == nil && !foreignReferences.contains(n.id) {
            orphans.insert(n.id)
        }
        scanFrom = policy.ownership.nexthopIDs.lowerBound
        unrecorded = fullPlan.operations
    }

    /// Routes wanted now.
    public var desiredCount: Int { desiredAt.count }
    /// Destinations with an owned route in the planner's kernel state.
    public var ownedRouteCount: Int { ownedRoutes.count }
    /// Every current refusal, sorted like `RoutePlan.refused`.
    public var refused: [Refusal] {
        var all: [Refusal] = []
        for entry in routers.values { all += entry.refusals }
        all += conflictRefusals.values
        return Array(Set(all)).sorted()
    }
    /// Every wanted route, sorted.
    public var desired: [DesiredRoute] { desiredAt.values.sorted() }

    // MARK: - Incremental

    /// Plans only what `updates` change (for several updates of one router, the last one counts).
    ///
    /// Returns nil, changing nothing, when the change cannot be planned locally: a gateway names an external network
    /// or subnet the planner does not know, or the protected external subnets would change. Then read Neutron in full
    /// and start a new planner.
    public mutating func update(_ updates: [RouterUpdate]) -> PlanDelta? {
        var last: [String: Int] = [:]
        for (i, u) in updates.enumerated() { last[u.routerID] = i }
        let effective = updates.indices.filter { last[updates[$0].routerID] == $0 }.map { updates[$0] }

        // 1. The cloud after the batch, without changing anything yet.
        var subnetAfter: [String: Subnet?] = [:]
        var interfaceIDs: [String: [String]] = [:]
        var gatewayIDs: [String: Set<String>] = [:]
        for u in effective {
            var named = Set<String>()
            for p in u.ports where p.deviceID == u.routerID && RouterPort.interfaceOwners.contains(p.deviceOwner) {
                for ip in p.fixedIPs { named.insert(ip.subnetID) }
            }
            let given = uniqueByID(u.subnets, id: \.id)
            let givenIDs = Set(given.map(\.id))
            for s in given { subnetAfter[s.id] = .some(s) }
            for id in named where !givenIDs.contains(id) { subnetAfter[id] = .some(nil) }
            interfaceIDs[u.routerID] = named.sorted()
            var gw = Set<String>()
            for g in u.router?.gateways ?? [] { for ip in g.fixedIPs { gw.insert(ip.subnetID) } }
            gatewayIDs[u.routerID] = gw
        }
        func subnetAfterBatch(_ id: String) -> Subnet? {
            if let s = subnetAfter[id] { return s }
            return rules.subnets[id]
        }
        // 2. Refuse to plan locally what would change the protected prefixes.
        for u in effective {
            for g in u.router?.gateways ?? [] {
                guard rules.networks[g.networkID] != nil else { return nil }
                for ip in g.fixedIPs where subnetAfterBatch(ip.subnetID) == nil { return nil }
            }
        }
        var refsDelta: [String: Int] = [:]
        for u in effective {
            for id in routers[u.routerID]?.gatewaySubnetIDs ?? [] { refsDelta[id, default: 0] -= 1 }
            for id in gatewayIDs[u.routerID] ?? [] { refsDelta[id, default: 0] += 1 }
        }
        for id in Set(subnetAfter.keys).union(refsDelta.keys) {
            let refs = gatewaySubnetRefs[id, default: 0]
            let before = protectedEntry(rules.subnets[id], gatewayNamed: refs > 0)
            let after = protectedEntry(subnetAfterBatch(id), gatewayNamed: refs + refsDelta[id, default: 0] > 0)
            if before != after { return nil }
        }

        // 3. Apply the cloud change; collect the routers to judge again.
        var rejudge = Set<String>()
        var oldEntries: [String: RouterEntry] = [:]
        for (id, s) in subnetAfter where rules.subnets[id] != s {
            rules.subnets[id] = s
            for r in subnetUsers[id] ?? [] { rejudge.insert(r) }
        }
        for u in effective {
            rejudge.insert(u.routerID)
            if let old = routers[u.routerID] {
                oldEntries[u.routerID] = old
                for id in old.subnetIDs {
                    subnetUsers[id]?.removeAll { $0 == u.routerID }
                    if subnetUsers[id]?.isEmpty == true { subnetUsers[id] = nil }
                }
                for id in old.gatewaySubnetIDs {
                    gatewaySubnetRefs[id, default: 0] -= 1
                    if gatewaySubnetRefs[id] == 0 { gatewaySubnetRefs[id] = nil }
                }
                routers[u.routerID] = nil
            }
            guard let router = u.router else { continue }
            let ids = interfaceIDs[u.routerID] ?? []
            var entry = RouterEntry(router: router, subnetIDs: ids, gatewaySubnetIDs: gatewayIDs[u.routerID] ?? [])
            entry.refusals = oldEntries[u.routerID]?.refusals ?? []
            entry.candidates = oldEntries[u.routerID]?.candidates ?? []
            for id in ids where subnetUsers[id]?.contains(u.routerID) != true { subnetUsers[id, default: []].append(u.routerID) }
            for id in entry.gatewaySubnetIDs { gatewaySubnetRefs[id, default: 0] += 1 }
            routers[u.routerID] = entry
        }

        // 4. Judge those routers again: refusals and candidates that changed.
        var newRefusals: [Refusal] = [], withdrawn: [Refusal] = []
        var removed: [Candidate] = [], added: [Candidate] = []
        for id in rejudge.sorted() {
            let old = routers[id] ?? oldEntries[id]
            let (refusals, cands) = routers[id].map(judge) ?? ([], [])
            let oldRefusals = Set(old?.refusals ?? []), nowRefusals = Set(refusals)
            newRefusals += nowRefusals.subtracting(oldRefusals)
            withdrawn += oldRefusals.subtracting(nowRefusals)
            let oldCands = old?.candidates ?? []
            let nowByKey = Dictionary(cands.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            let oldByKey = Dictionary(oldCands.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            for c in oldCands where nowByKey[c.key] != c { removed.append(c) }
            for c in cands where oldByKey[c.key] != c { added.append(c) }
            routers[id]?.refusals = refusals
            routers[id]?.candidates = cands
        }
        for c in removed {
            index.remove(c.subnet.cidr, c.key)
            candidates[c.key] = nil
        }
        for c in added {
            index.insert(c.subnet.cidr, c.key)
            candidates[c.key] = c
        }

        // 5. Conflict resolution again over the overlap roots of every prefix that changed (see the README).
        let affected = Set(removed.map(\.subnet.cidr) + added.map(\.subnet.cidr))
        let affectedIndex = PrefixIndex(affected.map { ($0, ()) })
        var roots = Set<IPPrefix>()
        for a in affected {
            var root = index.shortestContaining(a) ?? a
            for (p, _) in affectedIndex.overlapping(a) where p.length < root.length && p.contains(a) { root = p }
            roots.insert(root)
        }
        var redecided = Set<IPPrefix>(affected)
        var insideRoots: [IPPrefix: [IPPrefix]] = [:]
        for root in roots {
            let inside = index.prefixes(inside: root)
            insideRoots[root] = inside
            redecided.formUnion(inside)
        }
        var oldConflicts: [Refusal] = [], nowConflicts: [Refusal] = []
        var nowAccepted: [IPPrefix: DesiredRoute] = [:]
        for p in redecided {
            for key in index.byPrefix[p] ?? [] {
                if let r = conflictRefusals.removeValue(forKey: key) { oldConflicts.append(r) }
            }
        }
        for c in removed {
            if let r = conflictRefusals.removeValue(forKey: c.key) { oldConflicts.append(r) }
        }
        for (_, inside) in insideRoots {
            var component: [Candidate] = []
            for p in inside { for key in index.byPrefix[p] ?? [] { component.append(candidates[key]!) } }
            let (accepted, lost) = resolveConflicts(component)
            for c in accepted { nowAccepted[c.subnet.cidr] = c.route }
            for r in lost {
                let key = CandidateKey(routerID: r.routerID, subnetID: r.subnetID ?? "")
                conflictRefusals[key] = r
                nowConflicts.append(r)
            }
        }
        let oldConflictSet = Set(oldConflicts), nowConflictSet = Set(nowConflicts)
        newRefusals += nowConflictSet.subtracting(oldConflictSet)
        withdrawn += oldConflictSet.subtracting(nowConflictSet)

        // 6. The desired routes that changed, and the gateways they leave or join.
        var diffSet = dirtyDestinations
        var gateways = dirtyGateways
        for op in unrecorded {   // never recorded: planned again
            switch op {
            case .addNexthop(let n), .replaceNexthop(let n): if let g = n.gateway { gateways.insert(g) }
            case .deleteNexthop: break
            case .addRoute(let s), .replaceRoute(let s), .deleteRoute(let s): diffSet.insert(s.destination)
            }
        }
        for p in redecided {   // every accepted destination, before and after, lies in a root
            let now = nowAccepted[p]
            let before = desiredAt[p]
            guard now != before else { continue }
            diffSet.insert(p)
            if let b = before {
                destinationsVia[b.nextHop]?.removeAll { $0 == p }
                if destinationsVia[b.nextHop]?.isEmpty == true { destinationsVia[b.nextHop] = nil }
                gateways.insert(b.nextHop)
            }
            if let n = now {
                destinationsVia[n.nextHop, default: []].append(p)
                gateways.insert(n.nextHop)
            }
            desiredAt[p] = now
        }

        // 7. Nexthop objects for the gateways that appeared, went or need a retry.
        var writes: [KernelNexthop: Bool] = [:]
        if policy.useNexthopObjects {
            let (w, rediff) = allocateNexthops(gateways)
            writes = w
            diffSet.formUnion(rediff)
        }

        // 8. The diff of those destinations only.
        let desiredHere = diffSet.compactMap { desiredAt[$0] }.sorted()
        let stale = diffSet.filter { desiredAt[$0] == nil && ownedRoutes[$0] != nil }
        let diff = RouteDiff(desired: desiredHere, stale: stale, routesByDestination: ownedRoutes,
                             nexthopByID: nexthopByID, nexthopFor: nexthopFor, nexthopWrites: writes,
                             nexthopDeletes: orphans.sorted(), policy: policy)
        dirtyDestinations = []
        dirtyGateways = []
        unrecorded = diff.operations
        return PlanDelta(changes: diff.changes, operations: diff.operations, newRefusals: newRefusals.sorted(),
                         withdrawnRefusals: withdrawn.sorted(), affectedDestinations: redecided.count)
    }

    /// The protected-prefix entry a subnet makes (as `RefusalRules` builds them), or nil.
    private func protectedEntry(_ s: Subnet?, gatewayNamed: Bool) -> ProtectedSubnet? {
        guard let s, gatewayNamed || rules.networks[s.networkID]?.isExternal == true else { return nil }
        return ProtectedSubnet(id: s.id, networkID: s.networkID, cidr: s.cidr)
    }

    private struct ProtectedSubnet: Hashable {
        var id: String
        var networkID: String
        var cidr: IPPrefix
    }

    /// A router's checks, as `makePlan` runs them.
    private func judge(_ entry: RouterEntry) -> ([Refusal], [Candidate]) {
        switch rules.judge(entry.router, interfaceSubnetIDs: entry.subnetIDs) {
        case .refused(let r):
            return ([r], [])
        case .selected(let gateways, let subnetIDs):
            var refusals: [Refusal] = [], cands: [Candidate] = []
            for id in subnetIDs {
                switch rules.judge(subnetID: id, subnet: rules.subnets[id], of: entry.router, gateways: gateways) {
                case .refused(let r): refusals.append(r)
                case .candidate(let c): cands.append(c)
                }
            }
            return (refusals, cands)
        }
    }

    // MARK: - Nexthop allocation

    /// `NexthopAllocation`'s rules for just these gateways: a gateway no route wants any more gives its nexthop up
    /// (deleted unless reused); a new one reuses an owned nexthop via it, else takes over in place an owned nexthop
    /// whose routes all move to it, else gets the lowest free ID. Returns the writes and the destinations to diff again
    /// (those whose gateway's nexthop changed or is written).
    private mutating func allocateNexthops(_ gateways: Set<IPAddress>) -> ([KernelNexthop: Bool], Set<IPPrefix>) {
        var writes: [KernelNexthop: Bool] = [:]
        var rediff = Set<IPPrefix>()
        var needs: [IPAddress] = []
        for g in gateways where destinationsVia[g] == nil && nexthopFor[g] != nil { unassign(g) }
        for g in gateways.sorted() {
            guard let routes = destinationsVia[g], let oif = interface(of: g) else { continue }
            guard let id = nexthopFor[g] else { needs.append(g); continue }
            let wanted = KernelNexthop(id: id, gateway: g, outputInterface: oif, proto: policy.proto)
            guard let now = nexthopByID[id] else { unassign(g); needs.append(g); continue }
            if now == wanted { continue }
            if foreignReferences.contains(id) || !ownership.owns(nexthop: now) { unassign(g); needs.append(g); continue }
            writes[wanted] = true
            rediff.formUnion(routes)
        }
        // 1. An owned nexthop already via this gateway.
        var rest: [IPAddress] = []
        for g in needs {
            let oif = interface(of: g)!
            let same = (ownedNexthopsVia[g] ?? []).filter { gatewayOfNexthop[$0] == nil }
            if let id = same.first(where: { nexthopByID[$0]?.outputInterface == oif }) {
                assign(g, id)
            } else if let id = same.first(where: { !foreignReferences.contains($0) }) {
                assign(g, id)
                writes[KernelNexthop(id: id, gateway: g, outputInterface: oif, proto: policy.proto)] = true
            } else {
                rest.append(g)
                continue
            }
            rediff.formUnion(destinationsVia[g] ?? [])
        }
        // 2. An owned nexthop whose routes all move to this gateway: replaced in place.
        var fresh: [IPAddress] = []
        for g in rest {
            let oif = interface(of: g)!
            let routes = destinationsVia[g] ?? []
            var ids = Set<UInt32>()
            for d in routes { for r in ownedRoutes[d] ?? [] { if let id = r.nexthopID { ids.insert(id) } } }
            let movable = ids.sorted().first { id in
                guard let n = nexthopByID[id], ownership.owns(nexthop: n), gatewayOfNexthop[id] == nil,
                      !foreignReferences.contains(id), let old = n.gateway, old.family == g.family,
                      let on = routesOn[id], !on.isEmpty else { return false }
                return on.allSatisfy { desiredAt[$0]?.nextHop == g }
            }
            guard let id = movable else { fresh.append(g); continue }
            assign(g, id)
            writes[KernelNexthop(id: id, gateway: g, outputInterface: oif, proto: policy.proto)] = true
            rediff.formUnion(routes)
        }
        // 3. The lowest free IDs of the range, in gateway order.
        let range = ownership.nexthopIDs
        for g in fresh {
            while let f = freedIDs.first, isTaken(f) { freedIDs.removeFirst() }
            while scanFrom < range.upperBound && isTaken(scanFrom) { scanFrom += 1 }
            let id: UInt32
            if let f = freedIDs.first, f < scanFrom {
                id = f
                freedIDs.removeFirst()
            } else if !isTaken(scanFrom) {
                id = scanFrom
            } else {
                continue   // range exhausted: classic routes
            }
            assign(g, id)
            writes[KernelNexthop(id: id, gateway: g, outputInterface: interface(of: g)!, proto: policy.proto)] = false
            rediff.formUnion(destinationsVia[g] ?? [])
        }
        return (writes, rediff)
    }

    private func interface(of g: IPAddress) -> Int32? {
        destinationsVia[g]?.first.flatMap { desiredAt[$0]?.outputInterface }
    }

    private func isTaken(_ id: UInt32) -> Bool { nexthopByID[id] != nil || gatewayOfNexthop[id] != nil }

    private mutating func assign(_ g: IPAddress, _ id: UInt32) {
        nexthopFor[g] = id
        gatewayOfNexthop[id] = g
        orphans.remove(id)
    }

    private mutating func unassign(_ g: IPAddress) {
        guard let id = nexthopFor.removeValue(forKey: g) else { return }
        gatewayOfNexthop[id] = nil
        refresh(id)
    }

    /// Whether an ID is an orphan (an owned nexthop no route wants and no foreign route uses), and whether it is free.
    private mutating func refresh(_ id: UInt32) {
        if let n = nexthopByID[id], ownership.owns(nexthop: n), gatewayOfNexthop[id] == nil, !foreignReferences.contains(id) {
            orphans.insert(id)
        } else {
            orphans.remove(id)
        }
        if !isTaken(id) && id < scanFrom {
            let i = freedIDs.firstIndex { $0 >= id } ?? freedIDs.endIndex
            if i == freedIDs.endIndex || freedIDs[i] != id { freedIDs.insert(id, at: i) }
        }
    }

    // MARK: - Recording writes

    /// After applying `operations` (a delta's, or `fullPlan`'s): `results[i]` true when operation i succeeded.
    /// Successful writes update the planner's kernel state; failed ones leave it as it was and are planned again
    /// by the next update.
    public mutating func record(_ operations: [KernelOperation], results: [Bool]) {
        unrecorded = []
        for (i, op) in operations.enumerated() {
            let ok = i < results.count && results[i]
            switch op {
            case .addNexthop(let n), .replaceNexthop(let n):
                if ok {
                    setNexthop(n)
                } else if let g = n.gateway {
                    dirtyGateways.insert(g)
                }
            case .deleteNexthop(let id):
                if ok { removeNexthop(id) }
            case .addRoute(let s), .replaceRoute(let s):
                if ok, let r = simulatedRoute(s) { putRoute(r, replacing: op.isReplace) } else { dirtyDestinations.insert(s.destination) }
            case .deleteRoute(let s):
                if ok { deleteRoute(s) } else { dirtyDestinations.insert(s.destination) }
            }
        }
    }

    private mutating func setNexthop(_ n: KernelNexthop) {
        if let old = nexthopByID[n.id], ownership.owns(nexthop: old), let g = old.gateway {
            ownedNexthopsVia[g]?.removeAll { $0 == n.id }
            if ownedNexthopsVia[g]?.isEmpty == true { ownedNexthopsVia[g] = nil }
        }
        nexthopByID[n.id] = n
        if ownership.owns(nexthop: n), let g = n.gateway {
            var ids = ownedNexthopsVia[g] ?? []
            let i = ids.firstIndex { $0 >= n.id } ?? ids.endIndex
            ids.insert(n.id, at: i)
            ownedNexthopsVia[g] = ids
        }
        refresh(n.id)
    }

    private mutating func removeNexthop(_ id: UInt32) {
        guard let old = nexthopByID.removeValue(forKey: id) else { return }
        if ownership.owns(nexthop: old), let g = old.gateway {
            ownedNexthopsVia[g]?.removeAll { $0 == id }
            if ownedNexthopsVia[g]?.isEmpty == true { ownedNexthopsVia[g] = nil }
        }
        // The kernel removes the routes that use a deleted nexthop.
        for d in Set(routesOn.removeValue(forKey: id) ?? []) {
            ownedRoutes[d]?.removeAll { $0.nexthopID == id }
            if ownedRoutes[d]?.isEmpty == true { ownedRoutes[d] = nil }
            dirtyDestinations.insert(d)
        }
        if let g = gatewayOfNexthop[id] {   // a nexthop still wanted went away: allocate again
            nexthopFor[g] = nil
            gatewayOfNexthop[id] = nil
            dirtyGateways.insert(g)
        }
        refresh(id)
    }

    /// An add (exclusive: a route with its key stays) or a replace (overwrites the route with its key), keyed like
    /// `simulate`: destination and effective metric (the table is always the policy's).
    private mutating func putRoute(_ r: KernelRoute, replacing: Bool) {
        var group = ownedRoutes[r.destination] ?? []
        let m = effectiveMetric(r)
        if let i = group.firstIndex(where: { effectiveMetric($0) == m }) {
            guard replacing else { return }
            unref(group[i])
            group[i] = r
        } else {
            group.append(r)
        }
        if let id = r.nexthopID { routesOn[id, default: []].append(r.destination) }
        group.sort(by: routeOrder)
        ownedRoutes[r.destination] = group
    }

    private mutating func deleteRoute(_ s: RouteSpec) {
        guard var group = ownedRoutes[s.destination] else { return }
        let wanted = s.metric.flatMap { $0 == 0 ? nil : effectiveMetric($0, s.destination.family) }
        let matching = group.indices.filter { group[$0].proto == s.proto && (wanted == nil || effectiveMetric(group[$0]) == wanted) }
        guard let i = matching.min(by: { routeOrder(group[$0], group[$1]) }) else { return }
        unref(group[i])
        group.remove(at: i)
        ownedRoutes[s.destination] = group.isEmpty ? nil : group
    }

    private mutating func unref(_ r: KernelRoute) {
        guard let id = r.nexthopID, let i = routesOn[id]?.firstIndex(of: r.destination) else { return }
        routesOn[id]!.remove(at: i)
        if routesOn[id]!.isEmpty { routesOn[id] = nil }
    }
}

extension Candidate {
    var key: CandidateKey { CandidateKey(routerID: routerID, subnetID: subnet.id) }
}

extension KernelOperation {
    var isReplace: Bool {
        switch self {
        case .replaceRoute, .replaceNexthop: return true
        default: return false
        }
    }
}
