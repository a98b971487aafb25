import Foundation
import Synchronization

/// A Neutron stand-in for benchmarks and scale tests: serves a generated `StandInCloud` of N routers
/// through Neutron's list API, on `ScriptedHTTPServer`, fast enough not to be what is measured.
///
/// - `GET /v2.0/{routers|ports|subnets|networks}` with `fields=` (projection), filters (`device_owner`,
///   `device_id`, `id`, `network_id`, `router:external`… repeated = OR; any other filter is a 400,
///   as with Neutron's filter validation), `limit` + `marker` paging with `<collection>_links`
///   (`next` whenever a page is full, so a full last page links to an empty one, as Neutron does),
///   and a server-forced page size (`maxPageSize`, Neutron's `pagination_max_limit`);
/// - `GET /v2.0/{collection}/{id}` (one object, for the per-router method of 2013);
/// - admin endpoints, never counted: `GET /_standin/stats` (requests and body bytes served),
///   `POST /_standin/reset` (zero the counters), `POST /_standin/churn?percent=1` (change the
///   cloud, answer what changed and what an agent should write), `GET /_standin/cloud`.
///
/// Responses are cached by their normalised request, and the pages of the agent's own read
/// (`NeutronClient`'s field lists with `limit=1000`) are rendered before the first request and
/// again after each churn.
///
/// ```swift
/// let standIn = NeutronStandIn(routers: 10_000, maxPageSize: 1000)
/// let server = try await standIn.start(port: 0)
/// // OS_AUTH_TYPE=none OS_NETWORK_ENDPOINT_OVERRIDE=\(server.baseURL)/ metadata-route-agent sync …
/// ```
public final class NeutronStandIn: Sendable {
    /// Counters of Neutron API requests (admin endpoints excluded).
    public struct Counters: Sendable, Codable, Equatable {
        public var requests = 0
        public var bytes = 0
        public var byCollection: [String: Int] = [:]
        public var byStatus: [String: Int] = [:]

        enum CodingKeys: String, CodingKey {
            case requests, bytes
            case byCollection = "by_collection"
            case byStatus = "by_status"
        }
    }

    struct State {
        var cloud: StandInCloud
        var cache: [String: ScriptedResponse] = [:]
        var counters = Counters()
        var linkBase = "http://127.0.0.1"
    }

    public let maxPageSize: Int?
    private let state: Mutex<State>

    /// The page size of the agent's own reads (`ClientOptions.pageSize`'s default), pre-rendered.
    public static let agentPageSize = 1000

    public init(routers: Int, maxPageSize: Int? = 1000) {
        self.maxPageSize = maxPageSize
        state = Mutex(State(cloud: StandInCloud(routers: routers)))
    }

    /// Serves on 127.0.0.1:`port` (0: an ephemeral port) after rendering the agent's pages.
    public func start(port: Int = 0) async throws -> ScriptedHTTPServer {
        let server = try await ScriptedHTTPServer.start(port: port) { [self] request in
            respond(to: request)
        }
        state.withLock { $0.linkBase = server.baseURL }
        prerender()
        return server
    }

    public var counters: Counters { state.withLock { $0.counters } }
    public var cloud: StandInCloud { state.withLock { $0.cloud } }

    public func resetCounters() { state.withLock { $0.counters = Counters() } }

    /// Applies one churn round and re-renders the agent's pages.
    @discardableResult
    public func churn(percent: Double) -> StandInCloud.ChurnReport {
        let report = state.withLock { s in
            s.cache = [:]
            return s.cloud.churn(percent: percent)
        }
        prerender()
        return report
    }

    // MARK: - Requests

    /// The answer to any request (admin or Neutron).
    public func respond(to request: ScriptedRequest) -> ScriptedResponse {
        let path = request.path
        if path.hasPrefix("/_standin/") { return admin(request, String(path.dropFirst("/_standin/".count))) }
        let key = Self.cacheKey(request)
        let cached = state.withLock { $0.cache[key] }
        let response: ScriptedResponse
        if let cached {
            response = cached
        } else {
            let (cloud, base) = state.withLock { ($0.cloud, $0.linkBase) }
            response = render(request, cloud: cloud, linkBase: base).0
            if response.status == 200 { state.withLock { $0.cache[key] = response } }
        }
        state.withLock { s in
            s.counters.requests += 1
            s.counters.bytes += response.body.count
            s.counters.byCollection[Self.collection(of: path) ?? "other", default: 0] += 1
            s.counters.byStatus[String(response.status), default: 0] += 1
        }
        return response
    }

