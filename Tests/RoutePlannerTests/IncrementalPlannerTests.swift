import Model
import Testing
@testable import RoutePlanner

// MARK: - A cloud that changes router by router

/// A random cloud built to overlap: the same prefixes in many tenants, nested prefixes, a few creation times,
/// shared and off-link gateways, foreign routes, stale owned routes and nexthops; and random Neutron changes to it,
/// each as the RouterUpdates an agent would read after the notification.
struct ChangingCloud {
    var snapshot: CloudSnapshot
    var kernel: KernelView
    var policy: Policy
    var rng: SplitMix
    var serial = 0

    static let prefixes = [
        "10.0.0.0/24", "10.0.0.0/24", "10.0.0.0/24", "10.0.0.0/24", "10.0.0.0/16", "10.0.0.128/25", "10.0.0.0/25",
        "10.0.1.0/24", "10.1.0.0/24", "10.1.0.0/24", "10.0.0.0/8", "172.16.0.0/24", "192.168.1.0/24", "10.2.0.0/24",
        "10.99.0.0/24", "203.0.113.128/25", "fd00::/64", "fd00::/64", "fd00::/64", "fd00::/48", "fd00:0:0:1::/64",
        "fd00:1::/64", "2001:db8:0:1::/64",
    ]
    static let v4Gateways = ["203.0.113.10", "203.0.113.11", "203.0.113.20", "203.0.113.30", "203.0.113.10", "198.51.100.5", "203.0.113.1"]
    static let v6Gateways = ["2001:db8:0:1::10", "2001:db8:0:1::20", "2001:db8:99::1"]
    static let created = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-03", ""]

    mutating func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func fresh(_ prefix: String) -> String { serial += 1; return "\(prefix)\(serial)" }

