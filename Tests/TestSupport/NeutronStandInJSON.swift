/// Neutron JSON for the stand-in's objects, written straight into bytes (no JSONSerialization), field
/// by field so that `fields=` projects without building dictionaries. Field order and the set of
/// fields follow what a real neutron-server returns (see shared/fixtures/neutron/).
struct JSONBytes {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func raw(_ b: UInt8) { bytes.append(b) }

    /// A JSON string; the stand-in's strings never need escaping except quotes and backslashes.
    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
            bytes.append(b)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func key(_ k: String, first: inout Bool) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        string(k)
        bytes.append(UInt8(ascii: ":"))
    }
}

/// One kind of object the stand-in lists.
protocol StandInObject {
    var id: String { get }
    /// Every field, in Neutron's order.
    static var fieldNames: [String] { get }
    /// Writes the value of `field` (known to be in `fieldNames`).
    func write(_ field: String, to out: inout JSONBytes)
    /// Whether the object passes a filter `name=values` (OR over values); nil when the filter is not supported.
    func matches(_ name: String, _ values: [String]) -> Bool?
}

extension StandInObject {
    /// The object as JSON, limited to `fields` when not empty (unknown fields are ignored, as Neutron does).
    func render(fields: Set<String>, to out: inout JSONBytes) {
        out.raw(UInt8(ascii: "{"))
        var first = true
        for f in Self.fieldNames where fields.isEmpty || fields.contains(f) {
            out.key(f, first: &first)
            write(f, to: &out)
        }
        out.raw(UInt8(ascii: "}"))
    }
}

private func writeFixedIPs(_ ips: [(String, String)], to out: inout JSONBytes) {
    out.raw("[")
    for (i, ip) in ips.enumerated() {
        if i > 0 { out.raw(",") }
        out.raw("{\"subnet_id\":")
        out.string(ip.0)
        out.raw(",\"ip_address\":")
        out.string(ip.1)
        out.raw("}")
    }
    out.raw("]")
}

private func matchString(_ value: String, _ values: [String]) -> Bool { values.contains(value) }

extension StandInCloud.Router: StandInObject {
    static let fieldNames = ["id", "name", "tenant_id", "project_id", "admin_state_up", "status", "external_gateway_info",
                             "external_gateways", "description", "availability_zone_hints", "availability_zones", "distributed", "ha",
                             "flavor_id", "revision_number", "tags", "created_at", "updated_at"]

    func write(_ field: String, to out: inout JSONBytes) {
        switch field {
        case "id": out.string(id)
        case "name": out.string("router-\(index)")
        case "tenant_id", "project_id": out.string(project)
        case "admin_state_up", "ha": out.raw(field == "ha" ? "false" : "true")
        case "distributed": out.raw("false")
        case "status": out.string("ACTIVE")
        case "external_gateway_info": writeGateway(to: &out)
        case "external_gateways":
            out.raw("[")
            writeGateway(to: &out)
            out.raw("]")
        case "description": out.string("")
        case "availability_zone_hints", "availability_zones", "tags": out.raw("[]")
        case "flavor_id": out.raw("null")
        case "revision_number": out.raw("3")
        default: out.string("2026-02-01T00:00:00Z")
        }
    }

    private func writeGateway(to out: inout JSONBytes) {
        out.raw("{\"network_id\":")
        out.string(StandInCloud.externalNetworkID)
        out.raw(",\"external_fixed_ips\":")
        writeFixedIPs([(StandInCloud.externalSubnetV6ID, StandInCloud.gatewayV6Text(gatewayV6)),
                  (StandInCloud.externalSubnetV4ID, StandInCloud.v4Text(gatewayV4))], to: &out)
        out.raw(",\"enable_snat\":true}")
    }

    func matches(_ name: String, _ values: [String]) -> Bool? {
        switch name {
        case "id": matchString(id, values)
        case "name": matchString("router-\(index)", values)
        case "project_id", "tenant_id": matchString(project, values)
        default: nil
        }
    }
}

extension StandInCloud.Port: StandInObject {
    static let fieldNames = ["id", "name", "network_id", "tenant_id", "project_id", "mac_address", "admin_state_up", "status",
                             "device_id", "device_owner", "fixed_ips", "allowed_address_pairs", "extra_dhcp_opts", "security_groups",
                             "description", "binding:vnic_type", "binding:host_id", "port_security_enabled", "tags", "created_at",
                             "updated_at", "revision_number"]

