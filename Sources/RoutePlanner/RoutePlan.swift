import Model

/// A route the agent wants in the kernel: a tenant subnet via its router's gateway address.
public struct DesiredRoute: Hashable, Sendable, Codable, Comparable {
    public var destination: IPPrefix
    public var nextHop: IPAddress
    public var routerID: String
    public var subnetID: String
    /// The subnet's project (the router's when the subnet names none).
    public var projectID: String
    /// The interface of the connected network the next hop lies on.
    public var outputInterface: Int32

    public init(destination: IPPrefix, nextHop: IPAddress, routerID: String, subnetID: String,
                projectID: String, outputInterface: Int32) {
        self.destination = destination
        self.nextHop = nextHop
        self.routerID = routerID
        self.subnetID = subnetID
        self.projectID = projectID
        self.outputInterface = outputInterface
    }

    public static func < (a: DesiredRoute, b: DesiredRoute) -> Bool {
        if a.destination != b.destination { return a.destination < b.destination }
        if a.nextHop != b.nextHop { return a.nextHop < b.nextHop }
        if a.routerID != b.routerID { return a.routerID < b.routerID }
        if a.subnetID != b.subnetID { return a.subnetID < b.subnetID }
        if a.projectID != b.projectID { return a.projectID < b.projectID }
        return a.outputInterface < b.outputInterface
    }
}

/// Why a router or a subnet gets no route. Raw values are stable (logs, metrics labels, JSON);
/// each is explained, with what the operator can do, in `Sources/RoutePlanner/README.md`.
public enum RefusalReason: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    /// The router is not selected by `externalNetworks`, `projects`, `routerTags` or `requireSNATDisabled`.
    case notSelected = "not_selected"
    /// `admin_state_up` is false: a disabled router forwards nothing.
    case routerDisabled = "router_disabled"
    /// The router has no external gateway address at all.
    case routerWithoutGateway = "router_without_gateway"
    /// The router has a gateway but no interface ports (no tenant subnets).
    case routerWithoutInterfaces = "router_without_interfaces"
    /// An interface port names a subnet the snapshot does not contain.
    case unknownSubnet = "unknown_subnet"
    /// The router has no gateway address of the subnet's family on the selected external networks.
    case noGatewayForFamily = "no_gateway_for_family"
    /// Address-scope mode: the subnet's address scope differs from the external network's.
    case addressScopeMismatch = "address_scope_mismatch"
    /// The subnet lies outside every allowed prefix.
    case outsideAllowedPrefixes = "outside_allowed_prefixes"
    /// The subnet is wider than the minimum prefix length allows.
    case prefixTooShort = "prefix_too_short"
    /// The subnet overlaps a protected prefix (connected network, external subnet, special range, configured).
    case overlapsProtectedPrefix = "overlaps_protected_prefix"
    /// The subnet overlaps a route the agent does not own (default routes excepted).
    case overlapsForeignRoute = "overlaps_foreign_route"
    /// The router's gateway address is not on a network this host is connected to.
    case nextHopNotConnected = "next_hop_not_connected"
    /// The subnet overlaps an earlier-created subnet that is routed via a different next hop.
    case conflictsWithOtherTenant = "conflicts_with_other_tenant"

    /// One line: what the reason means.
    public var explanation: String {
        switch self {
        case .notSelected: return "the router is excluded by the external network, project, tag or SNAT selection"
        case .routerDisabled: return "the router is administratively down and forwards nothing"
        case .routerWithoutGateway: return "the router has no external gateway address to route to"
        case .routerWithoutInterfaces: return "the router has no interface ports, so no tenant subnets"
        case .unknownSubnet: return "an interface port names a subnet that Neutron did not list"
        case .noGatewayForFamily: return "the router has no gateway address of the subnet's IP version"
        case .addressScopeMismatch: return "the subnet's address scope differs from the external network's"
        case .outsideAllowedPrefixes: return "the subnet lies outside the allowed prefixes"
        case .prefixTooShort: return "the subnet is wider than the minimum prefix length"
        case .overlapsProtectedPrefix: return "the subnet overlaps a protected prefix"
        case .overlapsForeignRoute: return "the subnet overlaps a route that another program or the operator installed"
        case .nextHopNotConnected: return "the router's gateway address is not on a network this host is connected to"
        case .conflictsWithOtherTenant: return "the subnet overlaps an earlier subnet routed via another next hop"
        }
    }

    public static func < (a: RefusalReason, b: RefusalReason) -> Bool { a.rawValue < b.rawValue }
}

/// The route that won an overlap: the earlier subnet and its router.
public struct Conflict: Hashable, Sendable, Codable, Comparable {
    public var subnetID: String
    public var routerID: String
    public var destination: IPPrefix
    public var nextHop: IPAddress

    public init(subnetID: String, routerID: String, destination: IPPrefix, nextHop: IPAddress) {
        self.subnetID = subnetID
        self.routerID = routerID
        self.destination = destination
        self.nextHop = nextHop
    }