    init(seed: UInt64) {
        rng = SplitMix(seed: seed)
        policy = Policy()
        snapshot = CloudSnapshot()
        kernel = KernelView()
        policy.useNexthopObjects = chance(0.75)
        if chance(0.15) { policy.allowedPrefixes = [pfx("0.0.0.0/0"), pfx("::/0")]; policy.minPrefixLengthV4 = 8; policy.minPrefixLengthV6 = 32 }
        if chance(0.1) { policy.protectedPrefixes = [pfx("10.0.1.0/24")] }
        if chance(0.1) { policy.requireSNATDisabled = true }
        if chance(0.1) { policy.addressScopeMode = true }
        if chance(0.1) { policy.externalNetworks = ["public"] }
        snapshot.subnets = [Subnet(id: "ext-v4", networkID: "ext", cidr: pfx("203.0.113.0/24")),
                            Subnet(id: "ext-v6", networkID: "ext", cidr: pfx("2001:db8:0:1::/64")),
                            Subnet(id: "far-v4", networkID: "far", cidr: pfx("198.51.100.0/24")),
                            Subnet(id: "far-v6", networkID: "far", cidr: pfx("2001:db8:99::/64"))]
        snapshot.networks = [Network(id: "ext", name: "public", isExternal: true, ipv4AddressScope: "as4", ipv6AddressScope: "as6"),
                             Network(id: "far", name: "far", isExternal: true),
                             Network(id: "tenant", ipv4AddressScope: "as4", ipv6AddressScope: "as6")]
        kernel.connected = [
            ConnectedNetwork(prefix: pfx("203.0.113.0/24"), address: ip("203.0.113.1"), interfaceIndex: 2, interfaceName: "ext0"),
            ConnectedNetwork(prefix: pfx("2001:db8:0:1::/64"), address: ip("2001:db8:0:1::1"), interfaceIndex: 2, interfaceName: "ext0"),
        ]
        if chance(0.4) {
            kernel.connected.append(ConnectedNetwork(prefix: pfx("10.99.0.0/24"), address: ip("10.99.0.5"), interfaceIndex: 3, interfaceName: "mgmt"))
        }
        if chance(0.2) {
            kernel.connected.append(ConnectedNetwork(prefix: pfx("203.0.113.0/28"), address: ip("203.0.113.2"), interfaceIndex: 4, interfaceName: "ext1"))
        }
        for _ in 0..<Int.random(in: 2...9, using: &rng) { addRouter() }

        // The kernel: foreign routes, our stale routes, nexthops in our range (some foreign, one used by a foreign route).
        let base = policy.nexthopIDBase
        for id in UInt32(1)...5 where chance(0.35) {
            kernel.nexthops.append(KernelNexthop(id: base + id, gateway: ip(pick(Array(Self.v4Gateways.prefix(4) + Self.v6Gateways.prefix(2)))),
                                                 outputInterface: 2, proto: chance(0.2) ? 4 : 200))
        }
        var keys = Set<String>()
        func add(_ r: KernelRoute) {
            if keys.insert("\(r.destination) \(r.table) \(effectiveMetric(r))").inserted { kernel.routes.append(r) }
        }
        for _ in 0..<Int.random(in: 0...2, using: &rng) {
            add(KernelRoute(destination: pfx(pick(["10.2.0.0/16", "192.168.1.0/24", "fd00:1::/64", "0.0.0.0/0", "10.7.0.0/16"])),
                            table: chance(0.8) ? 254 : 100, proto: pick([4, 16, 200]), gateway: ip("203.0.113.254"), outputInterface: 2))
        }
        if chance(0.3), let n = kernel.nexthops.first {
            add(KernelRoute(destination: pfx("192.168.77.0/24"), table: 254, proto: 4, nexthopID: n.id))
        }
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            let dest = pfx(pick(Self.prefixes))
            let nhs = kernel.nexthops.filter { $0.gateway?.family == dest.family }
            if chance(0.5), !nhs.isEmpty {
                add(KernelRoute(destination: dest, proto: 200, metric: dest.family == .v6 ? 1024 : nil, nexthopID: pick(nhs).id))
            } else {
                let gw = ip(dest.family == .v4 ? pick(Self.v4Gateways) : pick(Self.v6Gateways))
                add(KernelRoute(destination: dest, proto: 200, metric: dest.family == .v6 ? pick([1024, 1024, 77]) : pick([nil, nil, 5]),
                                gateway: gw, outputInterface: 2))
            }
        }
    }

    // MARK: Neutron changes (on `snapshot` directly; `step` turns them into updates)

    mutating func gateway(network: String? = nil) -> [ExternalGateway] {
        var fixed: [FixedIP] = []
        if chance(0.85) {
            let a = ip(pick(Self.v4Gateways))
            fixed.append(FixedIP(subnetID: a.description.hasPrefix("198") ? "far-v4" : "ext-v4", ipAddress: a))
        }
        if chance(0.5) {
            let a = ip(pick(Self.v6Gateways))
            fixed.append(FixedIP(subnetID: a.description.hasPrefix("2001:db8:99") ? "far-v6" : "ext-v6", ipAddress: a))
        }
        let net = network ?? (fixed.contains { $0.subnetID.hasPrefix("far") } ? "far" : "ext")
        return chance(0.92) ? [ExternalGateway(networkID: net, enableSNAT: pick([nil, true, false]), fixedIPs: fixed)] : []
    }

    mutating func newSubnet(around existing: IPPrefix? = nil) -> Subnet {
        var cidr = pfx(pick(Self.prefixes))
        if let e = existing {   // nested inside or around an existing prefix
            let length = max(e.family == .v4 ? 8 : 32, min(e.address.bitWidth, e.length + pick([-1, 1, 2])))
            cidr = IPPrefix(address: e.address, length: length)!
        }
        return Subnet(id: fresh("s"), networkID: "tenant", cidr: cidr, projectID: pick(["p1", "p2", ""]), createdAt: pick(Self.created))
    }

    mutating func attach(_ s: Subnet, to router: String) {
        if !snapshot.subnets.contains(where: { $0.id == s.id }) { snapshot.subnets.append(s) }
        let owner = chance(0.9) ? pick(RouterPort.interfaceOwners) : pick(["network:router_ha_interface", "network:router_centralized_snat"])
        snapshot.ports.append(RouterPort(id: fresh("port"), deviceID: router, deviceOwner: owner,
                                         fixedIPs: [FixedIP(subnetID: s.id, ipAddress: s.cidr.address)]))
    }

    @discardableResult
    mutating func addRouter() -> String {
        let id = fresh("r")
        let gws = gateway()
        snapshot.routers.append(Router(id: id, projectID: pick(["p1", "p2", "p3"]), adminStateUp: chance(0.92),
                                       tags: [], gateways: gws))
        for _ in 0..<Int.random(in: 0...3, using: &rng) {
            let tenantSubnets = snapshot.subnets.filter { $0.networkID == "tenant" }
            if chance(0.2), !tenantSubnets.isEmpty { attach(pick(tenantSubnets), to: id) } else { attach(newSubnet(), to: id) }
        }
        return id
    }

    var routerIDs: [String] { snapshot.routers.map(\.id) }

    /// One random change; returns the routers it touched and whether to drop a subnet from the update (Neutron lost it).
    mutating func change() -> (routers: [String], lose: Bool, kind: String) {
        let ids = routerIDs
        guard !ids.isEmpty else { return ([addRouter()], false, "add router") }
        let id = pick(ids)
        let i = snapshot.routers.firstIndex { $0.id == id }!
        switch Int.random(in: 0..<11, using: &rng) {
        case 0:
            return ([addRouter()], false, "add router")
        case 1:
            snapshot.routers.remove(at: i)
            snapshot.ports.removeAll { $0.deviceID == id }
            return ([id], false, "delete router")
        case 2:
            let tenantSubnets = snapshot.subnets.filter { $0.networkID == "tenant" }
            if chance(0.3), !tenantSubnets.isEmpty { attach(pick(tenantSubnets), to: id) } else { attach(newSubnet(), to: id) }
            return ([id], false, "add interface")
        case 3:
            let mine = snapshot.ports.indices.filter { snapshot.ports[$0].deviceID == id }
            if !mine.isEmpty { snapshot.ports.remove(at: pick(mine)) }
            return ([id], false, "remove interface")
        case 4:
            snapshot.routers[i].gateways = gateway()
            return ([id], false, "change gateway")
        case 5:
            if var g = snapshot.routers[i].gateways.first, let j = g.fixedIPs.firstIndex(where: { $0.ipAddress.family == .v4 }) {
                g.fixedIPs[j].ipAddress = ip(pick(Self.v4Gateways.filter { !$0.hasPrefix("198") }))
                g.fixedIPs[j].subnetID = "ext-v4"
                g.networkID = g.fixedIPs.contains { $0.subnetID.hasPrefix("far") } ? "far" : "ext"
                snapshot.routers[i].gateways[0] = g
            }
            return ([id], false, "change gateway address")
        case 6:
            snapshot.routers[i].adminStateUp.toggle()
            return ([id], false, "toggle admin state")
        case 7:   // a subnet nested inside or around one of the router's
            let mine = Set(snapshot.ports.filter { $0.deviceID == id }.flatMap { $0.fixedIPs.map(\.subnetID) })
            let around = snapshot.subnets.filter { mine.contains($0.id) && $0.networkID == "tenant" }
            attach(newSubnet(around: around.isEmpty ? nil : pick(around).cidr), to: id)
            return ([id], false, "nested subnet")
        case 8:   // created_at of one of its subnets changes (the order between tenants changes)
            let mine = Set(snapshot.ports.filter { $0.deviceID == id }.flatMap { $0.fixedIPs.map(\.subnetID) })
            if let j = snapshot.subnets.indices.filter({ mine.contains(snapshot.subnets[$0].id) && snapshot.subnets[$0].networkID == "tenant" }).first {
                snapshot.subnets[j].createdAt = pick(Self.created)
            }
            return ([id], false, "created_at")
        case 9:
            if chance(0.15) {   // a gateway on an external network nobody listed: only a full read can plan that
                snapshot.routers[i].gateways = [ExternalGateway(networkID: "ext-new", fixedIPs: [FixedIP(subnetID: "ext-v4", ipAddress: ip("203.0.113.77"))])]
                return ([id], false, "unknown external network")
            }
            return ([id], true, "lost subnet")
        default:   // several routers at once
            let other = pick(ids)
            snapshot.routers[i].gateways = gateway()
            let tenantSubnets = snapshot.subnets.filter { $0.networkID == "tenant" }
            if !tenantSubnets.isEmpty { attach(pick(tenantSubnets), to: other) }
            return ([id, other, addRouter()], false, "batch")
        }
    }
}

