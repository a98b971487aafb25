import Foundation
import Model

/// A Neutron stand-in for `ScriptedHTTPServer`: serves a `CloudSnapshot` as Neutron's list API
/// (`GET …/v2.0/routers|ports|subnets|networks`) with Neutron's paging rules, as recorded from a
/// real neutron-server (see shared/fixtures/neutron/SAMPLES.md):
/// - items sorted by id; `limit` and `marker` (the last id of the previous page);
/// - a `next` link whenever a page is full, so an exactly-full last page links to an empty page;
/// - `maxPageSize` plays `pagination_max_limit`: the server never returns more per page;
/// - `fields=` projects, `device_owner=` (repeated = OR) and `router:external=` filter, any other
///   filter is a 400 (filter_validation), an unknown marker a 404.
///
/// ```swift
/// let neutron = FakeNeutron(snapshot: FakeNeutron.generatedCloud(routers: 1000), maxPageSize: 500)
/// let server = try await ScriptedHTTPServer.start { request in
///     neutron.respond(to: request, linkBase: "http://127.0.0.1:9696") ?? .json("{}", status: 404)
/// }
/// ```
public struct FakeNeutron: Sendable {
    public var snapshot: CloudSnapshot
    public var maxPageSize: Int?

    public init(snapshot: CloudSnapshot, maxPageSize: Int? = nil) {
        self.snapshot = snapshot
        self.maxPageSize = maxPageSize
    }

