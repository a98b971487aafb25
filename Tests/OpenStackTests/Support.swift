import Foundation
import Logging
import Model
import NIOHTTP1
import OpenStack
import TestSupport

/// `../shared/fixtures` beside the package root (CI clones the repository with ../shared beside it).
enum Fixtures {
    static let root: URL = {
        URL(fileURLWithPath: #filePath)          // …/Tests/OpenStackTests/Support.swift
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent()         // package root
            .deletingLastPathComponent()
            .appendingPathComponent("shared/fixtures")
    }()

    static func text(_ relative: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
    }

    /// The X-Subject-Token of a recorded Keystone answer.
    static func subjectToken(_ headersFile: String) throws -> String {
        for line in try text(headersFile).split(whereSeparator: \.isNewline) where line.lowercased().hasPrefix("x-subject-token:") {
            return line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
        }
        throw FixtureError.missing("X-Subject-Token in \(headersFile)")
    }

    enum FixtureError: Error { case missing(String) }
}

/// Collects log lines (message + metadata) so tests can assert what is, and is not, logged.
final class CapturedLogs: Sendable {
    private let lines = LockedLines()

    var logger: Logger {
        var l = Logger(label: "test.openstack", factory: { [lines] _ in CapturingLogHandler(sink: lines) })
        l.logLevel = .trace
        return l
    }

    var all: [String] { lines.snapshot() }
    var text: String { all.joined(separator: "\n") }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
    func snapshot() -> [String] { lock.lock(); defer { lock.unlock() }; return lines }
}

struct CapturingLogHandler: LogHandler {
    let sink: LockedLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let meta = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        sink.append("\(event.level) \(event.message) \(meta)\(event.error.map { " error=\($0)" } ?? "")")
    }
}

/// A Keystone + Neutron stand-in on one scripted server: Keystone at `/identity/v3`, Neutron under
/// the catalog paths. The token answer is the recorded one (shared/fixtures/keystone) with its
/// catalog URLs rewritten to this server and `expires_at` moved into the future.
final class FakeCloud: Sendable {
    let server: ScriptedHTTPServer
    let state: State

    /// What the fake does; changed by tests while it runs.
    actor State {
        var tokenCounter = 0
        var tokenLifetime: TimeInterval = 3600
        /// Neutron answers: a custom responder first; nil falls through to `neutron`.
        var neutronOverride: (@Sendable (ScriptedRequest, Int) -> ScriptedResponse?)?
        var neutron: NeutronStandIn?
        var neutronRequestCount = 0
        var validTokens: Set<String> = []
        var keystoneStatus = 201
        var catalogPrefix = ""
        var extraCatalogEndpoints: [[String: String]] = []
        var omitNetworkService = false
        var identityBodies: [String] = []

        func setOverride(_ f: (@Sendable (ScriptedRequest, Int) -> ScriptedResponse?)?) { neutronOverride = f }
        func setNeutron(_ n: NeutronStandIn?) { neutron = n }
        func setTokenLifetime(_ t: TimeInterval) { tokenLifetime = t }
        func setKeystoneStatus(_ s: Int) { keystoneStatus = s }
        func setCatalogPrefix(_ p: String) { catalogPrefix = p }
        func setExtraEndpoints(_ e: [[String: String]]) { extraCatalogEndpoints = e }
        func setOmitNetworkService(_ v: Bool) { omitNetworkService = v }
        func revokeAll() { validTokens = [] }
        func nextToken() -> String {
            tokenCounter += 1
            let t = "gAAAAAtesttoken\(tokenCounter)-\(UUID().uuidString)"
            validTokens.insert(t)
            return t
        }
        func isValid(_ t: String?) -> Bool { t.map { validTokens.contains($0) } ?? false }
        func countNeutron() -> Int { neutronRequestCount += 1; return neutronRequestCount }
        func recordIdentity(_ body: String) { identityBodies.append(body) }
    }

    var keystoneURL: String { server.baseURL + "/identity/v3" }

    private init(server: ScriptedHTTPServer, state: State) {
        self.server = server
        self.state = state
    }

