#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What the agent reads from Neutron in one cycle: the routers, their interface ports, the subnets
/// and the networks. Its JSON (`jsonData()`, `Codable`) is the snapshot file format of
/// `--snapshot FILE` and `--write-snapshot`; most keys are named as in Neutron's API, but Neutron's
/// own wire format belongs to the OpenStack module (`NeutronWire`), which also reads snapshot files
/// whose routers are in Neutron's shape (`SnapshotFile`).
///
/// A snapshot is complete or it does not exist: the OpenStack client hands one on only after every
/// list request of the cycle succeeded and decoded.
public struct CloudSnapshot: Hashable, Sendable, Codable {
    /// Format version of the snapshot file.
    public var version: Int
    public var routers: [Router]
    /// Router interface ports (device owners in `RouterPort.interfaceOwners`); other ports may be present and are ignored.
    public var ports: [RouterPort]
    public var subnets: [Subnet]
    public var networks: [Network]

    public init(routers: [Router] = [], ports: [RouterPort] = [], subnets: [Subnet] = [], networks: [Network] = []) {
        self.version = 1
        self.routers = routers
        self.ports = ports
        self.subnets = subnets
        self.networks = networks
    }

    enum CodingKeys: String, CodingKey { case version, routers, ports, subnets, networks }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        guard version == 1 else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: c, debugDescription: "unsupported snapshot version \(version)")
        }
        routers = try c.decode([Router].self, forKey: .routers)
        ports = try c.decode([RouterPort].self, forKey: .ports)
        subnets = try c.decode([Subnet].self, forKey: .subnets)
        networks = try c.decodeIfPresent([Network].self, forKey: .networks) ?? []
    }

    /// The snapshot as stable, pretty-printed JSON (sorted keys), as written by `--write-snapshot`.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self)
    }
}

/// A Neutron router, reduced to what routing needs.
public struct Router: Hashable, Sendable, Codable {
    public var id: String
    public var name: String
    public var projectID: String
    public var adminStateUp: Bool
    public var tags: [String]
    /// The router's external gateways (`gateways` in a snapshot file; an absent key is none).
    public var gateways: [ExternalGateway]

    public init(id: String, name: String = "", projectID: String = "", adminStateUp: Bool = true,
                tags: [String] = [], gateways: [ExternalGateway] = []) {
        self.id = id
        self.name = name
        self.projectID = projectID
        self.adminStateUp = adminStateUp
        self.tags = tags
        self.gateways = gateways
    }

    enum CodingKeys: String, CodingKey {
        case id, name, tags, gateways
        case projectID = "project_id"
        case adminStateUp = "admin_state_up"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        projectID = try c.decodeIfPresent(String.self, forKey: .projectID) ?? ""
        adminStateUp = try c.decodeIfPresent(Bool.self, forKey: .adminStateUp) ?? true
        tags = try c.decodeIfPresent([String].self, forKey: .tags) ?? []
        gateways = try c.decodeIfPresent([ExternalGateway].self, forKey: .gateways) ?? []
    }
}

/// One external gateway of a router: the external network and the router's addresses on it.
public struct ExternalGateway: Hashable, Sendable, Codable {
    public var networkID: String
    public var enableSNAT: Bool?
    public var fixedIPs: [FixedIP]

    public init(networkID: String, enableSNAT: Bool? = nil, fixedIPs: [FixedIP]) {
        self.networkID = networkID
        self.enableSNAT = enableSNAT
        self.fixedIPs = fixedIPs
    }

    enum CodingKeys: String, CodingKey {
        case networkID = "network_id"
        case enableSNAT = "enable_snat"
        case fixedIPs = "external_fixed_ips"
    }
}

/// An address of a port on a subnet.
public struct FixedIP: Hashable, Sendable, Codable {
    public var subnetID: String
    public var ipAddress: IPAddress

    public init(subnetID: String, ipAddress: IPAddress) {
        self.subnetID = subnetID
        self.ipAddress = ipAddress
    }

    enum CodingKeys: String, CodingKey {
        case subnetID = "subnet_id"
        case ipAddress = "ip_address"
    }
}