    public static func < (a: Conflict, b: Conflict) -> Bool {
        if a.subnetID != b.subnetID { return a.subnetID < b.subnetID }
        if a.routerID != b.routerID { return a.routerID < b.routerID }
        if a.destination != b.destination { return a.destination < b.destination }
        return a.nextHop < b.nextHop
    }
}

/// A router or subnet that gets no route, with the reason and a sentence for the operator.
/// Router-level refusals (`not_selected`, `router_*`) have no subnet, destination or next hop.
public struct Refusal: Hashable, Sendable, Codable, Comparable {
    public var reason: RefusalReason
    public var destination: IPPrefix?
    public var nextHop: IPAddress?
    public var routerID: String
    public var subnetID: String?
    public var projectID: String
    /// What happened and what to do about it, in one or two sentences.
    public var message: String
    /// For `conflicts_with_other_tenant`: the route that keeps the prefix.
    public var lostTo: Conflict?

    public init(reason: RefusalReason, destination: IPPrefix? = nil, nextHop: IPAddress? = nil, routerID: String,
                subnetID: String? = nil, projectID: String, message: String, lostTo: Conflict? = nil) {
        self.reason = reason
        self.destination = destination
        self.nextHop = nextHop
        self.routerID = routerID
        self.subnetID = subnetID
        self.projectID = projectID
        self.message = message
        self.lostTo = lostTo
    }

    /// Router first, then subnet, then destination, then reason: a router's refusals stay together.
    public static func < (a: Refusal, b: Refusal) -> Bool {
        if a.routerID != b.routerID { return a.routerID < b.routerID }
        if a.subnetID != b.subnetID { return lessOptional(a.subnetID, b.subnetID) }
        if a.destination != b.destination { return lessOptional(a.destination, b.destination) }
        if a.reason != b.reason { return a.reason < b.reason }
        if a.nextHop != b.nextHop { return lessOptional(a.nextHop, b.nextHop) }
        if a.projectID != b.projectID { return a.projectID < b.projectID }
        if a.message != b.message { return a.message < b.message }
        return lessOptional(a.lostTo, b.lostTo)
    }
}

/// One route-level change, for reports: what happens to a destination.
public struct PlannedChange: Hashable, Sendable, Codable, Comparable {
    public enum Action: String, Hashable, Sendable, Codable, Comparable {
        case add, replace, delete

        var rank: Int { self == .add ? 0 : self == .replace ? 1 : 2 }
        public static func < (a: Action, b: Action) -> Bool { a.rank < b.rank }
    }

    public var action: Action
    public var destination: IPPrefix
    /// The next hop after the change (nil for a delete).
    public var nextHop: IPAddress?
    /// The next hop before the change (nil for an add, or when the kernel did not say).
    public var previousNextHop: IPAddress?
    public var routerID: String?
    public var subnetID: String?

    public init(action: Action, destination: IPPrefix, nextHop: IPAddress? = nil, previousNextHop: IPAddress? = nil,
                routerID: String? = nil, subnetID: String? = nil) {
        self.action = action
        self.destination = destination
        self.nextHop = nextHop
        self.previousNextHop = previousNextHop
        self.routerID = routerID
        self.subnetID = subnetID
    }

    public static func < (a: PlannedChange, b: PlannedChange) -> Bool {
        if a.action != b.action { return a.action < b.action }
        if a.destination != b.destination { return a.destination < b.destination }
        if a.nextHop != b.nextHop { return lessOptional(a.nextHop, b.nextHop) }
        if a.previousNextHop != b.previousNextHop { return lessOptional(a.previousNextHop, b.previousNextHop) }
        if a.routerID != b.routerID { return lessOptional(a.routerID, b.routerID) }
        return lessOptional(a.subnetID, b.subnetID)
    }
}

/// The outcome of planning: the routes wanted, the refusals, and the kernel writes that get there.
public struct RoutePlan: Hashable, Sendable, Codable {
    /// Routes that should exist, sorted.
    public var desired: [DesiredRoute]
    /// Routers and subnets without a route, sorted.
    public var refused: [Refusal]
    /// Route-level changes for reports, sorted by action (add, replace, delete) then destination.
    public var changes: [PlannedChange]
    /// Kernel writes in apply order: nexthop add/replace, route add, route replace, route delete, nexthop delete.
    public var operations: [KernelOperation]

    public init(desired: [DesiredRoute] = [], refused: [Refusal] = [], changes: [PlannedChange] = [],
                operations: [KernelOperation] = []) {
        self.desired = desired
        self.refused = refused
        self.changes = changes
        self.operations = operations
    }

    /// True when the kernel already matches: nothing to write.
    public var isEmpty: Bool { operations.isEmpty }
}

/// nil sorts first.
func lessOptional<T: Comparable>(_ a: T?, _ b: T?) -> Bool {
    switch (a, b) {
    case (nil, nil): return false
    case (nil, _): return true
    case (_, nil): return false
    case let (x?, y?): return x < y
    }
}