@Suite struct IncrementalPlannerProperties {
    /// Random clouds changed router by router; after every update the planner's routes and refusals are makePlan's
    /// for the changed cloud, and once the writes succeed, makePlan finds nothing left to do.
    @Test func everyUpdateIsExactlyWhatAFullPlanDecides() {
        var updates = 0, fallbacks = 0, convergedChecks = 0
        for seed in UInt64(0)..<400 {
            var world = ChangingCloud(seed: seed)
            var planner = IncrementalPlanner(snapshot: world.snapshot, kernel: world.kernel, policy: world.policy)
            #expect(planner.fullPlan == makePlan(snapshot: world.snapshot, kernel: world.kernel, policy: world.policy))
            var (kernel, results) = apply(planner.fullPlan.operations, to: world.kernel)
            planner.record(planner.fullPlan.operations, results: results)
            for step in 0..<12 {
                let (ids, lose, kind) = world.change()
                var batch = ids.map { updateFor($0, in: world.snapshot) }
                if lose, !batch[0].subnets.isEmpty { batch[0].subnets.removeFirst() }
                if world.chance(0.1), let stale = batch.first {   // an older read of the same router first: the last one counts
                    batch.insert(RouterUpdate(routerID: stale.routerID, router: nil, ports: [], subnets: []), at: 0)
                }
                let refusedBefore = Set(planner.refused)
                let delta = planner.update(batch)
                world.snapshot = fold(world.snapshot, batch)
                let context = "seed \(seed) step \(step) (\(kind))"
                let ops: [KernelOperation]
                if let delta {
                    updates += 1
                    ops = delta.operations
                    #expect(refusedBefore.subtracting(delta.withdrawnRefusals).union(delta.newRefusals) == Set(planner.refused), "\(context)")
                    #expect(refusedBefore.isSuperset(of: delta.withdrawnRefusals) && refusedBefore.isDisjoint(with: delta.newRefusals), "\(context)")
                    for op in ops {
                        switch op {
                        case .addRoute(let r), .replaceRoute(let r), .deleteRoute(let r):
                            #expect(r.proto == world.policy.proto && r.table == world.policy.table, "\(context)")
                        case .addNexthop(let n), .replaceNexthop(let n):
                            #expect(world.policy.ownership.owns(nexthop: n), "\(context)")
                            #expect(!kernel.routes.contains { !world.policy.ownership.owns(route: $0) && $0.nexthopID == n.id } || !op.isReplace, "\(context)")
                        case .deleteNexthop(let id):
                            #expect(!kernel.routes.contains { !world.policy.ownership.owns(route: $0) && $0.nexthopID == id }, "\(context)")
                        }
                    }
                } else {
                    fallbacks += 1
                    planner = IncrementalPlanner(snapshot: world.snapshot, kernel: kernel, policy: world.policy)
                    ops = planner.fullPlan.operations
                }
                // Now and then some writes fail; the next update must still converge.
                var failing = Set<Int>()
                if world.chance(0.2) { for i in ops.indices where world.chance(0.4) { failing.insert(i) } }
                (kernel, results) = apply(ops, to: kernel, failing: failing)
                planner.record(ops, results: results)

                let full = makePlan(snapshot: world.snapshot, kernel: kernel, policy: world.policy)
                #expect(planner.desired == full.desired, "\(context)")
                #expect(planner.refused == full.refused, "\(context)")
                #expect(planner.desiredCount == full.desired.count, "\(context)")
                let ownedDestinations = Set(kernel.routes.filter(world.policy.ownership.owns(route:)).map(\.destination))
                #expect(planner.ownedRouteCount == ownedDestinations.count, "\(context)")
                if failing.isEmpty {
                    convergedChecks += 1
                    #expect(results.allSatisfy { $0 }, "\(context): the kernel refused a planned write")
                    #expect(full.operations.isEmpty, "\(context): left \(full.summaries)")
                    #expect(orphanNexthops(kernel, world.policy).isEmpty, "\(context): orphan nexthops")
                }
            }
        }
        print("IncrementalPlannerProperties: \(updates) incremental updates, \(fallbacks) fallbacks to a full plan, \(convergedChecks) convergence checks")
        #expect(updates > 3000)
        #expect(fallbacks > 0)
    }

