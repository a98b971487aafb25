import Foundation
import Model
import OpenStack
import Synchronization

/// The Neutron stand-in of every test and of the benchmark: serves a cloud through Neutron's API on
/// `ScriptedHTTPServer`, the way a real neutron-server answers (see shared/fixtures/neutron/), fast
/// enough not to be what is measured. The cloud is a generated one (`StandInCloud`, N routers), a
/// `CloudSnapshot`, or a snapshot file that is read again whenever it changes (so a test changes
/// "Neutron" by rewriting the file). Objects are written field by field from `NeutronWire`'s table;
/// queries are parsed with the stand-in's own code, never the client's.
///
/// - `GET …/v2.0/{routers|ports|subnets|networks}` with `fields=` (projection; unknown names
///   ignored), filters on any scalar field of the table (`device_owner`, `device_id`, `id`,
///   `network_id`, `project_id`, `router:external=True`…; repeated = OR; any other is a 400, as with
///   Neutron's filter validation), `limit` + `marker` paging with `<collection>_links` (`next`
///   whenever a page is full, so a full last page links to an empty one, and `previous`, as Neutron
///   does; an unknown marker is a 404), and a server-forced page size (`maxPageSize`, Neutron's
///   `pagination_max_limit`);
/// - `GET …/v2.0/{collection}/{id}`: one object, or a 404 with Neutron's error body;
/// - faults (`Fault`): a status, a delay, a body cut off in transit or a dropped connection, for the
///   next N requests to a path;
/// - control endpoints, never counted (`/_control/…`): `GET stats` (requests and body bytes served),
///   `POST reset` (zero the counters, clear the faults), `POST fault?path=/v2.0/ports&count=2&status=503`
///   (also `delay_ms=`, `truncate=BYTES`, `drop=1`), `POST snapshot` (body: a snapshot to serve from
///   now on) or `POST snapshot?path=FILE`, `POST churn?percent=1` (generated clouds: change the cloud,
///   answer what changed and what an agent should write), `GET cloud`.
///
/// Responses are cached by their normalised request, and the pages of the agent's own read
/// (`NeutronWire`'s fields and filters with `limit=1000`) are rendered before the first request and
/// again after each change.
///
/// ```swift
/// let standIn = NeutronStandIn(routers: 10_000, maxPageSize: 1000)
/// let server = try await standIn.start(port: 0)
/// // OS_AUTH_TYPE=none OS_NETWORK_ENDPOINT_OVERRIDE=\(server.baseURL)/ metadata-route-agent sync …
/// ```
public final class NeutronStandIn: Sendable {
    /// Counters of Neutron API requests (control endpoints excluded).
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

    /// A fault for the next `count` Neutron requests whose path starts with `path` (every request
    /// when `path` is empty; for ever when `count` is nil). The first fault that matches applies.
    public struct Fault: Sendable, Equatable {
        public var path: String
        public var count: Int?
        /// Answer with this status and a NeutronError body instead of the resource.
        public var status: Int?
        /// Wait this long before answering.
        public var delay: Duration
        /// Send only this many bytes of the body, then close the connection.
        public var truncateAfter: Int?
        /// Close the connection without an answer.
        public var drop: Bool

        public init(path: String = "", count: Int? = 1, status: Int? = nil, delay: Duration = .zero, truncateAfter: Int? = nil,
                    drop: Bool = false) {
            self.path = path
            self.count = count
            self.status = status
            self.delay = delay
            self.truncateAfter = truncateAfter
            self.drop = drop
        }
    }

    /// Where the served cloud comes from.
    enum Source: Sendable {
        case generated(StandInCloud)
        case snapshot
        /// A file, with what it looked like when last read.
        case file(path: String, stamp: FileStamp?)
    }

    struct FileStamp: Equatable, Sendable {
        var modified: Date?
        var size: Int?
        var inode: Int?

        init?(_ path: String) {
            guard let a = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
            modified = a[.modificationDate] as? Date
            size = (a[.size] as? NSNumber)?.intValue
            inode = (a[.systemFileNumber] as? NSNumber)?.intValue
        }
    }

    struct State {
        var source: Source
        /// What is served: every collection sorted by ID.
        var cloud = Served(CloudSnapshot())
        /// Why the snapshot file cannot be served (a 500 for every request), if it cannot.
        var fileError: String?
        var cache: [String: ScriptedResponse] = [:]
        var counters = Counters()
        var faults: [Fault] = []
        var linkBase = "http://127.0.0.1"
        /// Where notifications of `/_control/change` go (nil: none are published).
        var notifier: (any NotificationPublishing)?
        /// Notifications built so far (their message IDs).
        var notificationSerial = 0
    }

