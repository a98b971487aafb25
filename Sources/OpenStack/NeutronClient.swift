#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Model
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Reads the Neutron state the agent needs — routers, router interface ports, subnets, networks —
/// as one complete `CloudSnapshot`, or fails as a whole.
///
/// One read is a constant number of list requests, whatever the number of routers: one per
/// collection (4), plus one per extra page. Each list asks only for the fields the agent uses
/// (`fields=`), pages with `limit=ClientOptions.pageSize`, and follows `<collection>_links`
/// `rel=next` until a page is empty or has no next link. The four lists run concurrently over one
/// keep-alive connection pool.
///
/// ```swift
/// let config = try CloudConfig.resolve(cloud: nil, environment: ProcessInfo.processInfo.environment)
/// let neutron = try NeutronClient(config: config, logger: Logger(label: "openstack"))
/// let snapshot = try await neutron.readSnapshot()
/// try await neutron.shutdown()
/// ```
///
/// Tokens: fetched on first use, renewed before `expires_at` (`ClientOptions.tokenRenewalMargin`),
/// and after a 401 from Neutron fetched once more and the request sent once more; a second 401 is
/// an error, never a loop. With `auth_type: none` there is no Keystone and no token.
///
/// Next links: only the query of a `next` link is used, on this client's own endpoint URL, so a
/// Neutron behind a proxy that writes its internal address into links still pages correctly and
/// the token is never sent to a host other than the configured endpoint.
public final class NeutronClient: Sendable {
    public let config: CloudConfig
    let options: ClientOptions
    let logger: Logger
    let transport: Transport
    let session: KeystoneSession?

    /// - Throws: `OpenStackError.configuration` when the configuration is incomplete.
    public init(config: CloudConfig, options: ClientOptions = .init(), logger: Logger) throws {
        try config.validate()
        guard options.pageSize > 0, options.maxPages > 0, options.maxRetries >= 0 else {
            throw OpenStackError.configuration("pageSize and maxPages must be positive and maxRetries not negative")
        }
        self.config = config
        self.options = options
        self.logger = logger
        self.transport = Transport(config: config, options: options, logger: logger)
        if config.authType == .none {
            self.session = nil
        } else {
            self.session = KeystoneSession(authenticator: KeystoneAuthenticator(config: config, transport: transport, options: options))
        }
    }

    /// Counters since the client was created.
    public var statistics: ClientStatistics {
        transport.stats.withLockedValue { $0 }
    }

    /// Closes the connection pool. Call when the client is no longer used (again: no effect).
    /// A client dropped without it closes its pool in the background.
    public func shutdown() async throws {
        try await transport.shutdown()
    }

    // MARK: - Reads

    /// What this client's last successful read saw, page by page, with the items it decoded (the
    /// arrays of the snapshot it returned, shared, not copied).
    let memory = NIOLockedValueBox<ReadMemory?>(nil)

    /// Every router, router interface port, subnet and network, paginated and strictly decoded.
    ///
    /// Where the lists disagree, the missing objects are read again by ID (`ReadConsistency`); pass
    /// `consistent: false` only to test decoding on deliberately incomplete answers.
    ///
    /// A page byte-identical to the same page of this client's previous successful read (same request,
    /// same length and keyed hash of the body, taken as it arrives) is not decoded again: its items
    /// are the previous read's.
    ///
    /// - Throws: `OpenStackError` for the whole read if any request or any decoding fails, and
    ///   `InconsistentReadError` when the lists contradict each other; a partial snapshot is never returned.
    public func readSnapshot(consistent: Bool = true) async throws -> CloudSnapshot {
        try await read(consistent: consistent).snapshot
    }

    /// A read like `readSnapshot()`, or nil when every page of it was byte-identical to the pages of
    /// this client's previous successful read (`readSnapshot()` or this): nothing was decoded and the
    /// previous snapshot still holds, so planning can be skipped too. The same requests are sent either
    /// way (4 lists + 1 per page). The first read of a client, and a read after one the consistency
    /// re-reads had to mend (or any failed read's successor whose pages differ), returns a snapshot.
    /// The client keeps, between reads, the digest of each page and the previous snapshot's arrays
    /// (shared with the caller's copy, not duplicated).
    public func readSnapshotIfChanged() async throws -> CloudSnapshot? {
        let r = try await read(consistent: true)
        return r.unchanged ? nil : r.snapshot
    }

