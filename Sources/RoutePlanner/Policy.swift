import Model

/// What the agent may route and how it writes routes: ownership (protocol, table), the safety limits
/// (allowed prefixes, minimum lengths, protected prefixes) and the optional selection of routers.
///
/// ```swift
/// var policy = Policy()                       // protocol 200, table main, private ranges only
/// policy.externalNetworks = ["public"]        // only routers with a gateway on "public"
/// policy.useNexthopObjects = false            // classic `via` routes (kernels before 5.3)
/// ```
public struct Policy: Hashable, Sendable, Encodable {
    /// The route protocol number that marks the agent's routes and nexthops (`rtm_protocol`, `nh_protocol`).
    public var proto: UInt8
    /// The routing table the agent writes (254 = main).
    public var table: UInt32
    /// A route is planned only when its destination lies inside one of these.
    public var allowedPrefixes: [IPPrefix]
    public var minPrefixLengthV4: Int
    public var minPrefixLengthV6: Int
    /// Extra prefixes no route may overlap (besides connected networks, external subnets and special ranges).
    public var protectedPrefixes: [IPPrefix]
    /// External networks, by ID or name, whose gateways count; empty means all.
    public var externalNetworks: [String]
    /// Router project IDs to route; empty means all.
    public var projects: [String]
    /// A router must carry at least one of these tags (any-of); empty means all.
    public var routerTags: [String]
    /// Route only routers whose selected gateways all have SNAT explicitly disabled.
    public var requireSNATDisabled: Bool
    /// Route a subnet only when its network's address scope equals the external network's (same family).
    public var addressScopeMode: Bool
    /// Write one kernel nexthop object per gateway and point routes at it (Linux 5.3+); false: classic `via` routes.
    public var useNexthopObjects: Bool

    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 and fc00::/7.
    public static let defaultAllowedPrefixes: [IPPrefix] = [
        IPPrefix("10.0.0.0/8")!, IPPrefix("172.16.0.0/12")!, IPPrefix("192.168.0.0/16")!,
        IPPrefix("100.64.0.0/10")!, IPPrefix("fc00::/7")!,
    ]

    /// What the agent owns: routes of `proto` in `table`, nexthops of `proto` with IDs in `nexthopIDRange`.
    public var ownership: Ownership { Ownership(proto: proto, table: table) }
    /// Nexthop IDs the agent allocates lie in `nexthopIDBase + 1 ... nexthopIDBase + 999_999`.
    public var nexthopIDBase: UInt32 { ownership.nexthopIDBase }
    /// The nexthop IDs the agent may own: `nexthopIDBase + 1 ... nexthopIDBase + 999_999`.
    public var nexthopIDRange: ClosedRange<UInt32> { ownership.nexthopIDs }

    public init(proto: UInt8 = 200, table: UInt32 = 254,
                allowedPrefixes: [IPPrefix] = Policy.defaultAllowedPrefixes,
                minPrefixLengthV4: Int = 16, minPrefixLengthV6: Int = 48,
                protectedPrefixes: [IPPrefix] = [],
                externalNetworks: [String] = [], projects: [String] = [], routerTags: [String] = [],
                requireSNATDisabled: Bool = false, addressScopeMode: Bool = false,
                useNexthopObjects: Bool = true) {
        self.proto = proto
        self.table = table
        self.allowedPrefixes = allowedPrefixes
        self.minPrefixLengthV4 = minPrefixLengthV4
        self.minPrefixLengthV6 = minPrefixLengthV6
        self.protectedPrefixes = protectedPrefixes
        self.externalNetworks = externalNetworks
        self.projects = projects
        self.routerTags = routerTags
        self.requireSNATDisabled = requireSNATDisabled
        self.addressScopeMode = addressScopeMode
        self.useNexthopObjects = useNexthopObjects
    }

    /// The minimum prefix length for a family.
    public func minPrefixLength(_ family: AddressFamily) -> Int {
        family == .v4 ? minPrefixLengthV4 : minPrefixLengthV6
    }

    enum CodingKeys: String, CodingKey {
        case proto = "protocol", table
        case allowedPrefixes = "allowed_prefixes"
        case minPrefixLengthV4 = "min_prefix_length_v4"
        case minPrefixLengthV6 = "min_prefix_length_v6"
        case protectedPrefixes = "protected_prefixes"
        case externalNetworks = "external_networks"
        case projects
        case routerTags = "router_tags"
        case requireSNATDisabled = "require_snat_disabled"
        case addressScopeMode = "address_scope_mode"
        case useNexthopObjects = "use_nexthop_objects"
    }
}