    /// The four collections, sorted by ID (Neutron's paging order; `index(of:)` searches them).
    struct Served: Sendable {
        var snapshot: CloudSnapshot

        init(_ s: CloudSnapshot) {
            snapshot = CloudSnapshot(routers: s.routers.sorted { $0.id < $1.id }, ports: s.ports.sorted { $0.id < $1.id },
                                     subnets: s.subnets.sorted { $0.id < $1.id }, networks: s.networks.sorted { $0.id < $1.id })
        }
    }

    public let maxPageSize: Int?
    private let state: Mutex<State>
    /// The time written into notifications (`timestamp`, `updated_at`): the wall clock unless a test injects one.
    let clock: @Sendable () -> Date
    /// Serialises `/_control/change` calls (each one's start events, change and end events stay together).
    private let changeLock = AsyncLock()

    /// The page size of the agent's own reads (`ClientOptions.pageSize`'s default), pre-rendered.
    public static let agentPageSize = 1000

    /// A generated cloud of `routers` routers (`StandInCloud`).
    public convenience init(routers: Int, maxPageSize: Int? = 1000) {
        let cloud = StandInCloud(routers: routers)
        self.init(source: .generated(cloud), snapshot: cloud.snapshot, maxPageSize: maxPageSize)
    }

    /// A fixed snapshot (changed with `serve(_:)`).
    public convenience init(snapshot: CloudSnapshot, maxPageSize: Int? = nil) {
        self.init(source: .snapshot, snapshot: snapshot, maxPageSize: maxPageSize)
    }

    /// A snapshot file (`SnapshotFile`'s format), read again whenever it changes. A file that cannot
    /// be read or decoded makes every Neutron request a 500 until it is fixed.
    public convenience init(snapshotFile path: String, maxPageSize: Int? = 1000) {
        self.init(source: .file(path: path, stamp: nil), snapshot: CloudSnapshot(), maxPageSize: maxPageSize)
        refreshFile()
    }

    /// A generated cloud of `routers` routers whose notifications carry times from `clock` (unit tests).
    public convenience init(routers: Int, maxPageSize: Int? = 1000, clock: @escaping @Sendable () -> Date) {
        let cloud = StandInCloud(routers: routers)
        self.init(source: .generated(cloud), snapshot: cloud.snapshot, maxPageSize: maxPageSize, clock: clock)
    }

    private init(source: Source, snapshot: CloudSnapshot, maxPageSize: Int?, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.maxPageSize = maxPageSize
        self.clock = clock
        state = Mutex(State(source: source, cloud: Served(snapshot)))
    }

    /// Publishes the notifications of every `/_control/change` to `notifier` from now on (nil: stop).
    public func setNotifier(_ notifier: (any NotificationPublishing)?) {
        state.withLock { $0.notifier = notifier }
    }

    /// Serves on 127.0.0.1:`port` (0: an ephemeral port) after rendering the agent's pages.
    public func start(port: Int = 0) async throws -> ScriptedHTTPServer {
        let server = try await ScriptedHTTPServer.start(port: port) { [self] request in
            await handle(request)
        }
        setLinkBase(server.baseURL)
        return server
    }

    /// The scheme://host:port written into `next` links (set by `start`; for a stand-in answering
    /// inside another server, that server's base URL).
    public func setLinkBase(_ base: String) {
        state.withLock { s in
            s.linkBase = base
            s.cache = [:]
        }
        prerender()
    }

    public var counters: Counters { state.withLock { $0.counters } }
    /// What is served now (collections sorted by ID).
    public var snapshot: CloudSnapshot { state.withLock { $0.cloud.snapshot } }
    /// The generated cloud, if this stand-in serves one.
    public var cloud: StandInCloud? {
        state.withLock { s in
            if case .generated(let c) = s.source { return c }
            return nil
        }
    }

    public func resetCounters() { state.withLock { $0.counters = Counters() } }

    public func addFault(_ fault: Fault) { state.withLock { $0.faults.append(fault) } }

    public func clearFaults() { state.withLock { $0.faults = [] } }

    /// Serves `snapshot` from now on (a file source stops being read).
    public func serve(_ snapshot: CloudSnapshot) {
        replace(source: .snapshot, cloud: Served(snapshot))
    }