    /// `init` gives makePlan's plan, for the existing random scenarios too (their own shapes: shuffled input,
    /// duplicates, ghosts).
    @Test func initGivesExactlyMakePlansPlan() {
        for seed in UInt64(0)..<300 {
            var g = SplitMix(seed: seed)
            let s = Scenario.random(&g)
            let plan = s.plan()
            let planner = IncrementalPlanner(snapshot: s.snapshot, kernel: s.kernel, policy: s.policy)
            #expect(planner.fullPlan == plan, "seed \(seed)")
            #expect(planner.desired == plan.desired, "seed \(seed)")
            #expect(planner.refused == plan.refused, "seed \(seed)")
        }
    }
}

// MARK: - Table tests

@Suite struct IncrementalPlannerCases {
    /// A planner whose kernel holds exactly the full plan's result.
    static func converged(_ c: Cloud) -> (IncrementalPlanner, KernelView) {
        var planner = IncrementalPlanner(snapshot: c.snapshot, kernel: c.kernel, policy: c.policy)
        let (kernel, results) = apply(planner.fullPlan.operations, to: c.kernel)
        planner.record(planner.fullPlan.operations, results: results)
        return (planner, kernel)
    }

    /// Applies `change` to the cloud, updates the planner for `routers`, and checks the delta against makePlan:
    /// the same operations as a full plan of the changed cloud against the same kernel, and the same routes and refusals.
    static func step(_ c: inout Cloud, _ planner: inout IncrementalPlanner, _ kernel: inout KernelView, routers: [String],
                     _ change: (inout Cloud) -> Void) -> PlanDelta? {
        var changed = c
        change(&changed)
        let updates = routers.map { updateFor($0, in: changed.snapshot) }
        guard let delta = planner.update(updates) else { return nil }
        c.snapshot = fold(c.snapshot, updates)
        let full = makePlan(snapshot: c.snapshot, kernel: kernel, policy: c.policy)
        #expect(delta.operations == full.operations)
        #expect(delta.changes == full.changes)
        let (after, results) = apply(delta.operations, to: kernel)
        #expect(results.allSatisfy { $0 })
        planner.record(delta.operations, results: results)
        kernel = after
        c.kernel = after
        #expect(planner.desired == full.desired)
        #expect(planner.refused == full.refused)
        #expect(c.plan().isEmpty)
        return delta
    }

