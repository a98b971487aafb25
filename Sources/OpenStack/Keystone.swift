#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Model
import NIOHTTP1

/// A token (or none) and the Neutron endpoint it goes with.
struct AuthState: Sendable {
    /// Nil with `auth_type: none`.
    var token: Secret?
    var expiresAt: Date?
    /// When to fetch a new token before using this one again.
    var renewAt: Date?
    /// Neutron base URL ending in `/v2.0`, no trailing slash.
    var endpoint: String
    /// For `check`: method, user, scope, expiry (no secrets).
    var summary: String
    /// Increases with every token fetched; tells whether a 401 was already answered by someone else.
    var generation: Int
    /// The project the token is scoped to (nil without Keystone or for a domain scope).
    var projectID: String? = nil
}

/// The Keystone v3 conversation: the token request body, the answer and its catalog.
struct KeystoneAuthenticator: Sendable {
    let config: CloudConfig
    let transport: Transport
    let options: ClientOptions

    /// `<auth_url>/v3/auth/tokens`, whether the auth URL ends in `/`, `/v3` or `/v3/`.
    static func tokensURL(_ authURL: String) throws -> String {
        var base = authURL
        while base.hasSuffix("/") { base.removeLast() }
        let last = base.split(separator: "/").last.map(String.init) ?? ""
        if last == "v3" { return base + "/auth/tokens" }
        if last.hasPrefix("v2") {
            throw OpenStackError.configuration("auth_url '\(redactURL(authURL))' points at Keystone v2, which is gone; use the v3 URL (…/v3)")
        }
        return base + "/v3/auth/tokens"
    }

    /// The JSON request body of POST /v3/auth/tokens (holds the secret: never log it).
    func requestBody() -> [String: Any] {
        func domain(id: String?, name: String?) -> [String: Any]? {
            if let id { return ["id": id] }
            if let name { return ["name": name] }
            return nil
        }
        func user() -> [String: Any] {
            if let id = config.userID { return ["id": id] }
            var u: [String: Any] = ["name": config.username ?? ""]
            if let d = domain(id: config.userDomainID, name: config.userDomainName) { u["domain"] = d }
            return u
        }
        var identity: [String: Any]
        var scoped = true
        switch config.authType {
        case .password, .v3password:
            var u = user()
            u["password"] = config.password?.value ?? ""
            identity = ["methods": ["password"], "password": ["user": u]]
        case .v3applicationcredential:
            var ac: [String: Any] = ["secret": config.applicationCredentialSecret?.value ?? ""]
            if let id = config.applicationCredentialID {
                ac["id"] = id
            } else {
                ac["name"] = config.applicationCredentialName ?? ""
                ac["user"] = user()
            }
            identity = ["methods": ["application_credential"], "application_credential": ac]
            scoped = false   // an application credential carries its own project; Keystone refuses a scope
        case .token, .v3token:
            identity = ["methods": ["token"], "token": ["id": config.token?.value ?? ""]]
        case .none:
            identity = [:]
        }
        var auth: [String: Any] = ["identity": identity]
        if scoped {
            if let id = config.projectID {
                auth["scope"] = ["project": ["id": id]]
            } else if let name = config.projectName {
                var p: [String: Any] = ["name": name]
                if let d = domain(id: config.projectDomainID, name: config.projectDomainName) { p["domain"] = d }
                auth["scope"] = ["project": p]
            } else if let d = domain(id: config.domainID, name: config.domainName) {
                auth["scope"] = ["domain": d]
            }
        }
        return ["auth": auth]
    }

    /// Who is asking, for error text (no secrets).
    var principal: String {
        switch config.authType {
        case .v3applicationcredential:
            return "application credential \(config.applicationCredentialID ?? config.applicationCredentialName ?? "?")"
        case .token, .v3token:
            return "the configured token"
        default:
            return "user \(config.userID ?? config.username ?? "?")"
        }
    }