    /// Applies one churn round to a generated cloud and re-renders the agent's pages (nil: not generated).
    @discardableResult
    public func churn(percent: Double) -> StandInCloud.ChurnReport? {
        let result: (StandInCloud, StandInCloud.ChurnReport)? = state.withLock { s in
            guard case .generated(var c) = s.source else { return nil }
            let report = c.churn(percent: percent)
            return (c, report)
        }
        guard let (cloud, report) = result else { return nil }
        replace(source: .generated(cloud), cloud: Served(cloud.snapshot))
        return report
    }

    private func replace(source: Source, cloud: Served, fileError: String? = nil) {
        state.withLock { s in
            s.source = source
            s.cloud = cloud
            s.fileError = fileError
            s.cache = [:]
        }
        prerender()
    }

    /// Reads the snapshot file again when it changed since the last read.
    private func refreshFile() {
        guard case .file(let path, let old) = state.withLock({ $0.source }) else { return }
        let now = FileStamp(path)
        guard now == nil || now != old else { return }
        do {
            let snapshot = try SnapshotFile.load(from: path)
            replace(source: .file(path: path, stamp: now), cloud: Served(snapshot))
        } catch {
            let why = "snapshot file \(path) cannot be served: \(error)"
            state.withLock { s in
                s.source = .file(path: path, stamp: now)
                s.fileError = why
                s.cache = [:]
            }
        }
    }

    // MARK: - Requests

    /// The answer to any request, including the control calls that publish notifications (`POST /_control/change`).
    public func handle(_ request: ScriptedRequest) async -> ScriptedResponse {
        if request.method == "POST", request.path.hasSuffix("/_control/change") { return await change(request) }
        return respond(to: request)
    }

    /// The outcome of `applyChanges`: what changed, and how many notifications were published.
    public struct ChangeReport: Sendable, Codable {
        public var changes: [StandInCloud.Change]
        public var published: Int
        /// Time spent publishing the `.end` notifications (after the change became visible).
        public var publishMilliseconds: Double

        enum CodingKeys: String, CodingKey {
            case changes, published
            case publishMilliseconds = "publish_ms"
        }
    }

    /// Makes `count` changes of `kind` (nil: cycling through every kind) to a generated cloud, as one batch: the
    /// `.start` notifications are published first, then the changes are made and the agent's pages re-rendered, and
    /// only then — the changes visible to every API request — the `.end` notifications (and `router.interface.*`)
    /// are published. Returns once they are written to the broker's socket.
    public func applyChanges(_ kind: StandInCloud.ChangeKind?, count: Int = 1, routerIndex: Int? = nil) async throws -> ChangeReport {
        await changeLock.lock()
        do {
            let report = try await applyChangesLocked(kind, count: count, routerIndex: routerIndex)
            await changeLock.unlock()
            return report
        } catch {
            await changeLock.unlock()
            throw error
        }
    }

    private func applyChangesLocked(_ kind: StandInCloud.ChangeKind?, count: Int, routerIndex: Int?) async throws -> ChangeReport {
        let stamp = StandInNotification.isoSeconds(clock())
        let planned: (StandInCloud, [StandInCloud.Change], (any NotificationPublishing)?) = try state.withLock { s in
            guard case .generated(var c) = s.source else { throw StandInCloud.ChangeError.noRouter("changes need a generated cloud (--routers N)") }
            var changes: [StandInCloud.Change] = []
            let kinds = StandInCloud.ChangeKind.allCases
            let first = c.changesApplied
            for i in 0..<count {
                let k = kind ?? kinds[(first + i) % kinds.count]
                changes.append(try c.applyChange(k, routerIndex: routerIndex, excluding: Set(changes.map(\.routerID)), stamp: stamp))
            }
            return (c, changes, s.notifier)
        }
        let (cloud, changes, notifier) = planned
        let before = changes.flatMap(\.before)
        if let notifier, !before.isEmpty { try await notifier.publish(bodies(before)) }
        replace(source: .generated(cloud), cloud: Served(cloud.snapshot))
        let after = changes.flatMap(\.after)
        let started = ContinuousClock.now
        if let notifier, !after.isEmpty { try await notifier.publish(bodies(after)) }
        let took = ContinuousClock.now - started
        let ms = Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15
        return ChangeReport(changes: changes, published: notifier == nil ? 0 : before.count + after.count, publishMilliseconds: ms)
    }