    private func admin(_ request: ScriptedRequest, _ command: String) -> ScriptedResponse {
        switch (request.method, command) {
        case ("GET", "stats"):
            return .json(data: (try? JSONEncoder().encode(counters)) ?? Data())
        case ("POST", "reset"):
            resetCounters()
            return .json("{}")
        case ("POST", "churn"):
            let percent = request.queryValues("percent").first.flatMap(Double.init) ?? 1
            return .json(data: (try? JSONEncoder().encode(churn(percent: percent))) ?? Data())
        case ("GET", "cloud"):
            let c = cloud
            return .json("""
                {"routers":\(c.routers.count),"ports":\(c.ports.count),"subnets":\(c.subnets.count),"networks":\(c.networks.count),\
                "expected_routes":\(c.expectedRoutes),"expected_nexthops":\(c.expectedNexthops),"churn_rounds":\(c.churnRounds),\
                "external_v4":"\(StandInCloud.externalV4)","external_v6":"\(StandInCloud.externalV6)",\
                "host_address_v4":"\(StandInCloud.hostAddressV4)","host_address_v6":"\(StandInCloud.hostAddressV6)"}
                """)
        default:
            return Self.error(404, "NotFound", "no admin command \(request.method) \(command)")
        }
    }

    /// Renders the pages `NeutronClient.readSnapshot` asks for, following next links, into the cache.
    public func prerender() {
        let owners = ["network:router_interface", "network:router_interface_distributed", "network:ha_router_replicated_interface"]
        let reads: [(String, [(String, String)])] = [
            ("routers", ["id", "name", "project_id", "admin_state_up", "tags", "external_gateway_info", "external_gateways"].map { ("fields", $0) }),
            ("ports", owners.map { ("device_owner", $0) } + ["id", "device_id", "device_owner", "fixed_ips"].map { ("fields", $0) }),
            ("subnets", ["id", "network_id", "cidr", "ip_version", "project_id", "created_at", "subnetpool_id"].map { ("fields", $0) }),
            ("networks", ["id", "name", "router:external", "ipv4_address_scope", "ipv6_address_scope"].map { ("fields", $0) }),
        ]
        let (cloud, base) = state.withLock { ($0.cloud, $0.linkBase) }
        var rendered: [String: ScriptedResponse] = [:]
        for (collection, items) in reads {
            var query = Self.encodeQuery(items + [("limit", String(Self.agentPageSize))])
            for _ in 0..<100_000 {
                let request = ScriptedRequest(method: "GET", uri: "/v2.0/\(collection)?\(query)")
                let (response, nextQuery) = render(request, cloud: cloud, linkBase: base)
                rendered[Self.cacheKey(request)] = response
                guard let next = nextQuery else { break }
                query = next
            }
        }
        state.withLock { s in s.cache.merge(rendered) { _, new in new } }
    }

    /// The response and, for a full page, the query of its `next` link.
    private func render(_ request: ScriptedRequest, cloud: StandInCloud, linkBase: String) -> (ScriptedResponse, String?) {
        guard request.method == "GET", let range = request.path.range(of: "/v2.0/") else {
            return (Self.error(404, "HTTPNotFound", "The resource could not be found."), nil)
        }
        let rest = request.path[range.upperBound...].split(separator: "/").map(String.init)
        guard let collection = rest.first, rest.count <= 2 else {
            return (Self.error(404, "HTTPNotFound", "The resource could not be found."), nil)
        }
        switch collection {
        case "routers": return respond(cloud.routers, collection, rest, request, linkBase)
        case "ports": return respond(cloud.ports, collection, rest, request, linkBase)
        case "subnets": return respond(cloud.subnets, collection, rest, request, linkBase)
        case "networks": return respond(cloud.networks, collection, rest, request, linkBase)
        default: return (Self.error(404, "HTTPNotFound", "The resource could not be found."), nil)
        }
    }