    @Test func anOlderSubnetArrivingTakesThePrefixAndTheYoungerOneIsRefused() throws {
        var c = Cloud()
        c.router("r1")
        c.subnet("s1", "10.1.0.0/24", router: "r1", created: Cloud.later)
        c.subnet("s3", "10.3.0.0/24", router: "r1")
        var (planner, kernel) = Self.converged(c)
        let deltaDelta = Self.step(&c, &planner, &kernel, routers: ["r2"]) { c in
            c.router("r2", gateways: ["203.0.113.20"])
            c.subnet("s2", "10.1.0.0/24", router: "r2", created: Cloud.early)
        }
        let delta = try #require(deltaDelta)
        #expect(delta.summaries == ["add nexthop \(nh2) via 203.0.113.20", "replace route 10.1.0.0/24 via nexthop \(nh2) table 254"])
        #expect(delta.newRefusals.map(\.reason) == [.conflictsWithOtherTenant])
        #expect(delta.newRefusals.first?.subnetID == "s1")
        #expect(delta.newRefusals.first?.lostTo?.subnetID == "s2")
        #expect(delta.withdrawnRefusals.isEmpty)
        #expect(planner.desired.first { $0.destination == pfx("10.1.0.0/24") }?.routerID == "r2")
    }

    @Test func aYoungerSubnetArrivingIsRefusedAndChangesNothing() throws {
        var c = Cloud()
        c.router("r1")
        c.subnet("s1", "10.1.0.0/24", router: "r1", created: Cloud.early)
        var (planner, kernel) = Self.converged(c)
        let deltaDelta = Self.step(&c, &planner, &kernel, routers: ["r2"]) { c in
            c.router("r2", gateways: ["203.0.113.20"])
            c.subnet("s2", "10.1.0.0/24", router: "r2", created: Cloud.later)
        }
        let delta = try #require(deltaDelta)
        #expect(delta.operations.isEmpty)
        #expect(delta.newRefusals.map(\.subnetID) == ["s2"])
    }