    private func bodies(_ events: [StandInCloud.Event]) -> [[UInt8]] {
        let now = clock()
        return events.map { e in
            let serial = state.withLock { s in
                s.notificationSerial += 1
                return s.notificationSerial
            }
            return StandInNotification.body(eventType: e.eventType, payload: e.payload, serial: serial, timestamp: now)
        }
    }

    /// `POST /_control/change?kind=gateway|gateway_port|add_interface|remove_interface|delete_router|mixed&count=N&router=INDEX`
    private func change(_ request: ScriptedRequest) async -> ScriptedResponse {
        let kindText = request.queryValues("kind").first ?? "mixed"
        let kind = StandInCloud.ChangeKind(rawValue: kindText)
        guard kind != nil || kindText == "mixed" else {
            let names = StandInCloud.ChangeKind.allCases.map(\.rawValue).joined(separator: ", ")
            return Self.error(400, "BadRequest", "unknown kind '\(kindText)' (one of \(names), mixed)")
        }
        let count = request.queryValues("count").first.flatMap { Int($0) } ?? 1
        guard (1...10_000).contains(count) else { return Self.error(400, "BadRequest", "count must be 1...10000") }
        let router = request.queryValues("router").first.flatMap { Int($0) }
        do {
            let report = try await applyChanges(kind, count: count, routerIndex: router)
            return .json(data: (try? JSONEncoder().encode(report)) ?? Data())
        } catch let error as StandInCloud.ChangeError {
            return Self.error(400, "BadRequest", error.description)
        } catch {
            return Self.error(502, "NotificationFailed", "the change was made but its notifications could not be published: \(error)")
        }
    }

    /// The answer to any request (control or Neutron).
    public func respond(to request: ScriptedRequest) -> ScriptedResponse {
        let path = request.path
        if let r = path.range(of: "/_control/") { return control(request, String(path[r.upperBound...])) }
        refreshFile()
        let items = request.queryItems.map { ($0.name, $0.value) }
        let key = request.method + " " + path + "?" + items.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let (fault, cached, fileError) = state.withLock { (s: inout State) -> (Fault?, ScriptedResponse?, String?) in
            var fault: Fault?
            if let i = s.faults.firstIndex(where: { path.hasPrefix($0.path) }) {
                fault = s.faults[i]
                if let n = s.faults[i].count {
                    if n <= 1 { s.faults.remove(at: i) } else { s.faults[i].count = n - 1 }
                }
            }
            return (fault, s.cache[key], s.fileError)
        }
        var response: ScriptedResponse
        if let status = fault?.status {
            response = Self.error(status, "StandInFault", "fault injected by the stand-in (status \(status))")
        } else if let fileError {
            response = Self.error(500, "HTTPInternalServerError", fileError)
        } else if let cached {
            response = cached
        } else {
            let (cloud, base) = state.withLock { ($0.cloud, $0.linkBase) }
            response = render(request.method, path, items, cloud: cloud, linkBase: base).0
            if response.status == 200 { state.withLock { $0.cache[key] = response } }
        }
        if let fault {
            response.delay = fault.delay
            response.truncateAfter = fault.truncateAfter
            response.dropConnection = fault.drop
        }
        let sent = response.dropConnection ? 0 : min(response.body.count, response.truncateAfter ?? .max)
        state.withLock { s in
            s.counters.requests += 1
            s.counters.bytes += sent
            s.counters.byCollection[Self.collection(of: path) ?? "other", default: 0] += 1
            s.counters.byStatus[response.dropConnection ? "dropped" : String(response.status), default: 0] += 1
        }
        return response
    }

