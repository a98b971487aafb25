import Model

/// Something a tenant route must not overlap, with words for the refusal message.
struct Protected {
    var prefix: IPPrefix
    var what: String
}

/// The router's chosen gateway address of one family and the external network it sits on.
struct ChosenGateway {
    var address: IPAddress
    var networkID: String
}

/// The rule engine: every check a router and each of its subnets must pass to get a route, in order, the first
/// failure giving the refusal and its message (see the README's refusal reasons). Built once per plan from the
/// snapshot and kernel view, indexed order-independently (duplicates resolved deterministically).
struct RefusalRules: Sendable {
    let policy: Policy
    /// The three below are what the incremental planner replaces between reconciles; the rest stays fixed.
    var routers: [Router]                       // unique by ID, sorted by ID
    var subnets: [String: Subnet]
    let networks: [String: Network]
    var interfaceSubnets: [String: [String]]    // router ID → sorted unique subnet IDs of its interface ports
    /// The IDs of the subnets that are protected as external subnets (on an external network, or named by a gateway).
    let externalSubnetIDs: Set<String>
    let protected: PrefixIndex<Protected>
    let foreign: PrefixIndex<KernelRoute>
    let connected: [ConnectedNetwork]           // sorted

    init(snapshot: CloudSnapshot, kernel: KernelView, policy: Policy) {
        self.policy = policy
        routers = uniqueByID(snapshot.routers, id: \.id)
        subnets = uniqueDictionary(snapshot.subnets, id: \.id)
        networks = uniqueDictionary(snapshot.networks, id: \.id)

        // Arrays sorted and deduplicated once (a set per router costs more than its handful of IDs).
        var ifaces: [String: [String]] = [:]
        for port in snapshot.ports where RouterPort.interfaceOwners.contains(port.deviceOwner) {
            for ip in port.fixedIPs { ifaces[port.deviceID, default: []].append(ip.subnetID) }
        }
        interfaceSubnets = ifaces.mapValues { ids in
            guard ids.count > 1 else { return ids }
            var out: [String] = []
            for id in ids.sorted() where out.last != id { out.append(id) }
            return out
        }

        connected = kernel.connected.sorted { a, b in
            (a.prefix, a.interfaceIndex, a.address, a.interfaceName) < (b.prefix, b.interfaceIndex, b.address, b.interfaceName)
        }

        var prot: [(IPPrefix, Protected)] = []
        for c in connected {
            let name = c.interfaceName.isEmpty ? "interface \(c.interfaceIndex)" : c.interfaceName
            prot.append((c.prefix, Protected(prefix: c.prefix, what: "a network this host is connected to (\(name))")))
        }
        var externalSubnetIDs = Set<String>()
        for s in subnets.values where networks[s.networkID]?.isExternal == true { externalSubnetIDs.insert(s.id) }
        for r in snapshot.routers { for g in r.gateways { for ip in g.fixedIPs { externalSubnetIDs.insert(ip.subnetID) } } }
        for id in externalSubnetIDs {
            guard let s = subnets[id] else { continue }
            prot.append((s.cidr, Protected(prefix: s.cidr, what: "subnet \(s.id) of external network \(s.networkID)")))
        }
        let special: [(IPPrefix, String)] = [
            (.loopbackV4, "loopback"), (.loopbackV6, "loopback"),
            (.linkLocalV4, "link-local"), (.linkLocalV6, "link-local"),
            (.multicastV4, "multicast"), (.multicastV6, "multicast"),
            (.unspecifiedV4, "the unspecified address"), (.unspecifiedV6, "the unspecified address"),
            (.broadcastV4, "the broadcast address"),
        ]
        for (p, w) in special { prot.append((p, Protected(prefix: p, what: w))) }
        for p in policy.protectedPrefixes { prot.append((p, Protected(prefix: p, what: "a configured protected prefix"))) }
        protected = PrefixIndex(prot)
        self.externalSubnetIDs = externalSubnetIDs

        let ownership = policy.ownership
        // Duplicates do no harm here (only the smallest overlapping route is named), so no Set copy of every route.
        foreign = PrefixIndex(kernel.routes.lazy
            .filter { r in !ownership.owns(route: r) && !r.destination.isDefault }
            .map { ($0.destination, $0) })
    }