/// A router port (interface ports are what routing needs).
public struct RouterPort: Hashable, Sendable, Codable {
    public var id: String
    /// The router's ID.
    public var deviceID: String
    public var deviceOwner: String
    public var fixedIPs: [FixedIP]

    public init(id: String = "", deviceID: String, deviceOwner: String = RouterPort.legacyInterface, fixedIPs: [FixedIP]) {
        self.id = id
        self.deviceID = deviceID
        self.deviceOwner = deviceOwner
        self.fixedIPs = fixedIPs
    }

    enum CodingKeys: String, CodingKey {
        case id
        case deviceID = "device_id"
        case deviceOwner = "device_owner"
        case fixedIPs = "fixed_ips"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        deviceID = try c.decode(String.self, forKey: .deviceID)
        deviceOwner = try c.decode(String.self, forKey: .deviceOwner)
        fixedIPs = try c.decode([FixedIP].self, forKey: .fixedIPs)
    }

    public static let legacyInterface = "network:router_interface"
    public static let distributedInterface = "network:router_interface_distributed"
    public static let haReplicatedInterface = "network:ha_router_replicated_interface"
    /// The device owners whose fixed IPs make a router's tenant subnets (legacy, DVR, HA).
    public static let interfaceOwners = [legacyInterface, distributedInterface, haReplicatedInterface]
}

/// A Neutron subnet.
public struct Subnet: Hashable, Sendable, Codable {
    public var id: String
    public var networkID: String
    public var cidr: IPPrefix
    public var projectID: String
    /// Neutron's `created_at` (`2026-11-20T10:00:00Z`); the earliest subnet wins an overlap.
    public var createdAt: String
    public var subnetpoolID: String?

    public init(id: String, networkID: String = "", cidr: IPPrefix, projectID: String = "",
                createdAt: String = "", subnetpoolID: String? = nil) {
        self.id = id
        self.networkID = networkID
        self.cidr = cidr
        self.projectID = projectID
        self.createdAt = createdAt
        self.subnetpoolID = subnetpoolID
    }

    public var family: AddressFamily { cidr.family }

    enum CodingKeys: String, CodingKey {
        case id, cidr
        case networkID = "network_id"
        case projectID = "project_id"
        case createdAt = "created_at"
        case subnetpoolID = "subnetpool_id"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        networkID = try c.decodeIfPresent(String.self, forKey: .networkID) ?? ""
        cidr = try c.decode(IPPrefix.self, forKey: .cidr)
        projectID = try c.decodeIfPresent(String.self, forKey: .projectID) ?? ""
        createdAt = try c.decodeIfPresent(String.self, forKey: .createdAt) ?? ""
        subnetpoolID = try c.decodeIfPresent(String.self, forKey: .subnetpoolID)
    }
}

/// A Neutron network (the external ones matter: their names select routers, their subnets are protected).
public struct Network: Hashable, Sendable, Codable {
    public var id: String
    public var name: String
    public var isExternal: Bool
    public var ipv4AddressScope: String?
    public var ipv6AddressScope: String?

    public init(id: String, name: String = "", isExternal: Bool = false,
                ipv4AddressScope: String? = nil, ipv6AddressScope: String? = nil) {
        self.id = id
        self.name = name
        self.isExternal = isExternal
        self.ipv4AddressScope = ipv4AddressScope
        self.ipv6AddressScope = ipv6AddressScope
    }

    /// The address scope of the network's subnets of one family, if any.
    public func addressScope(_ family: AddressFamily) -> String? {
        family == .v4 ? ipv4AddressScope : ipv6AddressScope
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case isExternal = "router:external"
        case ipv4AddressScope = "ipv4_address_scope"
        case ipv6AddressScope = "ipv6_address_scope"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        isExternal = try c.decodeIfPresent(Bool.self, forKey: .isExternal) ?? false
        ipv4AddressScope = try c.decodeIfPresent(String.self, forKey: .ipv4AddressScope)
        ipv6AddressScope = try c.decodeIfPresent(String.self, forKey: .ipv6AddressScope)
    }
}