    @Test func deletingTheRouterThatWonAConflictHandsThePrefixToTheLoser() throws {
        var c = Cloud()
        c.router("r1")
        c.subnet("s1", "10.1.0.0/24", router: "r1", created: Cloud.early)
        c.router("r2", gateways: ["203.0.113.20"])
        c.subnet("s2", "10.1.0.0/24", router: "r2", created: Cloud.later)
        c.subnet("s4", "10.4.0.0/24", router: "r2")
        var (planner, kernel) = Self.converged(c)
        #expect(planner.refused.map(\.subnetID) == ["s2"])
        let deltaDelta = Self.step(&c, &planner, &kernel, routers: ["r1"]) { c in
            c.snapshot.routers.removeAll { $0.id == "r1" }
            c.snapshot.ports.removeAll { $0.deviceID == "r1" }
        }
        let delta = try #require(deltaDelta)
        #expect(delta.summaries == ["replace route 10.1.0.0/24 via nexthop \(nh2) table 254", "delete nexthop \(nh1)"])
        #expect(delta.withdrawnRefusals.map(\.subnetID) == ["s2"])
        #expect(delta.newRefusals.isEmpty)
        #expect(planner.refused.isEmpty)
    }

    @Test func aNestedPrefixLosesToAnOlderWiderOneAndAnOlderNestedOneWins() throws {
        var c = Cloud()
        c.router("r1")
        c.subnet("s1", "10.1.0.0/16", router: "r1", created: Cloud.later)
        c.router("r3", gateways: ["203.0.113.30"])
        c.subnet("s3", "10.9.0.0/24", router: "r3")
        var (planner, kernel) = Self.converged(c)
        // A younger /24 inside the /16, via another router: refused, the /16 stays.
        let youngerDelta = Self.step(&c, &planner, &kernel, routers: ["r2"]) { c in
            c.router("r2", gateways: ["203.0.113.20"])
            c.subnet("s2", "10.1.5.0/24", router: "r2", created: "2026-03-01T00:00:00Z")
        }
        let younger = try #require(youngerDelta)
        #expect(younger.operations.isEmpty)
        #expect(younger.newRefusals.map(\.subnetID) == ["s2"])
        // An older /24 inside it: wins and knocks the /16 out.
        let olderDelta = Self.step(&c, &planner, &kernel, routers: ["r4"]) { c in
            c.router("r4", gateways: ["203.0.113.40"])
            c.subnet("s5", "10.1.7.0/24", router: "r4", created: Cloud.early)
        }
        let older = try #require(olderDelta)
        // s2 lost to the /16 only: with the /16 refused now, nothing it overlaps is routed, so it gets its route too.
        #expect(older.changes.map(\.action) == [.add, .add, .delete])
        #expect(older.newRefusals.map(\.subnetID) == ["s1"])
        #expect(older.newRefusals.first?.lostTo?.subnetID == "s5")
        #expect(older.withdrawnRefusals.map(\.subnetID) == ["s2"])
        #expect(planner.desired.map(\.destination.description).contains("10.1.7.0/24"))
        #expect(!planner.desired.map(\.destination.description).contains("10.1.0.0/16"))
        #expect(older.affectedDestinations == 3)   // the /16 and both /24s inside it; 10.9.0.0/24 is not re-decided
    }

    @Test func aChangedGatewayIsOneNexthopReplaceInPlace() throws {
        var c = NexthopDiffTests.cloud()
        var (planner, kernel) = Self.converged(c)
        let deltaDelta = Self.step(&c, &planner, &kernel, routers: ["r1"]) { c in
            c.snapshot.routers[0].gateways[0].fixedIPs[0].ipAddress = ip("203.0.113.11")
        }
        let delta = try #require(deltaDelta)
        #expect(delta.operations == [.replaceNexthop(KernelNexthop(id: nh1, gateway: ip("203.0.113.11"), outputInterface: 2, proto: 200))])
        #expect(delta.changes.map(\.action) == [.replace, .replace])
    }