    private func control(_ request: ScriptedRequest, _ command: String) -> ScriptedResponse {
        func number(_ name: String) -> Int? { request.queryValues(name).first.flatMap { Int($0) } }
        switch (request.method, command) {
        case ("GET", "stats"):
            return .json(data: (try? JSONEncoder().encode(counters)) ?? Data())
        case ("POST", "reset"):
            resetCounters()
            clearFaults()
            return .json("{}")
        case ("POST", "fault"):
            addFault(Fault(path: request.queryValues("path").first ?? "", count: number("count") ?? 1, status: number("status"),
                           delay: .milliseconds(number("delay_ms") ?? 0), truncateAfter: number("truncate"),
                           drop: ["1", "true"].contains(request.queryValues("drop").first?.lowercased() ?? "")))
            return .json("{}")
        case ("POST", "snapshot"):
            if let path = request.queryValues("path").first {
                replace(source: .file(path: path, stamp: nil), cloud: Served(CloudSnapshot()))
                refreshFile()
                return state.withLock { $0.fileError }.map { Self.error(400, "BadRequest", $0) } ?? .json("{}")
            }
            do {
                serve(try SnapshotFile.decode(Data(request.body)))
                return .json("{}")
            } catch {
                return Self.error(400, "BadRequest", "the body is not a snapshot: \(error)")
            }
        case ("POST", "churn"):
            let percent = request.queryValues("percent").first.flatMap(Double.init) ?? 1
            guard let report = churn(percent: percent) else {
                return Self.error(400, "BadRequest", "churn needs a generated cloud (--routers N)")
            }
            return .json(data: (try? JSONEncoder().encode(report)) ?? Data())
        case ("GET", "cloud"):
            let s = snapshot
            var text = #""routers":\#(s.routers.count),"ports":\#(s.ports.count),"subnets":\#(s.subnets.count),"networks":\#(s.networks.count),"external_networks":\#(s.networks.filter(\.isExternal).count)"#
            if let c = cloud {
                text += """
                    ,"expected_routes":\(c.expectedRoutes),"expected_nexthops":\(c.expectedNexthops),"churn_rounds":\(c.churnRounds),\
                    "external_v4":"\(StandInCloud.externalV4)","external_v6":"\(StandInCloud.externalV6)",\
                    "host_address_v4":"\(StandInCloud.hostAddressV4)","host_address_v6":"\(StandInCloud.hostAddressV6)"
                    """
            }
            return .json("{" + text + "}")
        default:
            return Self.error(404, "NotFound", "no control command \(request.method) \(command)")
        }
    }

    /// Renders the pages `NeutronClient.readSnapshot` asks for, following next links, into the cache.
    public func prerender() {
        let (cloud, base) = state.withLock { ($0.cloud, $0.linkBase) }
        var rendered: [String: ScriptedResponse] = [:]
        for resource in NeutronWire.all {
            let path = "/v2.0/" + resource.collection
            var items = resource.filters + resource.requestedFields.map { ("fields", $0) } + [("limit", String(Self.agentPageSize))]
            for _ in 0..<100_000 {
                let (response, next) = render("GET", path, items, cloud: cloud, linkBase: base)
                rendered["GET " + path + "?" + items.map { "\($0.0)=\($0.1)" }.joined(separator: "&")] = response
                guard let next else { break }
                items = next
            }
        }
        state.withLock { s in s.cache.merge(rendered) { _, new in new } }
    }

    /// The response and, for a full page, the query items of its `next` link.
    private func render(_ method: String, _ path: String, _ items: [(String, String)], cloud: Served,
                        linkBase: String) -> (ScriptedResponse, [(String, String)]?) {
        guard method == "GET", let range = path.range(of: "/v2.0/") else {
            return (Self.error(404, "HTTPNotFound", "The resource could not be found."), nil)
        }
        let rest = path[range.upperBound...].split(separator: "/").map(String.init)
        guard let collection = rest.first, rest.count <= 2 else {
            return (Self.error(404, "HTTPNotFound", "The resource could not be found."), nil)
        }
        let page = Page(items: items, member: rest.count == 2 ? rest[1] : nil, linkPath: linkBase + path, maxPageSize: maxPageSize)
        let s = cloud.snapshot
        switch collection {
        case "routers": return page.respond(s.routers)
        case "ports": return page.respond(s.ports)
        case "subnets": return page.respond(s.subnets)
        case "networks": return page.respond(s.networks)
        default: return (Self.error(404, "HTTPNotFound", "The resource could not be found."), nil)
        }
    }

    // MARK: - Helpers

    static func collection(of path: String) -> String? {
        guard let r = path.range(of: "/v2.0/") else { return nil }
        return path[r.upperBound...].split(separator: "/").first.map(String.init)
    }

    /// Neutron's error body: `{"NeutronError": {"type": …, "message": …, "detail": ""}}`.
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

/// One list or GET-by-ID request: its parsed query, applied to one sorted collection.
private struct Page {
    var fields = Set<String>()
    var limit: Int?
    var marker: String?
    var filters: [(String, [String])] = []
    var badLimit: String?
    let items: [(String, String)]
    let member: String?
    let linkPath: String
    let maxPageSize: Int?

