import Events
import Model

/// What one Neutron notification means for the routes, judged against the last snapshot. The Events module
/// only decodes envelopes; this is where a notification becomes "router X changed" or "read everything".
///
/// Payloads are never trusted for state (API workers publish out of order): they only say which routers to
/// read again. What is not a router, an interface, a router port, or an external network or subnet is ignored:
/// instance ports, tenant networks and subnets, floating IPs, security groups.
public enum EventEffect: Sendable, Hashable {
    /// Nothing the agent routes can have changed.
    case ignore
    /// Re-read these routers (and their interface ports and subnets).
    case routers(Set<String>)
    /// Something every router may depend on changed (an external network or one of its subnets): read everything.
    case fullRead(reason: String)
}

/// What the mapping needs to know of the last snapshot.
public struct EventContext: Sendable {
    /// IDs of the external networks in the last full read.
    public var externalNetworks: Set<String>
    /// IDs of the subnets on those networks.
    public var externalSubnets: Set<String>
    /// Interface port ID → router ID, for a `port.delete.end` that names only the port.
    public var portRouter: [String: String]

    public init(externalNetworks: Set<String> = [], externalSubnets: Set<String> = [], portRouter: [String: String] = [:]) {
        self.externalNetworks = externalNetworks
        self.externalSubnets = externalSubnets
        self.portRouter = portRouter
    }

    /// The context of a snapshot: O(networks + subnets + ports), built once per full read.
    public init(snapshot: CloudSnapshot) {
        externalNetworks = Set(snapshot.networks.filter(\.isExternal).map(\.id))
        var gatewaySubnets = Set<String>()
        for r in snapshot.routers { for g in r.gateways { for ip in g.fixedIPs { gatewaySubnets.insert(ip.subnetID) } } }
        let nets = externalNetworks
        externalSubnets = Set(snapshot.subnets.filter { nets.contains($0.networkID) }.map(\.id)).union(gatewaySubnets)
        var ports: [String: String] = [:]
        for p in snapshot.ports where !p.id.isEmpty { ports[p.id] = p.deviceID }
        portRouter = ports
    }
}

public enum EventMapping {
    /// The event types the agent acts on; everything else is counted as `other` and acked unread.
    public static let handledTypes: [String] = [
        "router.create.end", "router.update.end", "router.delete.end",
        "router.interface.create", "router.interface.delete",
        "port.create.end", "port.update.end", "port.delete.end",
        "subnet.create.end", "subnet.update.end", "subnet.delete.end",
        "network.create.end", "network.update.end", "network.delete.end",
    ]
    private static let handled = Set(handledTypes)

    /// Whether a message of this `event_type` can matter (the cheap filter before the full decode; `.start`
    /// events, floating IPs, security groups and the like never do).
    public static func isHandled(_ eventType: String) -> Bool { handled.contains(eventType) }

    /// The metrics label of an event type: itself when handled, else `other` (labels stay bounded).
    public static func label(_ eventType: String?) -> String {
        guard let t = eventType, handled.contains(t) else { return "other" }
        return t
    }

    /// Ports whose changes change a router's routes: interface ports (their subnets) and the gateway port (its
    /// address is the next hop; `PUT /ports/{gateway port}` announces itself only as `port.update.end`).
    static let routerPortOwners: Set<String> = Set(RouterPort.interfaceOwners + ["network:router_gateway"])

    public static func effect(of n: OsloNotification, context: EventContext) -> EventEffect {
        guard handled.contains(n.eventType) else { return .ignore }
        let v = n.view
        switch n.eventType.split(separator: ".").first {
        case "router":
            guard let id = v.routerID ?? v.interface?.routerID, !id.isEmpty else { return .fullRead(reason: "\(n.eventType) without a router ID") }
            return .routers([id])
        case "port":
            guard let port = v.port else { return .ignore }
            if !port.deviceOwner.isEmpty {
                guard routerPortOwners.contains(port.deviceOwner), !port.deviceID.isEmpty else { return .ignore }
                return .routers([port.deviceID])
            }
            // Only an ID (a delete): a port the last read knew as a router's interface.
            if let id = port.id, let router = context.portRouter[id] { return .routers([router]) }
            return .ignore
        case "subnet":
            if let net = v.subnetNetworkID, context.externalNetworks.contains(net) { return .fullRead(reason: "external subnet changed") }
            if let id = v.subnetID, context.externalSubnets.contains(id) { return .fullRead(reason: "external subnet changed") }
            return .ignore
        case "network":
            if let id = v.networkID, context.externalNetworks.contains(id) { return .fullRead(reason: "external network changed") }
            if v.networkExternal == true { return .fullRead(reason: "external network changed") }
            return .ignore
        default:
            return .ignore
        }
    }
}