    @Test func anUpdateOfARouterNobodyKnewAndThatIsGoneChangesNothing() throws {
        var c = NexthopDiffTests.cloud()
        var (planner, _) = Self.converged(c)
        let deltaDelta = planner.update([RouterUpdate(routerID: "never-seen", router: nil, ports: [], subnets: [])])
        let delta = try #require(deltaDelta)
        #expect(delta == PlanDelta())
        c.router("r9", gateways: ["203.0.113.90"])   // a new router without interfaces: a refusal, no route
        let addedDelta = planner.update([updateFor("r9", in: c.snapshot)])
        let added = try #require(addedDelta)
        #expect(added.operations.isEmpty)
        #expect(added.newRefusals.map(\.reason) == [.routerWithoutInterfaces])
    }

    @Test func forSeveralUpdatesOfOneRouterInABatchTheLastCounts() throws {
        var c = NexthopDiffTests.cloud()
        var (planner, kernel) = Self.converged(c)
        var gone = c
        gone.snapshot.routers.removeAll { $0.id == "r2" }
        gone.snapshot.ports.removeAll { $0.deviceID == "r2" }
        var moved = c
        moved.snapshot.routers[1].gateways[0].fixedIPs[0].ipAddress = ip("203.0.113.21")
        let batch = [updateFor("r2", in: gone.snapshot), updateFor("r2", in: moved.snapshot)]
        let deltaDelta = planner.update(batch)
        let delta = try #require(deltaDelta)
        #expect(delta.operations == [.replaceNexthop(KernelNexthop(id: nh2, gateway: ip("203.0.113.21"), outputInterface: 2, proto: 200))])
        c.snapshot = fold(c.snapshot, batch)
        kernel = simulate(delta.operations, on: kernel)
        c.kernel = kernel
        #expect(c.plan().isEmpty)
    }

    @Test func aSubnetNeutronLostBecomesUnknownForEveryRouterThatNamesIt() throws {
        var c = NexthopDiffTests.cloud()
        c.snapshot.ports.append(RouterPort(id: "shared", deviceID: "r2", fixedIPs: [FixedIP(subnetID: "s1", ipAddress: ip("10.1.0.2"))]))
        var (planner, kernel) = Self.converged(c)
        var update = updateFor("r1", in: c.snapshot)
        update.subnets.removeAll { $0.id == "s1" }
        let deltaDelta = planner.update([update])
        let delta = try #require(deltaDelta)
        c.snapshot = fold(c.snapshot, [update])
        let full = makePlan(snapshot: c.snapshot, kernel: kernel, policy: c.policy)
        #expect(delta.operations == full.operations)
        #expect(Set(delta.newRefusals.map(\.routerID)) == ["r1", "r2"])
        #expect(delta.newRefusals.allSatisfy { $0.reason == .unknownSubnet })
        kernel = simulate(delta.operations, on: kernel)
        planner.record(delta.operations, results: delta.operations.map { _ in true })
        #expect(planner.refused == full.refused)
    }

    @Test func aChangeOfTheProtectedPrefixesIsLeftToAFullPlan() {
        var c = NexthopDiffTests.cloud()
        let (planner, _) = Self.converged(c)
        // A gateway on an external network the planner never saw.
        var p1 = planner
        var newNetwork = c
        newNetwork.snapshot.routers[0].gateways[0].networkID = "ext-new"
        let p1Delta = p1.update([updateFor("r1", in: newNetwork.snapshot)])
        #expect(p1Delta == nil)
        // An external subnet renumbered through an interface port on it.
        var p2 = planner
        c.snapshot.ports.append(RouterPort(deviceID: "r1", fixedIPs: [FixedIP(subnetID: "ext-v4", ipAddress: ip("203.0.113.99"))]))
        var update = updateFor("r1", in: c.snapshot)
        update.subnets = update.subnets.map { $0.id == "ext-v4" ? Subnet(id: "ext-v4", networkID: "ext", cidr: pfx("203.0.112.0/23")) : $0 }
        let p2Delta = p2.update([update])
        #expect(p2Delta == nil)
        #expect(p2.fullPlan == planner.fullPlan && p2.refused == planner.refused)   // nothing changed
    }