    // MARK: - Router level

    enum RouterVerdict {
        case refused(Refusal)
        case selected(gateways: [AddressFamily: ChosenGateway], subnetIDs: [String])
    }

    func judge(_ router: Router) -> RouterVerdict {
        judge(router, interfaceSubnetIDs: interfaceSubnets[router.id])
    }

    /// The router-level checks with the router's interface subnet IDs (sorted, unique) given explicitly.
    func judge(_ router: Router, interfaceSubnetIDs: [String]?) -> RouterVerdict {
        func refuse(_ reason: RefusalReason, _ message: String) -> RouterVerdict {
            .refused(Refusal(reason: reason, routerID: router.id, projectID: router.projectID, message: message))
        }
        var r: String { "Router \(router.id)\(router.name.isEmpty ? "" : " (\(router.name))")" }   // only for a refusal
        if !policy.projects.isEmpty && !policy.projects.contains(router.projectID) {
            return refuse(.notSelected, "\(r) belongs to project \(router.projectID.isEmpty ? "(none)" : router.projectID), which is not among the selected projects; add it to the project list if its subnets should be routed.")
        }
        if !policy.routerTags.isEmpty && !router.tags.contains(where: policy.routerTags.contains) {
            return refuse(.notSelected, "\(r) carries none of the selected router tags (\(policy.routerTags.joined(separator: ", "))); tag the router (openstack router set --tag TAG) if its subnets should be routed.")
        }
        if !router.adminStateUp {
            return refuse(.routerDisabled, "\(r) is administratively down and forwards nothing, so routing to it would drop traffic; enable it (openstack router set --enable) if its subnets should be reachable.")
        }
        let withAddresses = router.gateways.filter { !$0.fixedIPs.isEmpty }
        if withAddresses.isEmpty {
            return refuse(.routerWithoutGateway, "\(r) has no external gateway address, so there is no next hop for its subnets; set an external gateway (openstack router set --external-gateway NETWORK) if they should be reachable from this host.")
        }
        let selected = withAddresses.filter(isSelectedNetwork)
        if selected.isEmpty {
            let nets = Set(withAddresses.map(\.networkID)).sorted().joined(separator: ", ")
            return refuse(.notSelected, "\(r) has its gateway on external network \(nets), which is not among the selected external networks; add that network to the selection if this host should route to it.")
        }
        if policy.requireSNATDisabled && !selected.allSatisfy({ $0.enableSNAT == false }) {
            return refuse(.notSelected, "\(r) has SNAT enabled (or not reported) on its gateway while only routers with SNAT disabled are selected; disable SNAT (openstack router set --disable-snat) or turn off the SNAT requirement.")
        }
        guard let subnetIDs = interfaceSubnetIDs, !subnetIDs.isEmpty else {
            return refuse(.routerWithoutInterfaces, "\(r) has a gateway but no interface ports, so it has no tenant subnets to route; add a subnet to it (openstack router add subnet) if that is unexpected.")
        }
        // Per family, a gateway address this host can use as a next hop comes first (a multihomed router with one
        // gateway on a network this host is not on still gets its routes), then the lowest address.
        var chosen: [AddressFamily: ChosenGateway] = [:]
        func rank(_ c: ChosenGateway) -> (Int, IPAddress, String) { (isUsableNextHop(c.address) ? 0 : 1, c.address, c.networkID) }
        for g in selected {
            for ip in g.fixedIPs {
                let c = ChosenGateway(address: ip.ipAddress, networkID: g.networkID)
                if let old = chosen[ip.ipAddress.family], rank(old) <= rank(c) { continue }
                chosen[ip.ipAddress.family] = c
            }
        }
        return .selected(gateways: chosen, subnetIDs: subnetIDs)
    }

