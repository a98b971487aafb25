#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Model

/// Neutron's wire format for the four resources the agent reads — routers, router interface ports,
/// subnets and networks — as one table: each field's name, type, whether decoding requires it, and
/// whether the agent asks for it with `fields=`.
///
/// Everything that speaks Neutron's JSON comes from this table: `NeutronClient` builds its `fields=`
/// lists from it and decodes each object through it (`WireReader`), and the test stand-in
/// (TestSupport's `NeutronStandIn`) renders and filters objects field by field in its order. The
/// recorded answers of a real neutron-server (`shared/fixtures/neutron/`) are the independent check
/// that the table matches Neutron.
///
/// ```swift
/// NeutronWire.routers.requestedFields   // ["id", "name", "project_id", "admin_state_up", "tags", …]
/// NeutronWire.ports.shape["device_id"]  // Field(name: "device_id", kind: .string, required: true, …)
/// ```
public enum NeutronWire {
    /// A field's JSON type.
    public indirect enum Kind: Sendable, Equatable {
        case string
        case bool
        case integer
        case strings
        /// An IP address as text (`203.0.113.10`).
        case address
        /// A CIDR as text (`10.0.0.0/24`).
        case prefix
        /// A nested object of the given shape.
        case object(Shape)
        /// A list of nested objects of the given shape.
        case objects(Shape)

        /// Whether filters compare against this field (scalars only).
        public var isScalar: Bool {
            switch self {
            case .string, .bool, .integer, .address, .prefix: true
            default: false
            }
        }
    }

    /// One field of an object.
    public struct Field: Sendable, Equatable {
        public let name: String
        public let kind: Kind
        /// Decoding fails when the field is missing or null.
        public let required: Bool
        /// Neutron may send `null` (and the stand-in sends `null` for an absent value).
        public let nullable: Bool
        /// The agent asks for it with `fields=`.
        public let requested: Bool

        init(_ name: String, _ kind: Kind, required: Bool = false, nullable: Bool = false, requested: Bool = true) {
            self.name = name
            self.kind = kind
            self.required = required
            self.nullable = nullable
            self.requested = requested
        }
    }

    /// The fields of one kind of object, in the order Neutron writes them.
    public struct Shape: Sendable, Equatable {
        public let name: String
        public let fields: [Field]

        /// The field called `name`; nil when the table has no such field.
        public subscript(_ name: String) -> Field? {
            fields.first { $0.name == name }
        }
    }

    /// A collection of Neutron's API (`/v2.0/<collection>`).
    public struct Resource: Sendable {
        /// `routers`: the path segment, the list key and the `<collection>_links` prefix.
        public let collection: String
        /// `router`: the key of a single object (`GET /v2.0/routers/<id>`).
        public let member: String
        public let shape: Shape
        /// Filters the agent sends with every list of this collection (repeated name = OR).
        public let filters: [(String, String)]

        /// The `fields=` values of the agent's list requests, in table order.
        public var requestedFields: [String] { shape.fields.filter(\.requested).map(\.name) }
    }

    /// `{"subnet_id": …, "ip_address": …}` of a port or a gateway.
    public static let fixedIP = Shape(name: "fixed_ip", fields: [
        Field("subnet_id", .string, required: true),
        Field("ip_address", .address, required: true),
    ])

    /// One router gateway (`external_gateway_info`, or an item of `external_gateways`).
    public static let gateway = Shape(name: "gateway", fields: [
        Field("network_id", .string, required: true),
        Field("external_fixed_ips", .objects(fixedIP), required: true),
        Field("enable_snat", .bool),
    ])

    /// Routers. `external_gateways` exists with gateway multihoming; Neutron ignores unknown `fields=`.
    public static let routers = Resource(collection: "routers", member: "router", shape: Shape(name: "router", fields: [
        Field("id", .string, required: true),
        Field("name", .string),
        Field("project_id", .string),
        Field("admin_state_up", .bool, required: true),
        Field("tags", .strings),
        Field("external_gateway_info", .object(gateway), nullable: true),
        Field("external_gateways", .objects(gateway)),
        Field("tenant_id", .string, requested: false),
        Field("status", .string, requested: false),
    ]), filters: [])