    func authenticate(generation: Int) async throws -> AuthState {
        let url = try Self.tokensURL(config.authURL ?? "")
        let body = jsonBytes(requestBody())
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Accept", value: "application/json")
        let path = URLComponents(string: url)?.path ?? "/v3/auth/tokens"
        let ex: Exchange
        do {
            ex = try await transport.send(.keystone, method: .POST, url: url, headers: headers, body: Array(body), logPath: path)
        } catch let e as OpenStackError {
            throw OpenStackError.authentication(status: nil, detail: "\(e.description) (auth_url \(redactURL(config.authURL ?? "")))")
        }
        transport.stats.withLockedValue { $0.tokensIssued += ex.status / 100 == 2 ? 1 : 0 }
        let message = errorMessage(ex.body)
        switch ex.status {
        case 200..<300:
            break
        case 401:
            throw OpenStackError.authentication(status: 401, detail: "Keystone at \(redactURL(config.authURL ?? "")) rejected \(principal)\(message.map { " (\($0))" } ?? ""); check the credentials and their user/project domains in \(config.source)")
        case 403:
            throw OpenStackError.authentication(status: 403, detail: "\(principal) may not get a token for this scope\(message.map { " (\($0))" } ?? ""); check project/domain and role assignments in \(config.source)")
        case 404:
            throw OpenStackError.authentication(status: 404, detail: "\(redactURL(url)) does not exist\(message.map { " (\($0))" } ?? ""); check auth_url (OS_AUTH_URL) or the project/domain names")
        default:
            throw OpenStackError.authentication(status: ex.status, detail: "Keystone at \(redactURL(config.authURL ?? "")) answered HTTP \(ex.status)\(ex.attempts > 1 ? " after \(ex.attempts) attempts" : "")\(message.map { ": \($0)" } ?? "")")
        }
        guard let tokenText = ex.headers.first(name: "X-Subject-Token"), !tokenText.isEmpty else {
            throw OpenStackError.invalidResponse(service: "Keystone", path: path, detail: "no X-Subject-Token header in the answer")
        }
        let answer: TokenAnswer
        do {
            answer = try JSONDecoder().decode(TokenAnswer.self, from: Data(ex.body.readableBytesView))
        } catch let e as DecodingError {
            throw OpenStackError.invalidResponse(service: "Keystone", path: path, detail: describeDecodingError(e, contentType: ex.headers.first(name: "Content-Type"), bytes: ex.body.readableBytes))
        }
        guard let expires = parseKeystoneDate(answer.token.expiresAt) else {
            throw OpenStackError.invalidResponse(service: "Keystone", path: path, detail: "token.expires_at '\(answer.token.expiresAt.prefix(40))' is not a timestamp")
        }
        let endpoint: String
        if let override = config.networkEndpointOverride, !override.isEmpty {
            endpoint = neutronBase(override)
        } else {
            endpoint = neutronBase(try selectEndpoint(answer.token.catalog ?? []))
        }
        let now = Date()
        let lifetime = max(0, expires.timeIntervalSince(now))
        let margin = min(Double(Transport.timeAmount(options.tokenRenewalMargin).nanoseconds) / 1e9, lifetime / 2)
        var scope = "unscoped"
        if let p = answer.token.project {
            scope = "project '\(p.name ?? "?")' (\(p.id))"
        } else if let d = answer.token.domain {
            scope = "domain '\(d.name ?? "?")' (\(d.id))"
        }
        let who = answer.token.user.map { "user '\($0.name ?? $0.id)'" } ?? principal
        let summary = "\(config.authType.rawValue) token for \(scope) as \(who), expires \(answer.token.expiresAt)"
        return AuthState(token: Secret(tokenText), expiresAt: expires, renewAt: expires.addingTimeInterval(-margin),
                         endpoint: endpoint, summary: summary, generation: generation, projectID: answer.token.project?.id)
    }

