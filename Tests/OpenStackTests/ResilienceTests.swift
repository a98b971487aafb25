import Foundation
import Testing
import TestSupport
@testable import OpenStack

/// Counts answers per path for scripted failures.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    func next(_ key: String) -> Int {
        lock.lock(); defer { lock.unlock() }
        counts[key, default: 0] += 1
        return counts[key]!
    }
}

@Suite("Retries, re-authentication, timeouts and secrets", .timeLimit(.minutes(2)))
struct ResilienceTests {
    @Test func a401FromNeutronLeadsToExactlyOneNewTokenAndOneRetry() async throws {
        try await withCloud { cloud, client in
            _ = try await client.readSnapshot()
            await cloud.state.revokeAll()       // Keystone revoked the token: all four lists get a 401
            let s = try await client.readSnapshot()
            #expect(s.routers.count == 3)
            let stats = client.statistics
            #expect(stats.keystoneRequests == 2)
            #expect(stats.reauths == 1)
            #expect(stats.requestsByStatus["401"] == 4)
            #expect(stats.requests == 4 + 4 + 4)
        }
    }

    @Test func a401AfterReauthenticationIsAnErrorNotALoop() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in
                request.path == "/v2.0/routers" ? .json(try! Fixtures.text("keystone/neutron-401.body"), status: 401) : nil
            }
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            guard case .httpStatus(_, _, _, let status, _, _)? = error else {
                Issue.record("expected httpStatus 401, got \(String(describing: error))")
                return
            }
            #expect(status == 401)
            let routerRequests = await cloud.server.requests().filter { $0.path == "/v2.0/routers" }
            #expect(routerRequests.count == 2)
            #expect(client.statistics.keystoneRequests == 2)
        }
    }

    @Test func a5xxIsRetriedAndThenSucceeds() async throws {
        let neutron = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 3))
        try await withCloud(neutron: neutron) { _, client in
            neutron.addFault(.init(path: "/v2.0/ports", count: 2, status: 503))
            let s = try await client.readSnapshot()
            #expect(s.ports.count == 3)
            #expect(client.statistics.retries == 2)
            #expect(client.statistics.requestsByStatus["503"] == 2)
            #expect(client.statistics.requests == 6)
        }
    }

    @Test func a5xxForeverFailsTheReadAfterTheRetries() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in
                request.path == "/v2.0/subnets" ? .text("<html><h1>502 Bad Gateway</h1></html>", status: 502, contentType: "text/html") : nil
            }
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            guard case .httpStatus(_, _, let path, let status, _, let attempts)? = error else {
                Issue.record("expected httpStatus, got \(String(describing: error))")
                return
            }
            #expect(path == "/v2.0/subnets" && status == 502)
            #expect(attempts == fastOptions.maxRetries + 1)
            #expect(error?.description.contains("after 4 attempts") == true)
        }
    }

    @Test func a429IsRetriedAfterRetryAfterSeconds() async throws {
        let counter = Counter()
        let logs = CapturedLogs()
        try await withCloud(logs: logs) { cloud, client in
            await cloud.state.setOverride { request, _ in
                guard request.path == "/v2.0/networks", counter.next("n") == 1 else { return nil }
                return ScriptedResponse(status: 429, headers: [("Retry-After", "1")], body: [])
            }
            _ = try await client.readSnapshot()
            // The wait the client chose, as it logs it (no wall-clock measurement): Retry-After's 1 s.
            #expect(logs.all.contains { $0.contains("Neutron retry") && $0.contains("status=429") && $0.contains("delay_ms=1000 ") })
            #expect(client.statistics.retries == 1)
        }
    }

    @Test func aLongRetryAfterIsCapped() async throws {
        var options = fastOptions
        options.retryAfterCap = .milliseconds(100)
        let counter = Counter()
        let logs = CapturedLogs()
        try await withCloud(options: options, logs: logs) { cloud, client in
            await cloud.state.setOverride { request, _ in
                guard request.path == "/v2.0/networks", counter.next("n") == 1 else { return nil }
                return ScriptedResponse(status: 429, headers: [("Retry-After", "3600")], body: [])
            }
            _ = try await client.readSnapshot()
            // Capped: the client waited 100 ms, not Retry-After's hour (as it logs it; no wall-clock measurement).
            #expect(logs.all.contains { $0.contains("Neutron retry") && $0.contains("delay_ms=100 ") })
            #expect(!logs.all.contains { $0.contains("delay_ms=3600000") })
        }
    }

    @Test func aDroppedConnectionIsRetried() async throws {
        let neutron = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 3))
        try await withCloud(neutron: neutron) { _, client in
            neutron.addFault(.init(path: "/v2.0/routers", count: 1, drop: true))
            let s = try await client.readSnapshot()
            #expect(s.routers.count == 3)
            #expect(client.statistics.requestsByStatus["error"] == 1)
            #expect(client.statistics.retries == 1)
        }
    }

    @Test func aConnectionDroppedEveryTimeFailsTheReadInPlainWords() async throws {
        let neutron = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 3))
        try await withCloud(neutron: neutron) { _, client in
            neutron.addFault(.init(path: "/v2.0/routers", count: 100, drop: true))
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            guard case .transport(_, _, _, let detail, _)? = error else {
                Issue.record("expected a transport error, got \(String(describing: error))")
                return
            }
            #expect(detail == "the server closed the connection without an answer", "not HTTPClientError.remoteConnectionClosed: \(detail)")
        }
    }

    @Test func aSlowAnswerTimesOut() async throws {
        var options = fastOptions
        options.requestTimeout = .seconds(1)
        options.maxRetries = 1
        let neutron = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 1))
        neutron.addFault(.init(path: "/v2.0/routers", count: nil, delay: .seconds(6)))
        let server = try await neutron.start()
        defer { Task { await server.shutdown() } }
        var config = CloudConfig(authType: .none)
        config.networkEndpointOverride = server.baseURL
        let client = try NeutronClient(config: config, options: options, logger: CapturedLogs().logger)
        // The answer would come after 6 s and succeed; an error proves the 1 s request timeout cut it off.
        let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
        try await client.shutdown()
        guard case .transport(_, _, _, let detail, let attempts)? = error else {
            Issue.record("expected a transport error, got \(String(describing: error))")
            return
        }
        #expect(detail.contains("no complete response"))
        #expect(attempts == 2)
    }

    @Test func anUnreachableEndpointIsATransportError() async throws {
        // Bind a port, then close it: nothing listens there any more.
        let probe = try await ScriptedHTTPServer.start { _ in .json("{}") }
        let deadURL = probe.baseURL
        await probe.shutdown()
        var config = CloudConfig(authType: .none)
        config.networkEndpointOverride = deadURL
        var options = fastOptions
        options.requestTimeout = .seconds(30)
        let client = try NeutronClient(config: config, options: options, logger: CapturedLogs().logger)
        let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
        try await client.shutdown()
        guard case .transport(let service, _, _, _, let attempts)? = error else {
            Issue.record("expected a transport error, got \(String(describing: error))")
            return
        }
        #expect(service == "Neutron")
        #expect(attempts == fastOptions.maxRetries + 1)
        // A refused connection fails each attempt at once; it is not a wait for the request timeout.
        if case .transport(_, _, _, let detail, _)? = error {
            #expect(detail.lowercased().contains("refused") && !detail.contains("no complete response"), "\(detail)")
            // In the system's words, without NIO's "connection reset (error set)" and its unbalanced parenthesis.
            #expect(detail.hasPrefix("connection refused") && !detail.contains("reset"), "\(detail)")
        }
    }

    @Test func passwordsAndTokensAppearInNoLogLineAndNoError() async throws {
        let logs = CapturedLogs()
        var failure = ""
        try await withCloud(logs: logs) { cloud, client in
            _ = try await client.readSnapshot()
            await cloud.state.revokeAll()
            _ = try await client.readSnapshot()
            _ = try await client.checkAuthentication()
            await cloud.state.setOverride { request, _ in request.path == "/v2.0/ports" ? .json("{", status: 500) : nil }
            do { _ = try await client.readSnapshot() } catch { failure = String(describing: error) }
            await cloud.state.setKeystoneStatus(401)
            await cloud.state.revokeAll()
            do { _ = try await client.readSnapshot() } catch { failure += String(describing: error) }
        }
        #expect(!failure.isEmpty)
        #expect(logs.all.contains { $0.contains("Neutron request") })   // requests are logged at debug…
        for secret in [FakeCloud.password, "gAAAAAtesttoken"] {            // …without the password or any issued token
            #expect(!logs.text.contains(secret))
            #expect(!failure.contains(secret))
        }
    }

    @Test func secretsOfEveryAuthTypeStayOutOfLogs() async throws {
        for type in [AuthType.v3applicationcredential, .token] {
            let logs = CapturedLogs()
            try await withCloud(auth: type, logs: logs) { _, client in
                _ = try await client.readSnapshot()
            }
            #expect(!logs.text.contains(FakeCloud.password))
            #expect(!logs.text.contains(FakeCloud.userToken))
            #expect(!logs.text.contains("gAAAAAtesttoken"))
        }
    }
}

@Suite("Client lifecycle", .timeLimit(.minutes(2)))
struct LifecycleTests {
    @Test func aClientDroppedWithoutShutdownDoesNotTrapAndShutdownTwiceIsHarmless() async throws {
        let server = try await NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 1)).start()
        var config = CloudConfig(authType: .none)
        config.networkEndpointOverride = server.baseURL
        do {
            let dropped = try NeutronClient(config: config, options: fastOptions, logger: CapturedLogs().logger)
            #expect(try await dropped.readSnapshot().routers.count == 1)
        }   // deinit without shutdown: must not crash the process
        let client = try NeutronClient(config: config, options: fastOptions, logger: CapturedLogs().logger)
        #expect(try await client.readSnapshot().routers.count == 1)
        try await client.shutdown()
        try await client.shutdown()
        await server.shutdown()
    }
}