    @Test func aFailedWriteIsPlannedAgainByTheNextUpdate() throws {
        var c = NexthopDiffTests.cloud()
        var (planner, kernel) = Self.converged(c)
        c.router("r5", gateways: ["203.0.113.50"])
        c.subnet("s5", "10.5.0.0/24", router: "r5")
        let firstDelta = planner.update([updateFor("r5", in: c.snapshot)])
        let first = try #require(firstDelta)
        #expect(first.summaries == ["add nexthop \(nh3) via 203.0.113.50", "add route 10.5.0.0/24 via nexthop \(nh3) table 254"])
        // The route add fails: the nexthop exists, the route does not.
        let (after, results) = apply(first.operations, to: kernel, failing: [1])
        planner.record(first.operations, results: results)
        kernel = after
        // An unrelated update (r9 without interfaces) plans the route again.
        c.router("r9", gateways: ["203.0.113.90"])
        let secondDelta = planner.update([updateFor("r9", in: c.snapshot)])
        let second = try #require(secondDelta)
        #expect(second.summaries == ["add route 10.5.0.0/24 via nexthop \(nh3) table 254"])
        let (final, ok) = apply(second.operations, to: kernel)
        planner.record(second.operations, results: ok)
        c.kernel = final
        #expect(c.plan().isEmpty)
    }

    /// Thousands of tenants on 10.0.0.0/24: one component, re-decided whole, and nothing else.
    @Test func aLargeComponentIsReDecidedWithoutTouchingTheRestOfTheCloud() throws {
        var c = Cloud()
        for r in 0..<300 {
            c.router("r\(r)", gateways: ["203.0.113.\(10 + r % 200)"])
            c.subnet("s\(r)", "10.0.0.0/24", router: "r\(r)", created: "2026-01-01T\(1000 + (r * 37) % 300)")
            c.subnet("u\(r)", IPPrefix(address: IPAddress(v4: 0x0A64_0000 | UInt32(r) << 8), length: 24)!.description, router: "r\(r)")
        }
        var (planner, kernel) = Self.converged(c)
        let winner = try #require(planner.desired.first { $0.destination == pfx("10.0.0.0/24") })
        let deltaDelta = Self.step(&c, &planner, &kernel, routers: [winner.routerID]) { c in
            c.snapshot.routers.removeAll { $0.id == winner.routerID }
            c.snapshot.ports.removeAll { $0.deviceID == winner.routerID }
        }
        let delta = try #require(deltaDelta)
        #expect(delta.affectedDestinations == 2)   // 10.0.0.0/24 (300 candidates) and the router's own /24
        #expect(planner.desired.first { $0.destination == pfx("10.0.0.0/24") }?.routerID != winner.routerID)
    }

    /// The work of one update follows what the router touches: at 2,000 routers one router's change re-decides its own
    /// destinations only.
    @Test func oneRoutersChangeReDecidesOnlyItsOwnDestinations() throws {
        var c = Cloud()
        c.kernel.connected[0] = ConnectedNetwork(prefix: pfx("198.18.0.0/16"), address: ip("198.18.0.1"), interfaceIndex: 2)
        c.snapshot.subnets[0] = Subnet(id: "ext-v4", networkID: "ext", cidr: pfx("198.18.0.0/16"))
        for r in 0..<2000 {
            let gw = IPAddress(v4: 0xC612_0000 | UInt32(10 + r))
            c.snapshot.routers.append(Router(id: "r\(r)", gateways: [ExternalGateway(networkID: "ext", fixedIPs: [FixedIP(subnetID: "ext-v4", ipAddress: gw)])]))
            for s in 0..<3 {
                let cidr = IPPrefix(address: IPAddress(v4: 0x0A00_0000 | UInt32(r * 3 + s) << 8), length: 24)!
                c.snapshot.subnets.append(Subnet(id: "s\(r)-\(s)", cidr: cidr, createdAt: "2026-01-01"))
                c.snapshot.ports.append(RouterPort(deviceID: "r\(r)", fixedIPs: [FixedIP(subnetID: "s\(r)-\(s)", ipAddress: cidr.address)]))
            }
        }
        var (planner, kernel) = Self.converged(c)
        let deltaDelta = Self.step(&c, &planner, &kernel, routers: ["r77"]) { c in
            c.snapshot.ports.removeAll { $0.deviceID == "r77" && $0.fixedIPs[0].subnetID == "s77-1" }
        }
        let delta = try #require(deltaDelta)
        #expect(delta.affectedDestinations == 1)
        #expect(delta.summaries == ["delete route 10.0.232.0/24 table 254"])
    }
}

extension PlanDelta {
    var summaries: [String] { operations.map(\.summary) }
}