    /// The `network` endpoint of the configured interface (and region, when one is set).
    func selectEndpoint(_ catalog: [TokenAnswer.Service]) throws -> String {
        let networks = catalog.filter { $0.type == "network" }
        let all = networks.flatMap(\.endpoints)
        let wantedInterface = config.interface
        let candidates = all.filter { ep in
            guard ep.interface == wantedInterface else { return false }
            guard let region = config.regionName, !region.isEmpty else { return true }
            return ep.regionID == region || ep.region == region
        }
        if let first = candidates.first { return first.url }
        let available = all.map { "\($0.regionID ?? $0.region ?? "-")/\($0.interface)" }
        let region = config.regionName.map { "region '\($0)'" } ?? "any region"
        if networks.isEmpty {
            throw OpenStackError.endpointNotFound("the token's catalog has no 'network' service (is the token scoped to a project?); scope the credentials to a project or set network_endpoint_override (OS_NETWORK_ENDPOINT_OVERRIDE)")
        }
        throw OpenStackError.endpointNotFound("no '\(wantedInterface)' network endpoint for \(region) in the catalog (it has \(available.joined(separator: ", "))); set region_name/OS_REGION_NAME and interface/OS_INTERFACE accordingly")
    }
}

/// Neutron's base URL ending in `/v2.0` (from `http://h:9696`, `http://h:9696/`, `…/v2.0`, `…/v2.0/`).
func neutronBase(_ url: String) -> String {
    var base = url
    while base.hasSuffix("/") { base.removeLast() }
    if !base.hasSuffix("/v2.0") { base += "/v2.0" }
    return base
}

/// Parses Keystone's `2026-11-25T00:17:31.000000Z` (fractional seconds of any length, `Z` or an offset).
func parseKeystoneDate(_ text: String) -> Date? {
    var s = text
    if let dot = s.firstIndex(of: ".") {
        var end = s.index(after: dot)
        while end < s.endIndex, s[end].isNumber { end = s.index(after: end) }
        s.removeSubrange(dot..<end)
    }
    if !(s.hasSuffix("Z") || s.dropFirst(19).contains("+") || s.dropFirst(19).contains("-")) { s += "Z" }
    return try? Date(s, strategy: .iso8601)
}

/// JSON text of a request body built from dictionaries, arrays, strings, numbers and booleans (keys sorted).
func jsonBytes(_ value: Any) -> [UInt8] {
    var out = ""
    func string(_ s: String) { out += jsonQuoted(s) }
    func emit(_ v: Any) {
        switch v {
        case let d as [String: Any]:
            out += "{"
            for (i, k) in d.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                string(k)
                out += ":"
                emit(d[k]!)
            }
            out += "}"
        case let a as [Any]:
            out += "["
            for (i, e) in a.enumerated() {
                if i > 0 { out += "," }
                emit(e)
            }
            out += "]"
        case let s as String: string(s)
        case let b as Bool: out += b ? "true" : "false"
        case let n as Int: out += "\(n)"
        case let n as Double: out += n.isFinite ? "\(n)" : "null"
        default: out += "null"
        }
    }
    emit(value)
    return Array(out.utf8)
}

/// The parts of Keystone's token answer the agent uses.
struct TokenAnswer: Decodable, Sendable {
    struct Named: Decodable, Sendable {
        let id: String
        let name: String?
    }
    struct Endpoint: Decodable, Sendable {
        let interface: String
        let regionID: String?
        let region: String?
        let url: String
        enum CodingKeys: String, CodingKey {
            case interface, region, url
            case regionID = "region_id"
        }
    }
    struct Service: Decodable, Sendable {
        let type: String
        let endpoints: [Endpoint]
    }
    struct Token: Decodable, Sendable {
        let expiresAt: String
        let project: Named?
        let domain: Named?
        let user: Named?
        let catalog: [Service]?
        enum CodingKeys: String, CodingKey {
            case project, domain, user, catalog
            case expiresAt = "expires_at"
        }
    }
    let token: Token
}