    /// Router interface ports: the agent lists only the device owners of `RouterPort.interfaceOwners`.
    public static let ports = Resource(collection: "ports", member: "port", shape: Shape(name: "port", fields: [
        Field("id", .string),
        Field("device_id", .string, required: true),
        Field("device_owner", .string, required: true),
        Field("fixed_ips", .objects(fixedIP), required: true),
    ]), filters: RouterPort.interfaceOwners.map { ("device_owner", $0) })

    public static let subnets = Resource(collection: "subnets", member: "subnet", shape: Shape(name: "subnet", fields: [
        Field("id", .string, required: true),
        Field("network_id", .string),
        Field("cidr", .prefix, required: true),
        Field("ip_version", .integer),
        Field("project_id", .string),
        Field("created_at", .string),
        Field("subnetpool_id", .string, nullable: true),
        Field("tenant_id", .string, requested: false),
    ]), filters: [])

    /// All networks, not only external ones: the planner needs the external networks, and in
    /// address-scope mode the address scopes of the tenant networks.
    public static let networks = Resource(collection: "networks", member: "network", shape: Shape(name: "network", fields: [
        Field("id", .string, required: true),
        Field("name", .string),
        Field("router:external", .bool),
        Field("ipv4_address_scope", .string, nullable: true),
        Field("ipv6_address_scope", .string, nullable: true),
        Field("status", .string, requested: false),
    ]), filters: [])

    /// The four collections of one read, in the order of `CloudSnapshot`'s parts.
    public static let all = [routers, ports, subnets, networks]

    /// The resource of `collection` (`routers`…), if the agent reads it.
    public static func resource(_ collection: String) -> Resource? {
        all.first { $0.collection == collection }
    }

    /// A router's gateways from Neutron's two fields: `external_gateway_info` first, then each of
    /// `external_gateways` that is not already listed. Two gateways are the same when they are on the
    /// same network with the same set of addresses (order does not matter: Neutron repeats the
    /// primary gateway in `external_gateways`, not necessarily with its addresses in the same order).
    public static func foldGateways(info: ExternalGateway?, list: [ExternalGateway]) -> [ExternalGateway] {
        var all: [ExternalGateway] = []
        for g in [info].compactMap({ $0 }) + list
            where !all.contains(where: { $0.networkID == g.networkID && Set($0.fixedIPs) == Set(g.fixedIPs) }) {
            all.append(g)
        }
        return all
    }
}

// MARK: - Decoding through the table

/// Reads the fields of one object as the table says: a required field must be present and not
/// null; any other field may be missing or null (nil). Error paths are Neutron's keys, so a
/// decoding error names the field (`routers[0].admin_state_up`).
struct WireReader {
    let shape: NeutronWire.Shape
    let container: KeyedDecodingContainer<AnyKey>

    init(_ shape: NeutronWire.Shape, _ decoder: any Decoder) throws {
        self.shape = shape
        self.container = try decoder.container(keyedBy: AnyKey.self)
    }

    /// A field the table does not require: nil when missing or null.
    func callAsFunction<T: Decodable>(_ name: String, _ type: T.Type = T.self) throws -> T? {
        let field = self.field(name, T.self)
        assert(!field.required, "\(shape.name).\(name) is required in NeutronWire; read it with required()")
        return try container.decodeIfPresent(T.self, forKey: AnyKey(name))
    }

    /// A field the table requires: an error when missing or null.
    func required<T: Decodable>(_ name: String, _ type: T.Type = T.self) throws -> T {
        let field = self.field(name, T.self)
        assert(field.required, "\(shape.name).\(name) is optional in NeutronWire; read it as optional")
        return try container.decode(T.self, forKey: AnyKey(name))
    }