    /// Why a router's gateway address cannot be a next hop on this host although it may lie on a connected
    /// network, or nil: the host's own address, loopback, unspecified, multicast, link-local (it needs an
    /// interface Neutron does not name), or the network or IPv4 broadcast address of the connected network.
    func unusableNextHop(_ nh: IPAddress) -> String? {
        if let own = connected.first(where: { $0.address == nh }) {
            return "an address of this host itself (\(own.interfaceName.isEmpty ? "interface \(own.interfaceIndex)" : own.interfaceName))"
        }
        if let (_, what) = Self.unusableRanges.first(where: { $0.0.contains(nh) }) { return what }
        for c in connected where c.prefix.contains(nh) && c.prefix.length <= nh.bitWidth - 2 {
            if nh == c.prefix.address { return "the network address of \(c.prefix)" }
            if nh.family == .v4, nh.low == c.prefix.address.low | ((UInt64(1) << UInt64(32 - c.prefix.length)) - 1) {
                return "the broadcast address of \(c.prefix)"
            }
        }
        return nil
    }

    private static let unusableRanges: [(IPPrefix, String)] = [
        (.loopbackV4, "a loopback address"), (.loopbackV6, "a loopback address"),
        (.unspecifiedV4, "the unspecified address"), (.unspecifiedV6, "the unspecified address"),
        (.multicastV4, "a multicast address"), (.multicastV6, "a multicast address"),
        (.broadcastV4, "the broadcast address"),
        (.linkLocalV4, "a link-local address"), (.linkLocalV6, "a link-local address"),
    ]

    /// Whether this host can route via `nh`: a usable address on a connected network.
    func isUsableNextHop(_ nh: IPAddress) -> Bool {
        unusableNextHop(nh) == nil && connected.contains { $0.prefix.contains(nh) }
    }

    func isSelectedNetwork(_ g: ExternalGateway) -> Bool {
        if policy.externalNetworks.isEmpty { return true }
        if policy.externalNetworks.contains(g.networkID) { return true }
        if let name = networks[g.networkID]?.name, !name.isEmpty, policy.externalNetworks.contains(name) { return true }
        return false
    }

    // MARK: - Subnet level

    enum SubnetVerdict {
        case refused(Refusal)
        case candidate(Candidate)
    }

    func judge(subnetID: String, of router: Router, gateways: [AddressFamily: ChosenGateway]) -> SubnetVerdict {
        judge(subnetID: subnetID, subnet: subnets[subnetID], of: router, gateways: gateways)
    }

