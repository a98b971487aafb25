/// A route as the kernel reports it (one `RTM_NEWROUTE` of a dump), reduced to what the agent reasons about.
public struct KernelRoute: Hashable, Sendable, Codable, Comparable {
    public var destination: IPPrefix
    /// The route's table (`RTA_TABLE`, 254 = main).
    public var table: UInt32
    /// `rtm_protocol`: who installed it (2 kernel, 3 boot, 4 static, 200 this agent by default…).
    public var proto: UInt8
    /// `rtm_type`: 1 unicast, 2 local, 6 blackhole, 7 unreachable…
    public var type: UInt8
    /// `RTA_PRIORITY` (the metric), if the kernel reported one.
    public var metric: UInt32?
    /// `RTA_GATEWAY` for a classic `via` route.
    public var gateway: IPAddress?
    /// `RTA_NH_ID` for a route that points at a nexthop object.
    public var nexthopID: UInt32?
    /// `RTA_OIF`.
    public var outputInterface: Int32?

    public init(destination: IPPrefix, table: UInt32 = KernelRoute.mainTable, proto: UInt8, type: UInt8 = KernelRoute.unicast,
                metric: UInt32? = nil, gateway: IPAddress? = nil, nexthopID: UInt32? = nil, outputInterface: Int32? = nil) {
        self.destination = destination
        self.table = table
        self.proto = proto
        self.type = type
        self.metric = metric
        self.gateway = gateway
        self.nexthopID = nexthopID
        self.outputInterface = outputInterface
    }

    public static let mainTable: UInt32 = 254
    public static let unicast: UInt8 = 1

    public static func < (a: KernelRoute, b: KernelRoute) -> Bool {
        if a.destination != b.destination { return a.destination < b.destination }
        if a.proto != b.proto { return a.proto < b.proto }
        return (a.metric ?? 0) < (b.metric ?? 0)
    }
}

/// A kernel nexthop object (`RTM_NEWNEXTHOP`, Linux 5.3+).
public struct KernelNexthop: Hashable, Sendable, Codable, Comparable {
    public var id: UInt32
    /// `NHA_GATEWAY`; nil for nexthops without one (blackhole, groups, device-only), which only foreign software creates.
    public var gateway: IPAddress?
    /// `NHA_OIF`: the interface the gateway is reached through (0 when none).
    public var outputInterface: Int32
    /// `nh_protocol`.
    public var proto: UInt8

    public init(id: UInt32, gateway: IPAddress?, outputInterface: Int32, proto: UInt8) {
        self.id = id
        self.gateway = gateway
        self.outputInterface = outputInterface
        self.proto = proto
    }

    public static func < (a: KernelNexthop, b: KernelNexthop) -> Bool { a.id < b.id }
}

/// A network the host is directly connected to: an interface address with its prefix (`10.1.0.5/24` → `10.1.0.0/24`).
public struct ConnectedNetwork: Hashable, Sendable, Codable, Comparable {
    public var prefix: IPPrefix
    /// The host's own address on it.
    public var address: IPAddress
    public var interfaceIndex: Int32
    public var interfaceName: String

    public init(prefix: IPPrefix, address: IPAddress, interfaceIndex: Int32, interfaceName: String = "") {
        self.prefix = prefix
        self.address = address
        self.interfaceIndex = interfaceIndex
        self.interfaceName = interfaceName
    }

    public static func < (a: ConnectedNetwork, b: ConnectedNetwork) -> Bool {
        if a.prefix != b.prefix { return a.prefix < b.prefix }
        return a.interfaceIndex < b.interfaceIndex
    }
}

/// The host's kernel as the planner sees it: every route of the target table (all protocols),
/// the nexthop objects the agent owns, and the connected networks.
public struct KernelView: Hashable, Sendable, Codable {
    public var routes: [KernelRoute]
    public var nexthops: [KernelNexthop]
    public var connected: [ConnectedNetwork]

    public init(routes: [KernelRoute] = [], nexthops: [KernelNexthop] = [], connected: [ConnectedNetwork] = []) {
        self.routes = routes
        self.nexthops = nexthops
        self.connected = connected
    }
}

/// Where a route sends its traffic.
public enum RouteTarget: Hashable, Sendable, Codable {
    /// A classic route: `RTA_GATEWAY` (+ `RTA_OIF`).
    case gateway(IPAddress, outputInterface: Int32?)
    /// A route that points at a nexthop object: `RTA_NH_ID`.
    case nexthop(UInt32)
}

/// A route the agent writes: always its own protocol and table.
public struct RouteSpec: Hashable, Sendable, Codable {
    public var destination: IPPrefix
    public var table: UInt32
    public var proto: UInt8
    public var target: RouteTarget
    public var metric: UInt32?

    public init(destination: IPPrefix, table: UInt32, proto: UInt8, target: RouteTarget, metric: UInt32? = nil) {
        self.destination = destination
        self.table = table
        self.proto = proto
        self.target = target
        self.metric = metric
    }
}

/// One kernel write. A batch of these goes out in one `sendmsg`; each gets its own result.
public enum KernelOperation: Hashable, Sendable, Codable {
    case addNexthop(KernelNexthop)
    case replaceNexthop(KernelNexthop)
    case deleteNexthop(id: UInt32)
    case addRoute(RouteSpec)
    case replaceRoute(RouteSpec)
    /// Deletes exactly this route: destination, table, protocol (and metric when set) must match,
    /// so the kernel never removes a route of another protocol with the same prefix.
    case deleteRoute(RouteSpec)

    /// A short human description: `add route 10.0.0.0/24 via nexthop 17`.
    public var summary: String {
        func target(_ t: RouteTarget) -> String {
            switch t {
            case .gateway(let gw, _): return "via \(gw)"
            case .nexthop(let id): return "via nexthop \(id)"
            }
        }
        switch self {
        case .addNexthop(let n): return "add nexthop \(n.id) via \(n.gateway.map { "\($0)" } ?? "-")"
        case .replaceNexthop(let n): return "replace nexthop \(n.id) via \(n.gateway.map { "\($0)" } ?? "-")"
        case .deleteNexthop(let id): return "delete nexthop \(id)"
        case .addRoute(let r): return "add route \(r.destination) \(target(r.target)) table \(r.table)"
        case .replaceRoute(let r): return "replace route \(r.destination) \(target(r.target)) table \(r.table)"
        case .deleteRoute(let r): return "delete route \(r.destination) table \(r.table)"
        }
    }
}
