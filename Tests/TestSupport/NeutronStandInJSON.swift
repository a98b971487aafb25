import Model
import OpenStack

/// Neutron JSON for the stand-in, written straight into bytes (no JSONSerialization). Which fields an
/// object has, in which order and of which type come from `NeutronWire`'s table; each Model type
/// only says what the value of a field is (`StandInObject.value`).
struct JSONBytes {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func raw(_ b: UInt8) { bytes.append(b) }

    /// A JSON string, escaping quotes, backslashes and control characters.
    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(b)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]])
            default:
                bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// One object of `shape`: its fields in table order, limited to `fields` when not empty (unknown
    /// names are ignored, as Neutron does). An absent value is `null` for a nullable field and
    /// left out otherwise.
    mutating func object(_ shape: NeutronWire.Shape, fields: Set<String> = [], _ value: (String) -> WireValue) {
        raw(UInt8(ascii: "{"))
        var first = true
        for field in shape.fields where fields.isEmpty || fields.contains(field.name) {
            var v = value(field.name)
            if case .absent = v {
                guard field.nullable else { continue }
                v = .null
            }
            if !first { raw(UInt8(ascii: ",")) }
            first = false
            string(field.name)
            raw(UInt8(ascii: ":"))
            write(v, field.kind)
        }
        raw(UInt8(ascii: "}"))
    }

    mutating func write(_ value: WireValue, _ kind: NeutronWire.Kind) {
        switch (value, kind) {
        case (.string(let s), _): string(s)
        case (.bool(let b), _): raw(b ? "true" : "false")
        case (.integer(let i), _): raw(String(i))
        case (.null, _), (.absent, _): raw("null")
        case (.strings(let list), _):
            raw("[")
            for (i, s) in list.enumerated() {
                if i > 0 { raw(",") }
                string(s)
            }
            raw("]")
        case (.fixedIPs(let ips), .objects(let shape)):
            raw("[")
            for (i, ip) in ips.enumerated() {
                if i > 0 { raw(",") }
                object(shape) { ip.value($0) }
            }
            raw("]")
        case (.gateways(let gateways), .objects(let shape)):
            raw("[")
            for (i, g) in gateways.enumerated() {
                if i > 0 { raw(",") }
                object(shape) { g.value($0) }
            }
            raw("]")
        case (.gateway(let g), .object(let shape)):
            object(shape) { g.value($0) }
        default:
            assertionFailure("value \(value) does not fit \(kind)")
            raw("null")
        }
    }
}

/// A field's value as the stand-in writes it.
enum WireValue {
    case string(String)
    case bool(Bool)
    case integer(Int)
    case strings([String])
    case fixedIPs([FixedIP])
    case gateway(ExternalGateway)
    case gateways([ExternalGateway])
    case null
    /// No value: `null` when the field is nullable, else the field is left out.
    case absent

    /// The text a filter compares with (`router:external=True` matches a true boolean); nil for lists.
    var filterText: String? {
        switch self {
        case .string(let s): s
        case .bool(let b): b ? "true" : "false"
        case .integer(let i): String(i)
        case .null, .absent: ""
        default: nil
        }
    }
}

/// A Model object the stand-in serves as one of Neutron's resources.
protocol StandInObject: Sendable {
    var id: String { get }
    static var resource: NeutronWire.Resource { get }
    /// The value of one of the resource's fields (names from `NeutronWire`).
    func value(_ field: String) -> WireValue
}

extension StandInObject {
    func render(fields: Set<String>, to out: inout JSONBytes) {
        out.object(Self.resource.shape, fields: fields) { value($0) }
    }

    /// Whether the object passes a filter `name=values` (repeated values = OR; booleans ignore case);
    /// nil when `name` is not a field one can filter on.
    func matches(_ name: String, _ values: [String]) -> Bool? {
        guard let field = Self.resource.shape[name], field.kind.isScalar, let text = value(name).filterText else { return nil }
        if case .bool = field.kind { return values.contains { $0.lowercased() == text } }
        return values.contains(text)
    }
}

private func unknown(_ field: String, _ type: Any.Type) -> WireValue {
    assertionFailure("NeutronWire has a field \(field) that the stand-in does not write for \(type)")
    return .absent
}

extension Router: StandInObject {
    static var resource: NeutronWire.Resource { NeutronWire.routers }

    func value(_ field: String) -> WireValue {
        switch field {
        case "id": .string(id)
        case "name": .string(name)
        case "project_id", "tenant_id": .string(projectID)
        case "admin_state_up": .bool(adminStateUp)
        case "status": .string("ACTIVE")
        case "tags": .strings(tags)
        case "external_gateway_info": gateways.first.map(WireValue.gateway) ?? .null
        case "external_gateways": .gateways(gateways)
        default: unknown(field, Self.self)
        }
    }
}

extension ExternalGateway {
    func value(_ field: String) -> WireValue {
        switch field {
        case "network_id": .string(networkID)
        case "external_fixed_ips": .fixedIPs(fixedIPs)
        case "enable_snat": enableSNAT.map(WireValue.bool) ?? .absent
        default: unknown(field, Self.self)
        }
    }
}

extension FixedIP {
    func value(_ field: String) -> WireValue {
        switch field {
        case "subnet_id": .string(subnetID)
        case "ip_address": .string(ipAddress.description)
        default: unknown(field, Self.self)
        }
    }
}

extension RouterPort: StandInObject {
    static var resource: NeutronWire.Resource { NeutronWire.ports }

    func value(_ field: String) -> WireValue {
        switch field {
        case "id": .string(id)
        case "device_id": .string(deviceID)
        case "device_owner": .string(deviceOwner)
        case "fixed_ips": .fixedIPs(fixedIPs)
        default: unknown(field, Self.self)
        }
    }
}

extension Subnet: StandInObject {
    static var resource: NeutronWire.Resource { NeutronWire.subnets }

    func value(_ field: String) -> WireValue {
        switch field {
        case "id": .string(id)
        case "network_id": .string(networkID)
        case "cidr": .string(cidr.description)
        case "ip_version": .integer(family == .v4 ? 4 : 6)
        case "project_id", "tenant_id": .string(projectID)
        case "created_at": .string(createdAt)
        case "subnetpool_id": subnetpoolID.map(WireValue.string) ?? .null
        default: unknown(field, Self.self)
        }
    }
}

extension Network: StandInObject {
    static var resource: NeutronWire.Resource { NeutronWire.networks }

    func value(_ field: String) -> WireValue {
        switch field {
        case "id": .string(id)
        case "name": .string(name)
        case "router:external": .bool(isExternal)
        case "ipv4_address_scope": ipv4AddressScope.map(WireValue.string) ?? .null
        case "ipv6_address_scope": ipv6AddressScope.map(WireValue.string) ?? .null
        case "status": .string("ACTIVE")
        default: unknown(field, Self.self)
        }
    }
}

/// The stand-in's own query encoding for the links it writes (not the client's): every byte
/// outside RFC 3986's unreserved characters and `:` `@` `/` (allowed in a query) is percent-encoded.
enum StandInQuery {
    static func encode(_ items: [(String, String)]) -> String {
        items.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }

    static func escape(_ s: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
                 UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "/"):
                out.append(b)
            default:
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