    init(items: [(String, String)], member: String?, linkPath: String, maxPageSize: Int?) {
        self.items = items
        self.member = member
        self.linkPath = linkPath
        self.maxPageSize = maxPageSize
        for (name, value) in items {
            switch name {
            case "fields": fields.insert(value)
            case "limit":
                if let l = Int(value), l >= 0 { limit = l } else { badLimit = value }
            case "marker": marker = value
            case "page_reverse", "sort_key", "sort_dir": break
            default:
                if let i = filters.firstIndex(where: { $0.0 == name }) { filters[i].1.append(value) } else { filters.append((name, [value])) }
            }
        }
    }

    func respond<T: StandInObject>(_ objects: [T]) -> (ScriptedResponse, [(String, String)]?) {
        let resource = T.resource
        if let badLimit {
            return (NeutronStandIn.error(400, "BadRequest", "Bad limit request: Limit must be an integer 0 or greater and not '\(badLimit)'."), nil)
        }
        if let member {
            guard let i = Self.index(of: member, in: objects) else { return (notFound(resource, member), nil) }
            var out = JSONBytes(capacity: 2048)
            out.raw("{")
            out.string(resource.member)
            out.raw(":")
            objects[i].render(fields: fields, to: &out)
            out.raw("}")
            return (.json(data: Data(out.bytes)), nil)
        }
        if let probe = objects.first {
            for (name, values) in filters where probe.matches(name, values) == nil {
                return (NeutronStandIn.error(400, "HTTPBadRequest", "['\(name)'] is invalid attribute for filtering"), nil)
            }
        }
        let selected = filters.isEmpty
            ? Array(objects.indices)
            : objects.indices.filter { i in filters.allSatisfy { objects[i].matches($0.0, $0.1) == true } }
        var start = 0
        if let marker {
            // Like Neutron: the marker is any existing object (filters need not match it); the page starts after it.
            guard let m = Self.index(of: marker, in: objects) else { return (notFound(resource, marker), nil) }
            start = Self.firstGreater(m, in: selected)
        }
        var pageSize = (limit ?? 0) == 0 ? Int.max : limit!
        if let maxPageSize { pageSize = min(pageSize, maxPageSize) }
        let end = pageSize == Int.max ? selected.count : min(selected.count, start + pageSize)
        let page = selected[start..<end]

        var out = JSONBytes(capacity: 64 + page.count * (fields.isEmpty ? 400 : 250))
        out.raw("{")
        out.string(resource.collection)
        out.raw(":[")
        for (n, i) in page.enumerated() {
            if n > 0 { out.raw(",") }
            objects[i].render(fields: fields, to: &out)
        }
        out.raw("]")
        var links: [(String, [(String, String)])] = []
        let kept = items.filter { $0.0 != "marker" && $0.0 != "page_reverse" }
        if pageSize != Int.max, page.count == pageSize, let last = page.last {
            links.append(("next", kept + [("marker", objects[last].id)]))
        }
        // As recorded (SAMPLES.md): a paginated non-empty page links back from its first object; an
        // empty page after a marker links back without one.
        if pageSize != Int.max, let first = page.first {
            links.append(("previous", kept + [("marker", objects[first].id), ("page_reverse", "True")]))
        } else if pageSize != Int.max, marker != nil {
            links.append(("previous", kept + [("page_reverse", "True")]))
        }
        if !links.isEmpty {
            out.raw(",")
            out.string(resource.collection + "_links")
            out.raw(":[")
            for (n, link) in links.enumerated() {
                if n > 0 { out.raw(",") }
                out.raw("{\"rel\":")
                out.string(link.0)
                out.raw(",\"href\":")
                out.string(linkPath + "?" + StandInQuery.encode(link.1))
                out.raw("}")
            }
            out.raw("]")
        }
        out.raw("}")
        return (.json(data: Data(out.bytes)), links.first { $0.0 == "next" }?.1)
    }

    /// Neutron's 404 for a missing object: `RouterNotFound`, "Router <id> could not be found".
    func notFound(_ resource: NeutronWire.Resource, _ id: String) -> ScriptedResponse {
        let name = resource.member.prefix(1).uppercased() + resource.member.dropFirst()
        return NeutronStandIn.error(404, "\(name)NotFound", "\(name) \(id) could not be found")
    }

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
}

extension NeutronStandIn {
    /// A small cloud for unit tests: `routers` routers, each with a gateway on one external network
    /// (IPv4 + IPv6), one interface port and one tenant subnet 10.x.y.0/24 on its own network.
    public static func simpleCloud(routers count: Int) -> CloudSnapshot {
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
}