    /// The answer to a Neutron list request, or nil when the path is not one of the four collections.
    /// `linkBase` is the scheme://host:port written into `next` links.
    public func respond(to request: ScriptedRequest, linkBase: String) -> ScriptedResponse? {
        let path = request.path
        guard request.method == "GET", let range = path.range(of: "/v2.0/") else { return nil }
        let collection = String(path[range.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        var objects: [[String: Any]]
        switch collection {
        case "routers": objects = snapshot.routers.map(Self.json)
        case "ports": objects = snapshot.ports.map(Self.json)
        case "subnets": objects = snapshot.subnets.map(Self.json)
        case "networks": objects = snapshot.networks.map(Self.json)
        default: return nil
        }
        objects.sort { ($0["id"] as? String ?? "") < ($1["id"] as? String ?? "") }

        var fields: [String] = []
        var limit: Int?
        var marker: String?
        var owners: [String] = []
        var external: Bool?
        for (name, value) in request.queryItems {
            switch name {
            case "fields": fields.append(value)
            case "limit":
                guard let l = Int(value), l >= 0 else {
                    return Self.error(400, "BadRequest", "Bad limit request: Limit must be an integer 0 or greater and not '\(value)'.")
                }
                limit = l
            case "marker": marker = value
            case "device_owner" where collection == "ports": owners.append(value)
            case "router:external" where collection == "networks": external = value.lowercased() == "true"
            default:
                return Self.error(400, "HTTPBadRequest", "['\(name)'] is invalid attribute for filtering")
            }
        }
        if !owners.isEmpty { objects = objects.filter { owners.contains($0["device_owner"] as? String ?? "") } }
        if let external { objects = objects.filter { ($0["router:external"] as? Bool ?? false) == external } }

        var start = 0
        if let marker {
            guard let i = objects.firstIndex(where: { $0["id"] as? String == marker }) else {
                return Self.error(404, "NotFound", "\(collection) \(marker) could not be found")
            }
            start = i + 1
        }
        var pageSize = (limit == nil || limit == 0) ? Int.max : limit!
        if let maxPageSize { pageSize = min(pageSize, maxPageSize) }
        let end = pageSize == Int.max ? objects.count : min(objects.count, start + pageSize)
        let page = Array(objects[start..<end])
        var out: [String: Any] = [collection: page.map { Self.project($0, fields) }]
        if pageSize != Int.max, page.count == pageSize, let last = page.last?["id"] as? String {
            var items = request.queryItems.filter { $0.name != "marker" }
            items.append(("marker", last))
            let query = items.map { "\(Self.encode($0.name))=\(Self.encode($0.value))" }.joined(separator: "&")
            let prefix = String(path[..<range.upperBound])
            out[collection + "_links"] = [["rel": "next", "href": "\(linkBase)\(prefix)\(collection)?\(query)"]]
        }
        let data = (try? JSONSerialization.data(withJSONObject: out)) ?? Data("{}".utf8)
        return .json(data: data)
    }

    /// A cloud of `routers` routers: each with a gateway on one external network (IPv4 + IPv6), one
    /// interface port and one tenant subnet 10.x.y.0/24 on its own network.
    public static func generatedCloud(routers count: Int) -> CloudSnapshot {
        let extNet = "e0000000-0000-4000-8000-000000000000"
        let extV4 = "e4000000-0000-4000-8000-000000000000"
        let extV6 = "e6000000-0000-4000-8000-000000000000"
        var snapshot = CloudSnapshot(
            subnets: [
                Subnet(id: extV4, networkID: extNet, cidr: IPPrefix("198.18.0.0/15")!, projectID: "admin", createdAt: "2026-01-01T00:00:00Z"),
                Subnet(id: extV6, networkID: extNet, cidr: IPPrefix("2001:db8:100::/64")!, projectID: "admin", createdAt: "2026-01-01T00:00:00Z"),
            ],
            networks: [Network(id: extNet, name: "public", isExternal: true)])
        for i in 0..<count {
            let rid = String(format: "a0000000-0000-4000-8000-%012d", i)
            let sid = String(format: "b0000000-0000-4000-8000-%012d", i)
            let nid = String(format: "c0000000-0000-4000-8000-%012d", i)
            let pid = String(format: "d0000000-0000-4000-8000-%012d", i)
            let project = String(format: "project%04d", i % 97)
            let gw4 = IPAddress(v4: 0xC612_0000 + UInt32(i + 10))          // 198.18.0.0 + i
            let gw6 = IPAddress("2001:db8:100::\(String(i + 10, radix: 16))")!
            snapshot.routers.append(Router(id: rid, name: "router-\(i)", projectID: project, adminStateUp: true, tags: [],
                                           gateways: [ExternalGateway(networkID: extNet, enableSNAT: true, fixedIPs: [
                                               FixedIP(subnetID: extV4, ipAddress: gw4), FixedIP(subnetID: extV6, ipAddress: gw6),
                                           ])]))
            let cidr = IPPrefix("10.\(i / 256 % 256).\(i % 256).0/24")!
            snapshot.subnets.append(Subnet(id: sid, networkID: nid, cidr: cidr, projectID: project,
                                           createdAt: String(format: "2026-02-01T%02d:%02d:%02dZ", i / 3600 % 24, i / 60 % 60, i % 60)))
            snapshot.networks.append(Network(id: nid, name: "net-\(i)"))
            snapshot.ports.append(RouterPort(id: pid, deviceID: rid, deviceOwner: RouterPort.legacyInterface,
                                             fixedIPs: [FixedIP(subnetID: sid, ipAddress: IPAddress("10.\(i / 256 % 256).\(i % 256).1")!)]))
        }
        return snapshot
    }

    // MARK: - Neutron JSON

    static func json(_ r: Router) -> [String: Any] {
        let gws: [[String: Any]] = r.gateways.map { g in
            var d: [String: Any] = ["network_id": g.networkID,
                                    "external_fixed_ips": g.fixedIPs.map { ["subnet_id": $0.subnetID, "ip_address": $0.ipAddress.description] }]
            if let snat = g.enableSNAT { d["enable_snat"] = snat }
            return d
        }
        return ["id": r.id, "name": r.name, "project_id": r.projectID, "tenant_id": r.projectID, "admin_state_up": r.adminStateUp,
                "status": "ACTIVE", "tags": r.tags, "external_gateway_info": gws.first ?? NSNull(), "external_gateways": gws]
    }

    static func json(_ p: RouterPort) -> [String: Any] {
        ["id": p.id, "device_id": p.deviceID, "device_owner": p.deviceOwner,
         "fixed_ips": p.fixedIPs.map { ["subnet_id": $0.subnetID, "ip_address": $0.ipAddress.description] }]
    }

    static func json(_ s: Subnet) -> [String: Any] {
        ["id": s.id, "network_id": s.networkID, "cidr": s.cidr.description, "ip_version": s.family == .v4 ? 4 : 6,
         "project_id": s.projectID, "created_at": s.createdAt, "subnetpool_id": s.subnetpoolID ?? NSNull()]
    }

    static func json(_ n: Network) -> [String: Any] {
        ["id": n.id, "name": n.name, "router:external": n.isExternal,
         "ipv4_address_scope": n.ipv4AddressScope ?? NSNull(), "ipv6_address_scope": n.ipv6AddressScope ?? NSNull()]
    }

    static func project(_ object: [String: Any], _ fields: [String]) -> [String: Any] {
        guard !fields.isEmpty else { return object }
        return object.filter { fields.contains($0.key) }
    }

    static func error(_ status: Int, _ type: String, _ message: String) -> ScriptedResponse {
        let body: [String: Any] = ["NeutronError": ["type": type, "message": message, "detail": ""]]
        return .json(data: (try? JSONSerialization.data(withJSONObject: body)) ?? Data(), status: status)
    }

    static func encode(_ s: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