    enum Part: Sendable {
        case routers(ListRead<Router>)
        case ports(ListRead<RouterPort>)
        case subnets(ListRead<Subnet>)
        case networks(ListRead<Network>)
    }

    func read(consistent: Bool) async throws -> (snapshot: CloudSnapshot, unchanged: Bool) {
        let start = ContinuousClock.now
        let before = statistics.requests
        let auth = try await currentAuth()
        let previous = consistent ? memory.withLockedValue { $0 } : nil
        var snapshot = CloudSnapshot()
        var next = ReadMemory()
        // One string table for the four lists: a port's device_id shares its router's ID, a fixed IP's
        // subnet_id the subnet's (less memory, and the planner's lookups compare equal storage first).
        let strings = SharedStrings()
        try await withThrowingTaskGroup(of: Part.self) { group in
            group.addTask { .routers(try await self.list(NeutronWire.routers, NeutronPageDecoder.routerKind, auth: auth, previous: previous?.routers, strings: strings)) }
            group.addTask { .ports(try await self.list(NeutronWire.ports, NeutronPageDecoder.portKind, auth: auth, previous: previous?.ports, strings: strings)) }
            group.addTask { .subnets(try await self.list(NeutronWire.subnets, NeutronPageDecoder.subnetKind, auth: auth, previous: previous?.subnets, strings: strings)) }
            group.addTask { .networks(try await self.listNetworks(auth: auth, previous: previous?.networks, strings: strings)) }
            for try await part in group {
                switch part {
                case .routers(let r): snapshot.routers = r.items; next.routers = r.memory
                case .ports(let p): snapshot.ports = p.items; next.ports = p.memory
                case .subnets(let s): snapshot.subnets = s.items; next.subnets = s.memory
                case .networks(let n): snapshot.networks = n.items; next.networks = n.memory
                }
            }
        }
        let unchanged = previous != nil && next.routers.unchanged && next.ports.unchanged && next.subnets.unchanged && next.networks.unchanged
        if consistent {
            if unchanged {
                // The same bytes as a read that was consistent without re-reads: consistent again.
                memory.withLockedValue { $0 = next }
            } else {
                let (mended, reread) = try await makeConsistent(snapshot, auth: auth)
                snapshot = mended
                // A read the re-reads had to mend is not remembered: its by-ID parts are not pages.
                memory.withLockedValue { $0 = reread ? nil : next }
            }
        }
        logger.debug("Neutron read complete", metadata: [
            "routers": "\(snapshot.routers.count)", "ports": "\(snapshot.ports.count)",
            "subnets": "\(snapshot.subnets.count)", "networks": "\(snapshot.networks.count)",
            "requests": "\(statistics.requests - before)", "duration_ms": "\(Transport.milliseconds(ContinuousClock.now - start))",
            "unchanged": "\(unchanged)",
        ])
        return (snapshot, unchanged)
    }

    /// Authenticates (unless `auth_type: none`), finds the network endpoint and lists one router, to
    /// prove that the credentials work and Neutron answers. Returns a one-line account without secrets.
    /// Only the tests use it.
    func checkAuthentication() async throws -> String {
        let auth = try await currentAuth()
        let start = ContinuousClock.now
        _ = try await list(NeutronWire.routers, NeutronPageDecoder.routerKind, fields: ["id", "admin_state_up"], auth: auth, onePage: true, limit: 1)
        let ms = Transport.milliseconds(ContinuousClock.now - start)
        return "\(auth.summary); network endpoint \(redactURL(auth.endpoint)) answered in \(ms) ms (\(config.source))"
    }

    func currentAuth() async throws -> AuthState {
        if let session { return try await session.valid() }
        return AuthState(token: nil, expiresAt: nil, renewAt: nil, endpoint: neutronBase(config.networkEndpointOverride ?? ""),
                         summary: "no authentication (auth_type none)", generation: 0)
    }

    // MARK: - Lists