    func write(_ field: String, to out: inout JSONBytes) {
        switch field {
        case "id": out.string(id)
        case "name", "description", "binding:host_id": out.string("")
        case "network_id": out.string(networkID)
        case "tenant_id", "project_id": out.string(project)
        case "mac_address":
            let n = Int(id.suffix(6)) ?? 0
            let hex = String(n & 0xffffff, radix: 16)
            let pad = String(repeating: "0", count: max(0, 6 - hex.count)) + hex
            out.string("fa:16:3e:\(pad.prefix(2)):\(pad.dropFirst(2).prefix(2)):\(pad.suffix(2))")
        case "admin_state_up": out.raw("true")
        case "status": out.string("ACTIVE")
        case "device_id": out.string(routerID)
        case "device_owner": out.string(owner)
        case "fixed_ips": writeFixedIPs(fixedIPs, to: &out)
        case "allowed_address_pairs", "extra_dhcp_opts", "security_groups", "tags": out.raw("[]")
        case "binding:vnic_type": out.string("normal")
        case "port_security_enabled": out.raw("false")
        case "revision_number": out.raw("1")
        default: out.string("2026-02-01T00:00:00Z")
        }
    }

    func matches(_ name: String, _ values: [String]) -> Bool? {
        switch name {
        case "id": matchString(id, values)
        case "device_owner": matchString(owner, values)
        case "device_id": matchString(routerID, values)
        case "network_id": matchString(networkID, values)
        case "project_id", "tenant_id": matchString(project, values)
        default: nil
        }
    }
}

extension StandInCloud.Subnet: StandInObject {
    static let fieldNames = ["id", "name", "tenant_id", "project_id", "network_id", "ip_version", "subnetpool_id", "enable_dhcp",
                             "ipv6_ra_mode", "ipv6_address_mode", "gateway_ip", "cidr", "allocation_pools", "host_routes",
                             "dns_nameservers", "description", "service_types", "tags", "created_at", "updated_at", "revision_number"]

    func write(_ field: String, to out: inout JSONBytes) {
        switch field {
        case "id": out.string(id)
        case "name", "description": out.string("")
        case "tenant_id", "project_id": out.string(project)
        case "network_id": out.string(networkID)
        case "ip_version": out.raw(ipVersion == 4 ? "4" : "6")
        case "subnetpool_id", "ipv6_ra_mode", "ipv6_address_mode": out.raw("null")
        case "enable_dhcp": out.raw("false")
        case "gateway_ip": out.string(gatewayIP)
        case "cidr": out.string(cidr)
        case "allocation_pools", "host_routes", "dns_nameservers", "service_types", "tags": out.raw("[]")
        case "created_at", "updated_at": out.string(createdAt)
        default: out.raw("0")
        }
    }

    func matches(_ name: String, _ values: [String]) -> Bool? {
        switch name {
        case "id": matchString(id, values)
        case "network_id": matchString(networkID, values)
        case "ip_version": matchString(String(ipVersion), values)
        case "cidr": matchString(cidr, values)
        case "project_id", "tenant_id": matchString(project, values)
        default: nil
        }
    }
}

extension StandInCloud.Network: StandInObject {
    static let fieldNames = ["id", "name", "tenant_id", "project_id", "admin_state_up", "mtu", "status", "subnets", "shared",
                             "availability_zone_hints", "availability_zones", "ipv4_address_scope", "ipv6_address_scope",
                             "router:external", "description", "port_security_enabled", "is_default", "tags", "created_at",
                             "updated_at", "revision_number"]

    func write(_ field: String, to out: inout JSONBytes) {
        switch field {
        case "id": out.string(id)
        case "name": out.string(name)
        case "tenant_id", "project_id": out.string(project)
        case "admin_state_up", "port_security_enabled": out.raw("true")
        case "mtu": out.raw("1500")
        case "status": out.string("ACTIVE")
        case "subnets":
            out.raw("[")
            for (i, s) in subnetIDs.enumerated() {
                if i > 0 { out.raw(",") }
                out.string(s)
            }
            out.raw("]")
        case "shared", "is_default": out.raw("false")
        case "availability_zone_hints", "availability_zones", "tags": out.raw("[]")
        case "ipv4_address_scope", "ipv6_address_scope": out.raw("null")
        case "router:external": out.raw(external ? "true" : "false")
        case "description": out.string("")
        case "revision_number": out.raw("2")
        default: out.string("2026-02-01T00:00:00Z")
        }
    }

    func matches(_ name: String, _ values: [String]) -> Bool? {
        switch name {
        case "id": matchString(id, values)
        case "name": matchString(self.name, values)
        case "router:external": values.contains { $0.lowercased() == (external ? "true" : "false") }
        case "project_id", "tenant_id": matchString(project, values)
        default: nil
        }
    }
}