/// Keystone's or Neutron's own error text (`error.message`, `NeutronError.message`), shortened.
func errorMessage(_ body: ByteBuffer) -> String? {
    guard let obj = try? JSONDecoder().decode(ErrorBody.self, from: Data(body.readableBytesView)) else { return nil }
    for key in ["NeutronError", "error", "badRequest", "itemNotFound", "forbidden"] {
        if let m = obj.inner[key] { return String(m.prefix(200)) }
    }
    if let m = obj.message { return String(m.prefix(200)) }
    return nil
}

/// `{"message": …}` or `{"<kind>": {"message": …}}`; other members and shapes are ignored.
private struct ErrorBody: Decodable {
    var message: String?
    var inner: [String: String] = [:]

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
    struct Inner: Decodable { let message: String? }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for key in c.allKeys {
            if key.stringValue == "message" {
                message = try? c.decode(String.self, forKey: key)
            } else if let m = (try? c.decode(Inner.self, forKey: key))?.message {
                inner[key.stringValue] = m
            }
        }
    }
}

/// A one-line account of a decoding failure: where in the document, and what was wrong.
func describeDecodingError(_ error: DecodingError, contentType: String?, bytes: Int) -> String {
    func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for k in keys {
            if let i = k.intValue { out += "[\(i)]" } else { out += out.isEmpty ? k.stringValue : "." + k.stringValue }
        }
        return out.isEmpty ? "the document" : out
    }
    switch error {
    case .keyNotFound(let key, let ctx):
        return "missing field \(path(ctx.codingPath + [key]))"
    case .typeMismatch(let type, let ctx):
        return "\(path(ctx.codingPath)) has the wrong type (expected \(type))"
    case .valueNotFound(let type, let ctx):
        return "\(path(ctx.codingPath)) is null (expected \(type))"
    case .dataCorrupted(let ctx):
        if ctx.codingPath.isEmpty {
            return "the body is not JSON (Content-Type \(contentType ?? "none"), \(bytes) bytes)"
        }
        return "\(path(ctx.codingPath)): \(ctx.debugDescription.prefix(120))"
    @unknown default:
        return "undecodable (\(String(describing: error).prefix(120)))"
    }
}

/// Token state shared by all requests of one client: one token at a time, renewed before it
/// expires, and re-fetched once when Neutron says 401 (concurrent 401s share one re-authentication).
actor KeystoneSession {
    private let authenticator: KeystoneAuthenticator
    private var current: AuthState?
    private var inflight: Task<AuthState, any Error>?
    private var generation = 0

    init(authenticator: KeystoneAuthenticator) {
        self.authenticator = authenticator
    }

    /// A token that is not due for renewal (fetching one if needed).
    func valid() async throws -> AuthState {
        if let c = current, let renewAt = c.renewAt, Date() < renewAt { return c }
        return try await refresh(afterUnauthorized: false)
    }

    /// A token newer than `stale`: if another request already replaced it, that one; otherwise a fresh one.
    func renew(invalidating stale: AuthState) async throws -> AuthState {
        if let c = current, c.generation != stale.generation { return c }
        return try await refresh(afterUnauthorized: true)
    }

    private func refresh(afterUnauthorized: Bool) async throws -> AuthState {
        if let t = inflight { return try await t.value }
        let task = Task { try await self.fetch(afterUnauthorized: afterUnauthorized) }
        inflight = task
        return try await task.value
    }

    private func fetch(afterUnauthorized: Bool) async throws -> AuthState {
        defer { inflight = nil }
        let next = generation + 1
        let state = try await authenticator.authenticate(generation: next)
        generation = next
        current = state
        if afterUnauthorized { authenticator.transport.stats.withLockedValue { $0.reauths += 1 } }
        return state
    }
}