    private func respond<T: StandInObject>(_ objects: [T], _ collection: String, _ rest: [String], _ request: ScriptedRequest,
                                           _ linkBase: String) -> (ScriptedResponse, String?) {
        var fields = Set<String>()
        var limit: Int?
        var marker: String?
        var filters: [(String, [String])] = []
        for (name, value) in request.queryItems {
            switch name {
            case "fields": fields.insert(value)
            case "limit":
                guard let l = Int(value), l >= 0 else {
                    return (Self.error(400, "BadRequest", "Bad limit request: Limit must be an integer 0 or greater and not '\(value)'."), nil)
                }
                limit = l
            case "marker": marker = value
            default:
                if let i = filters.firstIndex(where: { $0.0 == name }) { filters[i].1.append(value) } else { filters.append((name, [value])) }
            }
        }
        // One object: GET /v2.0/routers/<id>
        if rest.count == 2 {
            guard let i = Self.index(of: rest[1], in: objects) else {
                return (Self.error(404, "NotFound", "\(collection.dropLast()) \(rest[1]) could not be found."), nil)
            }
            var out = JSONBytes(capacity: 2048)
            out.raw("{")
            out.string(String(collection.dropLast()))
            out.raw(":")
            objects[i].render(fields: fields, to: &out)
            out.raw("}")
            return (.json(data: Data(out.bytes)), nil)
        }
        if let probe = objects.first {
            for (name, values) in filters where probe.matches(name, values) == nil {
                return (Self.error(400, "HTTPBadRequest", "['\(name)'] is invalid attribute for filtering"), nil)
            }
        }
        var selected: [Int]
        if filters.isEmpty {
            selected = Array(objects.indices)
        } else {
            selected = objects.indices.filter { i in filters.allSatisfy { objects[i].matches($0.0, $0.1) == true } }
        }
        var start = 0
        if let marker {
            // Like Neutron: the marker is any existing object (filters need not match it); the page starts after it.
            guard let m = Self.index(of: marker, in: objects) else {
                return (Self.error(404, "NotFound", "\(collection.dropLast()) \(marker) could not be found."), nil)
            }
            start = Self.firstGreater(m, in: selected)
        }
        var pageSize = (limit ?? 0) == 0 ? Int.max : limit!
        if let maxPageSize { pageSize = min(pageSize, maxPageSize) }
        let end = pageSize == Int.max ? selected.count : min(selected.count, start + pageSize)
        let page = selected[start..<end]

        var out = JSONBytes(capacity: 64 + page.count * (fields.isEmpty ? 900 : 300))
        out.raw("{")
        out.string(collection)
        out.raw(":[")
        for (n, i) in page.enumerated() {
            if n > 0 { out.raw(",") }
            objects[i].render(fields: fields, to: &out)
        }
        out.raw("]")
        var links: [(String, String)] = []
        let kept = request.queryItems.filter { $0.name != "marker" && $0.name != "page_reverse" }.map { ($0.name, $0.value) }
        if pageSize != Int.max, page.count == pageSize, let last = page.last {
            links.append(("next", Self.encodeQuery(kept + [("marker", objects[last].id)])))
        }
        if marker != nil, let first = page.first {
            links.append(("previous", Self.encodeQuery(kept + [("marker", objects[first].id), ("page_reverse", "True")])))
        }
        if !links.isEmpty {
            out.raw(",")
            out.string(collection + "_links")
            out.raw(":[")
            for (n, link) in links.enumerated() {
                if n > 0 { out.raw(",") }
                out.raw("{\"rel\":")
                out.string(link.0)
                out.raw(",\"href\":")
                out.string("\(linkBase)/v2.0/\(collection)?\(link.1)")
                out.raw("}")
            }
            out.raw("]")
        }
        out.raw("}")
        return (.json(data: Data(out.bytes)), links.first { $0.0 == "next" }?.1)
    }

    // MARK: - Helpers

    /// Index of the object with `id` (objects are sorted by ID).
    static func index<T: StandInObject>(of id: String, in objects: [T]) -> Int? {
        var lo = 0, hi = objects.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if objects[mid].id < id { lo = mid + 1 } else { hi = mid }
        }
        return lo < objects.count && objects[lo].id == id ? lo : nil
    }

    /// Position of the first element greater than `value` in `sorted`.
    static func firstGreater(_ value: Int, in sorted: [Int]) -> Int {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] <= value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    static func collection(of path: String) -> String? {
        guard let r = path.range(of: "/v2.0/") else { return nil }
        return path[r.upperBound...].split(separator: "/").first.map(String.init)
    }

    /// The request normalised: method, path, and decoded query items in order.
    static func cacheKey(_ request: ScriptedRequest) -> String {
        request.method + " " + request.path + "?" + request.queryItems.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    static func encodeQuery(_ items: [(String, String)]) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#")
        return items.map { k, v in
            (k.addingPercentEncoding(withAllowedCharacters: allowed) ?? k) + "=" + (v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)
        }.joined(separator: "&")
    }

    static func error(_ status: Int, _ type: String, _ message: String) -> ScriptedResponse {
        var out = JSONBytes()
        out.raw("{\"NeutronError\":{\"type\":")
        out.string(type)
        out.raw(",\"message\":")
        out.string(message)
        out.raw(",\"detail\":\"\"}}")
        return .json(data: Data(out.bytes), status: status)
    }
}