    /// All items of a collection, following next links: the resource's filters (and `filters`, such as
    /// `id=` lists), and its requested fields unless `fields` names others. Each page is decoded straight
    /// into the one result array as soon as its body is complete, and its body dropped; `keep` (if any)
    /// filters each page's items as they are decoded.
    ///
    /// With `previous` (the same list of the previous read), a page whose request and body digest equal
    /// the previous read's page at the same position is not decoded: its items are the previous ones.
    func list<Item: Sendable>(_ resource: NeutronWire.Resource, _ kind: NeutronPageDecoder.Kind<Item>,
                              fields: [String]? = nil, filters: [(String, String)] = [],
                              auth initial: AuthState, onePage: Bool = false, limit: Int? = nil,
                              previous: ListMemory<Item>? = nil, keep: (@Sendable (Item) -> Bool)? = nil,
                              strings shared: SharedStrings? = nil) async throws -> ListRead<Item> {
        let collection = resource.collection
        let path = "/v2.0/" + collection
        var items: [(String, String)] = resource.filters + filters
        items += (fields ?? resource.requestedFields).map { ("fields", $0) }
        items.append(("limit", String(limit ?? options.pageSize)))
        var query = Self.encodeQuery(items)
        var auth = initial
        var seen: Set<String> = []
        var result: [Item] = []
        var marks: [PageMark] = []
        // While every page so far equals the previous read's, nothing is decoded: `reused` items of
        // the previous read stand for them.
        var same = previous != nil
        var reused = 0
        let strings = shared ?? SharedStrings()
        var pages = 0
        while true {
            pages += 1
            guard pages <= options.maxPages else {
                throw OpenStackError.pagination(path: path, detail: "more than \(options.maxPages) pages; raise ClientOptions.maxPages or check the server's paging")
            }
            guard seen.insert(query).inserted else {
                throw OpenStackError.pagination(path: path, detail: "the next link repeats an earlier page (the marker does not advance)")
            }
            let (body, newAuth) = try await get(collection: collection, query: query, auth: auth)
            auth = newAuth
            let index = marks.count
            let mark: PageMark
            if same, let previous, index < previous.pages.count, previous.pages[index].query == query,
               previous.pages[index].digest == body.digest {
                mark = previous.pages[index]
                reused += mark.kept
            } else {
                if same {
                    same = false
                    if let previous {
                        result.reserveCapacity(previous.items.count)
                        result.append(contentsOf: previous.items[0..<reused])
                    }
                }
                let before = result.count
                let next: String?
                do {
                    next = try strings.withTable { table in
                        try body.body.withUnsafeReadableBytes { try NeutronPageDecoder.decode($0, kind, into: &result, strings: table) }
                    }
                } catch let e as DecodingError {
                    throw OpenStackError.invalidResponse(service: "Neutron", path: path,
                                                         detail: describeDecodingError(e, contentType: body.headers.first(name: "Content-Type"), bytes: body.body.readableBytes))
                }
                let decoded = result.count - before
                if let keep { Self.filter(&result, from: before, keep) }
                mark = PageMark(query: query, digest: body.digest, next: next, decoded: decoded, kept: result.count - before)
            }
            marks.append(mark)
            if onePage || mark.decoded == 0 { break }
            guard let next = mark.next else { break }
            query = try Self.nextQuery(next, collection: collection)
        }
        if same, let previous {
            if marks.count == previous.pages.count {
                return ListRead(items: previous.items, memory: ListMemory(pages: marks, items: previous.items, unchanged: true))
            }
            result = Array(previous.items[0..<reused])
        }
        return ListRead(items: result, memory: ListMemory(pages: marks, items: result, unchanged: false))
    }

    /// Removes the items of `items[from...]` that `keep` refuses, in place.
    static func filter<Item>(_ items: inout [Item], from: Int, _ keep: (Item) -> Bool) {
        var w = from
        for r in from..<items.count where keep(items[r]) {
            if w != r { items.swapAt(w, r) }
            w += 1
        }
        items.removeSubrange(w...)
    }

    /// GET one page; on 401 fetch a new token once and send once more.
    func get(collection: String, query: String, auth: AuthState) async throws -> (Exchange, AuthState) {
        let path = "/v2.0/" + collection
        let logPath = path + "?" + String(query.prefix(300))
        var auth = auth
        var ex = try await send(auth.endpoint + "/" + collection + "?" + query, logPath: logPath, auth: auth)
        if ex.status == 401, let session {
            logger.debug("Neutron answered 401; fetching a new token", metadata: ["path": "\(path)"])
            auth = try await session.renew(invalidating: auth)
            ex = try await send(auth.endpoint + "/" + collection + "?" + query, logPath: logPath, auth: auth)
        }
        guard (200..<300).contains(ex.status) else {
            throw OpenStackError.httpStatus(service: "Neutron", method: "GET", path: path, status: ex.status,
                                            message: errorMessage(ex.body), attempts: ex.attempts)
        }
        return (ex, auth)
    }