    static func start(neutron: NeutronStandIn? = nil) async throws -> FakeCloud {
        let state = State()
        await state.setNeutron(neutron)
        let tokenTemplate = try Fixtures.text("keystone/token-password.json")
        let box = ServerBox()
        let server = try await ScriptedHTTPServer.start { request in
            let base = box.base
            if request.path.hasPrefix("/identity/v3/auth/tokens"), request.method == "POST" {
                return await FakeCloud.keystone(request, state: state, template: tokenTemplate, base: base)
            }
            let n = await state.countNeutron()
            if let f = await state.neutronOverride, let r = f(request, n) { return r }
            guard await state.isValid(request.header("X-Auth-Token")) else {
                return .json(#"{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}"#, status: 401)
            }
            if let neutron = await state.neutron { return neutron.respond(to: request) }
            return .json(#"{"NeutronError": {"type": "HTTPNotFound", "message": "The resource could not be found.", "detail": ""}}"#, status: 404)
        }
        box.base = server.baseURL
        neutron?.setLinkBase(server.baseURL)
        return FakeCloud(server: server, state: state)
    }

    static func keystone(_ request: ScriptedRequest, state: State, template: String, base: String) async -> ScriptedResponse {
        await state.recordIdentity(request.bodyText)
        let status = await state.keystoneStatus
        if status != 201 {
            return .json(#"{"error": {"code": \#(status), "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#, status: status)
        }
        guard var doc = (try? JSONSerialization.jsonObject(with: Data(template.utf8))) as? [String: Any],
              var token = doc["token"] as? [String: Any], var catalog = token["catalog"] as? [[String: Any]] else {
            return .text("bad template", status: 500)
        }
        let lifetime = await state.tokenLifetime
        let f = ISO8601DateFormatter()
        token["expires_at"] = f.string(from: Date().addingTimeInterval(lifetime)).replacingOccurrences(of: "Z", with: ".000000Z")
        let prefix = await state.catalogPrefix
        let extra = await state.extraCatalogEndpoints
        let omit = await state.omitNetworkService
        catalog = catalog.compactMap { service in
            var s = service
            if s["type"] as? String == "network" {
                if omit { return nil }
                var eps = (s["endpoints"] as? [[String: Any]] ?? []).map { ep -> [String: Any] in
                    var e = ep
                    let iface = e["interface"] as? String ?? "public"
                    e["url"] = prefix.isEmpty ? base : "\(base)\(prefix)/\(iface)"
                    return e
                }
                for x in extra { eps.append(x.mapValues { $0.replacingOccurrences(of: "{base}", with: base) }) }
                s["endpoints"] = eps
            } else {
                s["endpoints"] = (s["endpoints"] as? [[String: Any]] ?? []).map { ep -> [String: Any] in
                    var e = ep
                    e["url"] = base + "/identity/v3/"
                    return e
                }
            }
            return s
        }
        token["catalog"] = catalog
        doc["token"] = token
        let data = (try? JSONSerialization.data(withJSONObject: doc)) ?? Data()
        let t = await state.nextToken()
        return .json(data: data, status: 201, headers: [("X-Subject-Token", t)])
    }

    func config(_ type: AuthType = .password) -> CloudConfig {
        var c = CloudConfig(authType: type, authURL: keystoneURL, source: "test")
        switch type {
        case .password, .v3password:
            c.username = "admin"
            c.password = Secret(FakeCloud.password)
            c.userDomainID = "default"
            c.projectName = "admin"
            c.projectDomainID = "default"
        case .v3applicationcredential:
            c.applicationCredentialID = "70fe8fa6217348cba62db7f3b7c0bd29"
            c.applicationCredentialSecret = Secret(FakeCloud.password)
        case .token, .v3token:
            c.token = Secret(FakeCloud.userToken)
            c.projectID = "379a66975a3840c1b37225a1d5195700"
        case .none:
            c.authURL = nil
            c.networkEndpointOverride = server.baseURL
        }
        return c
    }

    static let password = "s3cr3t-P4ssw0rd-never-logged"
    static let userToken = "gAAAAAuser-token-never-logged-0123456789"

    func shutdown() async { await server.shutdown() }
}

/// The server's own base URL, known only after it started.
final class ServerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _base = ""
    var base: String {
        get { lock.lock(); defer { lock.unlock() }; return _base }
        set { lock.lock(); _base = newValue; lock.unlock() }
    }
}

/// Tiny backoff so retry tests take milliseconds.
let fastOptions = ClientOptions(connectTimeout: .seconds(10), requestTimeout: .seconds(20), maxRetries: 3,
                                backoffBase: .milliseconds(1), backoffCap: .milliseconds(5), retryAfterCap: .seconds(2))

/// Runs `body` with a started client and cloud, shutting both down afterwards (also on failure).
func withCloud<T>(neutron: NeutronStandIn? = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 3)),
                  auth: AuthType = .password, options: ClientOptions = fastOptions, logs: CapturedLogs = CapturedLogs(),
                  configure: (inout CloudConfig) -> Void = { _ in },
                  _ body: (FakeCloud, NeutronClient) async throws -> T) async throws -> T {
    let cloud = try await FakeCloud.start(neutron: neutron)
    var config = cloud.config(auth)
    configure(&config)
    let client: NeutronClient
    do {
        client = try NeutronClient(config: config, options: options, logger: logs.logger)
    } catch {
        await cloud.shutdown()
        throw error
    }
    do {
        let r = try await body(cloud, client)
        try await client.shutdown()
        await cloud.shutdown()
        return r
    } catch {
        try? await client.shutdown()
        await cloud.shutdown()
        throw error
    }
}