    private func field(_ name: String, _ type: Any.Type) -> NeutronWire.Field {
        guard let field = shape[name] else { preconditionFailure("\(shape.name) has no field \(name) in NeutronWire") }
        assert(field.kind.decodes(type), "\(shape.name).\(name) is \(field.kind) in NeutronWire, read as \(type)")
        return field
    }
}

extension NeutronWire.Kind {
    /// Whether a Swift type is how this kind is read (a check of the readers against the table).
    func decodes(_ type: Any.Type) -> Bool {
        switch self {
        case .string: type == String.self
        case .bool: type == Bool.self
        case .integer: type == Int.self
        case .strings: type == [String].self
        case .address: type == IPAddress.self
        case .prefix: type == IPPrefix.self
        case .object(let s): s == NeutronWire.gateway && type == WireGateway.self
        case .objects(let s): s == NeutronWire.fixedIP ? type == [WireFixedIP].self : type == [WireGateway].self
        }
    }
}

struct WireFixedIP: Decodable, Sendable {
    let model: FixedIP

    init(from decoder: any Decoder) throws {
        let read = try WireReader(NeutronWire.fixedIP, decoder)
        model = FixedIP(subnetID: try read.required("subnet_id"), ipAddress: try read.required("ip_address"))
    }
}

struct WireGateway: Decodable, Sendable {
    let model: ExternalGateway

    init(from decoder: any Decoder) throws {
        let read = try WireReader(NeutronWire.gateway, decoder)
        let ips: [WireFixedIP] = try read.required("external_fixed_ips")
        model = ExternalGateway(networkID: try read.required("network_id"), enableSNAT: try read("enable_snat"), fixedIPs: ips.map(\.model))
    }
}

/// A router as Neutron sends it; both gateway fields fold into `Router.gateways`.
struct WireRouter: Decodable, Sendable {
    let model: Router

    init(from decoder: any Decoder) throws {
        let read = try WireReader(NeutronWire.routers.shape, decoder)
        let info: WireGateway? = try read("external_gateway_info")
        let list: [WireGateway] = try read("external_gateways") ?? []
        model = Router(id: try read.required("id"), name: try read("name") ?? "", projectID: try read("project_id") ?? "",
                       adminStateUp: try read.required("admin_state_up"), tags: try read("tags") ?? [],
                       gateways: NeutronWire.foldGateways(info: info?.model, list: list.map(\.model)))
    }
}

struct WirePort: Decodable, Sendable {
    let model: RouterPort

    init(from decoder: any Decoder) throws {
        let read = try WireReader(NeutronWire.ports.shape, decoder)
        let ips: [WireFixedIP] = try read.required("fixed_ips")
        model = RouterPort(id: try read("id") ?? "", deviceID: try read.required("device_id"), deviceOwner: try read.required("device_owner"),
                           fixedIPs: ips.map(\.model))
    }
}

struct WireSubnet: Decodable, Sendable {
    let model: Subnet

    init(from decoder: any Decoder) throws {
        let read = try WireReader(NeutronWire.subnets.shape, decoder)
        model = Subnet(id: try read.required("id"), networkID: try read("network_id") ?? "", cidr: try read.required("cidr"),
                       projectID: try read("project_id") ?? "", createdAt: try read("created_at") ?? "",
                       subnetpoolID: try read("subnetpool_id"))
    }
}

struct WireNetwork: Decodable, Sendable {
    let model: Network

    init(from decoder: any Decoder) throws {
        let read = try WireReader(NeutronWire.networks.shape, decoder)
        model = Network(id: try read.required("id"), name: try read("name") ?? "", isExternal: try read("router:external") ?? false,
                        ipv4AddressScope: try read("ipv4_address_scope"), ipv6AddressScope: try read("ipv6_address_scope"))
    }
}