    private func send(_ url: String, logPath: String, auth: AuthState) async throws -> Exchange {
        var headers = HTTPHeaders()
        headers.add(name: "Accept", value: "application/json")
        if let token = auth.token { headers.add(name: "X-Auth-Token", value: token.value) }
        return try await transport.send(.neutron, method: .GET, url: url, headers: headers, logPath: logPath)
    }

    /// The query of a `next` link, checked to point at the same collection.
    static func nextQuery(_ href: String, collection: String) throws -> String {
        let path = "/v2.0/" + collection
        guard let c = URLComponents(string: href) else {
            throw OpenStackError.pagination(path: path, detail: "the next link is not a URL")
        }
        var linkPath = c.percentEncodedPath
        while linkPath.hasSuffix("/") { linkPath.removeLast() }
        guard linkPath.hasSuffix("/" + collection) else {
            throw OpenStackError.pagination(path: path, detail: "the next link points at '\(linkPath.prefix(100))', not at \(collection)")
        }
        guard let q = c.percentEncodedQuery, !q.isEmpty else {
            throw OpenStackError.pagination(path: path, detail: "the next link has no query (no marker)")
        }
        return q
    }

    static func encodeQuery(_ items: [(String, String)]) -> String {
        items.map { k, v in percentEncode(k) + "=" + percentEncode(v) }.joined(separator: "&")
    }

    /// Percent-encodes all but the characters a query may hold literally (RFC 3986), less `&=+#`.
    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case _ where "!$'()*,-./:;?@_~".utf8.contains(b):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let h = String(b, radix: 16, uppercase: true)
                out += "%" + (h.count < 2 ? "0" : "") + h
            }
        }
        return out
    }
}

extension NeutronClient {
    /// The networks of a read: only the external ones (`router:external=True`, filtered by Neutron,
    /// and checked again here) unless `ClientOptions.externalNetworksOnly` is off (address-scope mode
    /// needs the tenant networks' address scopes).
    func listNetworks(auth: AuthState, previous: ListMemory<Network>? = nil, strings: SharedStrings? = nil) async throws -> ListRead<Network> {
        guard options.externalNetworksOnly else {
            return try await list(NeutronWire.networks, NeutronPageDecoder.networkKind, auth: auth, previous: previous, strings: strings)
        }
        return try await list(NeutronWire.networks, NeutronPageDecoder.networkKind, filters: [("router:external", "True")], auth: auth,
                              previous: previous, keep: { $0.isExternal }, strings: strings)
    }
}

/// The string table of one read, shared by its concurrent lists: a page is decoded under its lock
/// (pages of different lists are decoded one after the other; their requests still overlap).
final class SharedStrings: @unchecked Sendable {
    private let lock = NIOLock()
    private let table = StringTable(capacity: 16_384)

    func withTable<T>(_ body: (StringTable) throws -> T) rethrows -> T {
        try lock.withLock { try body(table) }
    }
}

/// One page of a list as it was read: enough to recognise the same page next time, and to stand in
/// for its items when it is the same.
struct PageMark: Sendable, Equatable {
    var query: String
    var digest: BodyDigest
    var next: String?
    /// Items decoded from the page, and those kept (after the list's filter).
    var decoded: Int
    var kept: Int
}

/// One list of the previous read: its pages and its items.
struct ListMemory<Item: Sendable>: Sendable {
    var pages: [PageMark] = []
    var items: [Item] = []
    /// Every page was the same as the read before.
    var unchanged = false
}

struct ListRead<Item: Sendable>: Sendable {
    var items: [Item]
    var memory: ListMemory<Item>
}

/// The four lists of the previous successful read.
struct ReadMemory: Sendable {
    var routers = ListMemory<Router>()
    var ports = ListMemory<RouterPort>()
    var subnets = ListMemory<Subnet>()
    var networks = ListMemory<Network>()
}