    /// The subnet-level checks with the subnet given explicitly (nil: Neutron did not list it).
    func judge(subnetID: String, subnet: Subnet?, of router: Router, gateways: [AddressFamily: ChosenGateway]) -> SubnetVerdict {
        guard let subnet else {
            return .refused(Refusal(reason: .unknownSubnet, routerID: router.id, subnetID: subnetID, projectID: router.projectID,
                                    message: "Router \(router.id) has an interface on subnet \(subnetID), which Neutron did not list; make sure the agent's credentials can list every subnet (an admin or reader role across projects)."))
        }
        let project = subnet.projectID.isEmpty ? router.projectID : subnet.projectID
        let cidr = subnet.cidr
        var s: String { "Subnet \(subnet.id) (\(cidr)) on router \(router.id)" }   // only for a refusal
        func refuse(_ reason: RefusalReason, _ nextHop: IPAddress?, _ message: String) -> SubnetVerdict {
            .refused(Refusal(reason: reason, destination: cidr, nextHop: nextHop, routerID: router.id, subnetID: subnet.id,
                             projectID: project, message: message))
        }
        guard let gw = gateways[cidr.family] else {
            return refuse(.noGatewayForFamily, nil, "\(s) is \(cidr.family), but the router has no \(cidr.family) gateway address on a selected external network; give the router's gateway an \(cidr.family) address if this subnet should be routed.")
        }
        let nh = gw.address
        if policy.addressScopeMode {
            let mine = networks[subnet.networkID]?.addressScope(cidr.family)
            let theirs = networks[gw.networkID]?.addressScope(cidr.family)
            if mine == nil || theirs == nil || mine != theirs {
                return refuse(.addressScopeMismatch, nh, "\(s) is in \(cidr.family) address scope \(mine ?? "(none)") but external network \(gw.networkID) is in \(theirs ?? "(none)"); only subnets in the external network's address scope are routed — allocate the subnet from a subnet pool of that scope, or turn off address-scope mode.")
            }
        }
        if !policy.allowedPrefixes.contains(where: { $0.contains(cidr) }) {
            let allowed = policy.allowedPrefixes.filter { $0.family == cidr.family }.map(\.description).joined(separator: ", ")
            return refuse(.outsideAllowedPrefixes, nh, "\(s) lies outside the allowed prefixes (\(allowed.isEmpty ? "none for \(cidr.family)" : allowed)); add a covering allowed prefix if this range should be routed.")
        }
        let minLength = policy.minPrefixLength(cidr.family)
        if cidr.length < minLength {
            return refuse(.prefixTooShort, nh, "\(s) is a /\(cidr.length), wider than the minimum /\(minLength) for \(cidr.family); lower the minimum prefix length if such a wide prefix should be routed.")
        }
        var p: Protected?
        protected.forEachOverlapping(cidr) { _, c in
            if p == nil || (c.prefix, c.what) < (p!.prefix, p!.what) { p = c }
        }
        if let p {
            return refuse(.overlapsProtectedPrefix, nh, "\(s) overlaps \(p.prefix), \(p.what); a route for it would take over traffic this host needs, so renumber the subnet (or, for a configured prefix, remove it from the protected list).")
        }
        var f: KernelRoute?
        foreign.forEachOverlapping(cidr) { _, r in
            if f == nil || routeOrder(r, f!) { f = r }
        }
        if let f {
            return refuse(.overlapsForeignRoute, nh, "\(s) overlaps the route \(f.destination) (protocol \(f.proto), table \(f.table)) that the agent does not own; the agent never takes over foreign routes, so remove that route or renumber the subnet.")
        }
        if let what = unusableNextHop(nh) {
            return refuse(.nextHopNotConnected, nh, "\(s) has next hop \(nh) (the router's gateway on network \(gw.networkID)), which is \(what), not a neighbour's address on a connected network; a route via it would fail or send the subnet's traffic nowhere, so correct the router's gateway address.")
        }
        var link: ConnectedNetwork?
        for c in connected where c.prefix.contains(nh) {
            if let l = link, !((c.prefix.length, l.interfaceIndex) > (l.prefix.length, c.interfaceIndex)) { continue }
            link = c
        }
        guard let link else {
            return refuse(.nextHopNotConnected, nh, "\(s) has next hop \(nh) (the router's gateway on network \(gw.networkID)), which is on no network this host is directly connected to; connect the host to that external network or select another one.")
        }
        return .candidate(Candidate(subnet: subnet, routerID: router.id, projectID: project, nextHop: nh,
                                    outputInterface: link.interfaceIndex))
    }
}

/// Deduplicates by ID; among entries with the same ID, the one with the smallest description wins
/// (any fixed choice would do: it only has to ignore the input order). Sorted by ID.
func uniqueByID<T>(_ items: [T], id: (T) -> String) -> [T] {
    let best = uniqueDictionary(items, id: id)
    return best.keys.sorted().map { best[$0]! }
}

/// `uniqueByID` as a dictionary by ID (no sorting).
func uniqueDictionary<T>(_ items: [T], id: (T) -> String) -> [String: T] {
    var best: [String: T] = Dictionary(minimumCapacity: items.count)
    for item in items {
        let key = id(item)
        if let old = best[key], String(describing: old) <= String(describing: item) { continue }
        best[key] = item
    }
    return best
}
