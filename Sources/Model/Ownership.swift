/// What the agent owns in the kernel, as one value: its route protocol number, its table, and the
/// nexthop IDs derived from the protocol. Every place that decides "is this route or nexthop ours?"
/// asks this value (in the manner of Calico felix's `RouteIsOurs`), so the rule exists once.
///
/// - A route is ours when its protocol is `proto` **and** it is in `table`.
/// - A nexthop object is ours when its protocol is `proto` **and** its ID lies in `nexthopIDs`
///   (`proto × 1,000,000 + 1 … + 999,999`: 200,000,001 … 200,999,999 for protocol 200).
///
/// ```swift
/// let ours = Ownership(proto: 200, table: 254)
/// let mine = view.routes.filter(ours.owns(route:))
/// ```
public struct Ownership: Hashable, Sendable {
    /// The route protocol number that marks the agent's routes and nexthops (`rtm_protocol`, `nh_protocol`).
    public var proto: UInt8
    /// The routing table the agent writes (254 = main).
    public var table: UInt32

    public init(proto: UInt8, table: UInt32) {
        self.proto = proto
        self.table = table
    }

    /// How many nexthop IDs each protocol number's range spans (the range of protocol `p` starts at `p × this`).
    public static let nexthopIDsPerProtocol: UInt32 = 1_000_000

    /// The agent's nexthop IDs lie in `nexthopIDBase + 1 ... nexthopIDBase + 999_999`.
    public var nexthopIDBase: UInt32 { UInt32(proto) * Ownership.nexthopIDsPerProtocol }

    /// The nexthop IDs the agent may own and allocate: `nexthopIDBase + 1 ... nexthopIDBase + 999_999`.
    public var nexthopIDs: ClosedRange<UInt32> { (nexthopIDBase + 1)...(nexthopIDBase + Ownership.nexthopIDsPerProtocol - 1) }

    /// Whether the agent owns this route: its protocol and its table.
    public func owns(route: KernelRoute) -> Bool {
        route.proto == proto && route.table == table
    }

    /// Whether the agent owns this nexthop object: its protocol and an ID in `nexthopIDs`.
    public func owns(nexthop: KernelNexthop) -> Bool {
        nexthop.proto == proto && nexthopIDs.contains(nexthop.id)
    }
}
