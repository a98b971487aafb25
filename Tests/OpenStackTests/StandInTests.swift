import Foundation
import Model
import Testing
import TestSupport
@testable import OpenStack

/// The stand-in's answer to `GET uri`, parsed.
func standInGet(_ standIn: NeutronStandIn, _ uri: String) throws -> (status: Int, json: JSONValue) {
    let r = standIn.respond(to: ScriptedRequest(method: "GET", uri: uri))
    return (r.status, try JSONValue.parse(String(decoding: r.body, as: UTF8.self)))
}

func ids(_ json: JSONValue, _ collection: String) -> [String] {
    (json[collection]?.array ?? []).compactMap { $0["id"]?.text }
}

@Suite("The Neutron stand-in: filters, paging, faults, control, snapshot files", .timeLimit(.minutes(2)))
struct StandInTests {
    let standIn = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 5))
    static let r1 = "a0000000-0000-4000-8000-000000000001"
    static let r3 = "a0000000-0000-4000-8000-000000000003"

    @Test func filtersSelectByDeviceIDOwnerIDListNetworkProjectAndExternal() throws {
        var (status, json) = try standInGet(standIn, "/v2.0/ports?device_id=\(Self.r1)&device_owner=network:router_interface")
        #expect(status == 200 && ids(json, "ports") == ["d0000000-0000-4000-8000-000000000001"])
        (_, json) = try standInGet(standIn, "/v2.0/routers?id=\(Self.r3)&id=\(Self.r1)&id=nope")
        #expect(ids(json, "routers") == [Self.r1, Self.r3])
        (_, json) = try standInGet(standIn, "/v2.0/networks?router:external=True")
        #expect(ids(json, "networks") == ["e0000000-0000-4000-8000-000000000000"])
        (_, json) = try standInGet(standIn, "/v2.0/subnets?network_id=c0000000-0000-4000-8000-000000000002")
        #expect(ids(json, "subnets") == ["b0000000-0000-4000-8000-000000000002"])
        (_, json) = try standInGet(standIn, "/v2.0/routers?project_id=project0004")
        #expect(ids(json, "routers") == ["a0000000-0000-4000-8000-000000000004"])
        (status, json) = try standInGet(standIn, "/v2.0/routers?external_gateway_info=x")
        #expect(status == 400)
        #expect(json["NeutronError"]?["message"]?.text?.contains("invalid attribute for filtering") == true)
    }

    @Test func fieldsProjectInTableOrder() throws {
        let r = standIn.respond(to: ScriptedRequest(method: "GET", uri: "/v2.0/ports?fields=fixed_ips&fields=id&fields=bogus&limit=1"))
        let text = String(decoding: r.body, as: UTF8.self)
        #expect(text.hasPrefix(#"{"ports":[{"id":"d0000000-0000-4000-8000-000000000000","fixed_ips":[{"subnet_id":"#))
        #expect(!text.contains("device_id"))
    }

    @Test func pagesFollowNextLinksParsedByTheStandInItself() throws {
        var uri = "/v2.0/routers?fields=id&limit=2"
        var seen: [String] = []
        for _ in 0..<10 {
            let (status, json) = try standInGet(standIn, uri)
            #expect(status == 200)
            seen += ids(json, "routers")
            let next = json["routers_links"]?.array.first { $0["rel"]?.text == "next" }
            guard let href = next?["href"]?.text else { break }
            #expect(href.hasPrefix("http://127.0.0.1/v2.0/routers?"))
            uri = "/v2.0/routers?" + href.split(separator: "?", maxSplits: 1)[1]
        }
        // 5 routers in pages of 2: 2 + 2 + 1, the last page not full so without a next link.
        #expect(seen == (0..<5).map { String(format: "a0000000-0000-4000-8000-%012d", $0) })
        let (status, json) = try standInGet(standIn, "/v2.0/routers?limit=2&marker=unknown")
        #expect(status == 404)
        #expect(json["NeutronError"]?["type"]?.text == "RouterNotFound")
    }

    @Test func oneObjectByIDOrNeutronsNotFound() throws {
        var (status, json) = try standInGet(standIn, "/v2.0/routers/\(Self.r3)")
        #expect(status == 200)
        #expect(json["router"]?["name"]?.text == "router-3")
        (status, json) = try standInGet(standIn, "/v2.0/subnets/00000000-0000-0000-0000-000000000000")
        #expect(status == 404)
        // As recorded from a real neutron-server (shared/fixtures/neutron/error-404.json): type and message shape.
        #expect(json["NeutronError"]?["type"]?.text == "SubnetNotFound")
        #expect(json["NeutronError"]?["message"]?.text == "Subnet 00000000-0000-0000-0000-000000000000 could not be found")
    }

    @Test func countersCountRequestsAndBytesButNotTheControlEndpoint() throws {
        let a = standIn.respond(to: ScriptedRequest(method: "GET", uri: "/v2.0/routers"))
        let b = standIn.respond(to: ScriptedRequest(method: "GET", uri: "/v2.0/nothing"))
        _ = standIn.respond(to: ScriptedRequest(method: "GET", uri: "/_control/stats"))
        let c = standIn.counters
        #expect(c.requests == 2)
        #expect(c.bytes == a.body.count + b.body.count)
        #expect(c.byStatus == ["200": 1, "404": 1])
        #expect(c.byCollection["routers"] == 1)
        _ = standIn.respond(to: ScriptedRequest(method: "POST", uri: "/_control/reset"))
        #expect(standIn.counters.requests == 0 && standIn.counters.bytes == 0 && standIn.counters.byStatus.isEmpty)
    }

    @Test func faultsSetOverTheControlEndpointHitTheNextRequestsOfTheirPath() throws {
        let set = standIn.respond(to: ScriptedRequest(method: "POST", uri: "/_control/fault?path=/v2.0/ports&count=2&status=503&delay_ms=5"))
        #expect(set.status == 200)
        #expect(try standInGet(standIn, "/v2.0/routers").status == 200)
        let first = standIn.respond(to: ScriptedRequest(method: "GET", uri: "/v2.0/ports"))
        #expect(first.status == 503 && first.delay == .milliseconds(5))
        #expect(try standInGet(standIn, "/v2.0/ports").status == 503)
        #expect(try standInGet(standIn, "/v2.0/ports").status == 200)
        standIn.addFault(.init(path: "/v2.0/subnets", count: 1, truncateAfter: 10))
        #expect(standIn.respond(to: ScriptedRequest(method: "GET", uri: "/v2.0/subnets")).truncateAfter == 10)
    }

    @Test func aBodyCutOffInTransitFailsTheReadAfterRetries() async throws {
        let standIn = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 2))
        standIn.addFault(.init(path: "/v2.0/networks", count: nil, truncateAfter: 20))
        let server = try await standIn.start()
        var config = CloudConfig(authType: .none)
        config.networkEndpointOverride = server.baseURL
        let client = try NeutronClient(config: config, options: fastOptions, logger: CapturedLogs().logger)
        let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
        try await client.shutdown()
        await server.shutdown()
        guard case .transport(_, _, let path, _, let attempts)? = error else {
            Issue.record("expected a transport error, got \(String(describing: error))")
            return
        }
        #expect(path == "/v2.0/networks")
        #expect(standIn.counters.byCollection["networks"] == attempts)
    }

    @Test func aSnapshotPostedToTheControlEndpointIsServedFromThenOn() throws {
        let other = NeutronStandIn.simpleCloud(routers: 1)
        let r = standIn.respond(to: ScriptedRequest(method: "POST", uri: "/_control/snapshot", body: Array(try other.jsonData())))
        #expect(r.status == 200)
        #expect(ids(try standInGet(standIn, "/v2.0/routers").json, "routers") == ["a0000000-0000-4000-8000-000000000000"])
        let bad = standIn.respond(to: ScriptedRequest(method: "POST", uri: "/_control/snapshot", body: Array("{".utf8)))
        #expect(bad.status == 400)
    }

    @Test func aSnapshotFileIsReadAgainWhenItChanges() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("standin-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NeutronStandIn.simpleCloud(routers: 2).jsonData().write(to: URL(fileURLWithPath: path))
        let standIn = NeutronStandIn(snapshotFile: path)
        #expect(ids(try standInGet(standIn, "/v2.0/routers").json, "routers").count == 2)
        // Replaced as the scenario does it (a new file renamed over the old one).
        try NeutronStandIn.simpleCloud(routers: 3).jsonData().write(to: URL(fileURLWithPath: path), options: .atomic)
        #expect(ids(try standInGet(standIn, "/v2.0/routers").json, "routers").count == 3)
        try Data("not json".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        let (status, json) = try standInGet(standIn, "/v2.0/routers")
        #expect(status == 500)
        #expect(json["NeutronError"]?["message"]?.text?.contains(path) == true)
    }

    @Test func aGeneratedCloudServesTheAgentsReadAndChurns() async throws {
        let standIn = NeutronStandIn(routers: 100)
        let server = try await standIn.start()
        var config = CloudConfig(authType: .none)
        config.networkEndpointOverride = server.baseURL + "/"
        let client = try NeutronClient(config: config, options: fastOptions, logger: CapturedLogs().logger)
        let before = try await client.readSnapshot()
        #expect(before.routers.count == 100)
        #expect(before.ports.count == 200)      // interface ports only (the gateway ports are filtered out)
        #expect(standIn.counters.requests == 4)
        let report = try #require(standIn.churn(percent: 3))
        #expect(report.routersChanged == 3)
        let after = try await client.readSnapshot()
        #expect(after != before)
        try await client.shutdown()
        await server.shutdown()
    }
}
