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

    enum Part: Sendable {
        case routers([Router])
        case ports([RouterPort])
        case subnets([Subnet])
        case networks([Network])
    }

    /// Every router, router interface port, subnet and network, paginated and strictly decoded.
    ///
    /// Where the lists disagree, the missing objects are read again by ID (`ReadConsistency`); pass
    /// `consistent: false` only to test decoding on deliberately incomplete answers.
    ///
    /// - Throws: `OpenStackError` for the whole read if any request or any decoding fails, and
    ///   `InconsistentReadError` when the lists contradict each other; a partial snapshot is never returned.
    public func readSnapshot(consistent: Bool = true) async throws -> CloudSnapshot {
        let start = ContinuousClock.now
        let before = statistics.requests
        let auth = try await currentAuth()
        var snapshot = CloudSnapshot()
        try await withThrowingTaskGroup(of: Part.self) { group in
            group.addTask { .routers(try await self.list(NeutronWire.routers, NeutronPageDecoder.routers, auth: auth)) }
            group.addTask { .ports(try await self.list(NeutronWire.ports, NeutronPageDecoder.ports, auth: auth)) }
            group.addTask { .subnets(try await self.list(NeutronWire.subnets, NeutronPageDecoder.subnets, auth: auth)) }
            group.addTask { .networks(try await self.listNetworks(auth: auth)) }
            for try await part in group {
                switch part {
                case .routers(let r): snapshot.routers = r
                case .ports(let p): snapshot.ports = p
                case .subnets(let s): snapshot.subnets = s
                case .networks(let n): snapshot.networks = n
                }
            }
        }
        if consistent { snapshot = try await makeConsistent(snapshot, auth: auth) }
        logger.debug("Neutron read complete", metadata: [
            "routers": "\(snapshot.routers.count)", "ports": "\(snapshot.ports.count)",
            "subnets": "\(snapshot.subnets.count)", "networks": "\(snapshot.networks.count)",
            "requests": "\(statistics.requests - before)", "duration_ms": "\(Transport.milliseconds(ContinuousClock.now - start))",
        ])
        return snapshot
    }

    /// Authenticates (unless `auth_type: none`), finds the network endpoint and lists one router, to
    /// prove that the credentials work and Neutron answers. Returns a one-line account without secrets.
    /// Only the tests use it.
    func checkAuthentication() async throws -> String {
        let auth = try await currentAuth()
        let start = ContinuousClock.now
        _ = try await list(NeutronWire.routers, NeutronPageDecoder.routers, fields: ["id", "admin_state_up"], auth: auth, onePage: true, limit: 1)
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
    /// `id=` lists), and its requested fields unless `fields` names others.
    func list<Item: Sendable>(_ resource: NeutronWire.Resource, _ decode: (UnsafeRawBufferPointer) throws -> NeutronPageDecoder.Page<Item>,
                              fields: [String]? = nil, filters: [(String, String)] = [],
                              auth initial: AuthState, onePage: Bool = false, limit: Int? = nil) async throws -> [Item] {
        let collection = resource.collection
        let path = "/v2.0/" + collection
        var items: [(String, String)] = resource.filters + filters
        items += (fields ?? resource.requestedFields).map { ("fields", $0) }
        items.append(("limit", String(limit ?? options.pageSize)))
        var query = Self.encodeQuery(items)
        var auth = initial
        var seen: Set<String> = []
        var result: [Item] = []
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
            let page: NeutronPageDecoder.Page<Item>
            do {
                page = try body.body.withUnsafeReadableBytes { try decode($0) }
            } catch let e as DecodingError {
                throw OpenStackError.invalidResponse(service: "Neutron", path: path,
                                                     detail: describeDecodingError(e, contentType: body.headers.first(name: "Content-Type"), bytes: body.body.readableBytes))
            }
            result += page.items
            if onePage || page.items.isEmpty { break }
            guard let next = page.next else { break }
            query = try Self.nextQuery(next, collection: collection)
        }
        return result
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
    func listNetworks(auth: AuthState) async throws -> [Network] {
        guard options.externalNetworksOnly else {
            return try await list(NeutronWire.networks, NeutronPageDecoder.networks, auth: auth)
        }
        let all = try await list(NeutronWire.networks, NeutronPageDecoder.networks, filters: [("router:external", "True")], auth: auth)
        return all.filter(\.isExternal)
    }
}
