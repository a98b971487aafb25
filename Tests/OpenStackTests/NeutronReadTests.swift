import Foundation
import Model
import Testing
import TestSupport
@testable import OpenStack

/// Answers Neutron list requests with the recorded fixtures (links untouched: they name 127.0.0.1:9696).
func recordedNeutron(_ request: ScriptedRequest, _ n: Int) -> ScriptedResponse? {
    let files = ["/v2.0/routers": "neutron/routers.json", "/v2.0/ports": "neutron/ports-router-interfaces.json",
                 "/v2.0/subnets": "neutron/subnets.json", "/v2.0/networks": "neutron/networks-external.json"]
    guard let file = files[request.path], let text = try? Fixtures.text(file) else { return nil }
    return .json(text)
}

/// The recorded page with `"admin_state_up": true` added to every router (links untouched).
func withAdminState(_ text: String) throws -> String {
    var doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    let routers = try #require(doc["routers"] as? [[String: Any]])
    doc["routers"] = routers.map { r in r.merging(["admin_state_up": true]) { a, _ in a } }
    return String(decoding: try JSONSerialization.data(withJSONObject: doc), as: UTF8.self)
}

@Suite("Neutron reads: requests, pagination, decoding", .timeLimit(.minutes(2)))
struct NeutronReadTests {
    @Test func theRecordedNeutronAnswersDecodeIntoASnapshot() async throws {
        try await withCloud(neutron: nil) { cloud, client in
            await cloud.state.setOverride(recordedNeutron)
            let s = try await client.readSnapshot()
            #expect(s.routers.count == 10)
            #expect(s.ports.count == 10)
            #expect(s.subnets.count == 13)
            #expect(s.networks.count == 1 && s.networks[0].isExternal)
            let ra = try #require(s.routers.first { $0.name == "ra" })
            #expect(ra.adminStateUp)
            #expect(ra.gateways.count == 1)
            #expect(Set(ra.gateways[0].fixedIPs.map(\.ipAddress.description)) == ["203.0.113.10", "2001:db8:100::10"])
            #expect(ra.gateways[0].enableSNAT == true)
            let rc = try #require(s.routers.first { $0.name == "rc" })
            #expect(rc.gateways.isEmpty)    // external_gateway_info: null
            #expect(s.ports.contains { $0.fixedIPs.first?.ipAddress == IPAddress("2001:db8:1::") })
            #expect(client.statistics.requests == 4)
        }
    }

    @Test func eachListAsksOnlyForItsFieldsAndFilters() async throws {
        try await withCloud { cloud, client in
            _ = try await client.readSnapshot()
            let requests = await cloud.server.requests().filter { $0.path.hasPrefix("/v2.0/") }
            func query(_ path: String) throws -> ScriptedRequest { try #require(requests.first { $0.path == path }) }
            let routers = try query("/v2.0/routers")
            #expect(routers.queryValues("fields") == ["id", "name", "project_id", "admin_state_up", "tags", "external_gateway_info", "external_gateways"])
            #expect(routers.queryValues("limit") == ["1000"])
            let ports = try query("/v2.0/ports")
            #expect(ports.queryValues("device_owner") == RouterPort.interfaceOwners)
            #expect(ports.queryValues("fields") == ["id", "device_id", "device_owner", "fixed_ips"])
            let subnets = try query("/v2.0/subnets")
            #expect(Set(subnets.queryValues("fields")).isSuperset(of: ["id", "network_id", "cidr", "project_id", "created_at", "subnetpool_id"]))
            let networks = try query("/v2.0/networks")
            #expect(networks.queryValues("fields") == ["id", "name", "router:external", "ipv4_address_scope", "ipv6_address_scope"])
        }
    }

    @Test func recordedPagesAreFollowedOnTheClientsOwnEndpoint() async throws {
        // The recorded next links point at 127.0.0.1:9696, where nothing listens: only their query is used.
        // The recording asked for fewer fields; admin_state_up, which the client requires, is added.
        let page1 = try withAdminState(Fixtures.text("neutron/routers-fields-paged.json"))
        let page2 = try withAdminState(Fixtures.text("neutron/routers-fields-paged-2.json"))
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in
                guard request.path == "/v2.0/routers" else { return nil }
                switch request.queryValues("marker").first {
                case nil: return .json(page1)
                case "5e0b5e6c-18d9-44ae-979f-62cc3a6b3a87": return .json(page2)
                case "65a1a459-8400-4f79-8906-47b7eb233c1b": return .json(#"{"routers": [], "routers_links": [{"rel": "previous", "href": "http://127.0.0.1:9696/v2.0/routers?page_reverse=True"}]}"#)
                default: return .json("{}", status: 404)
                }
            }
            let s = try await client.readSnapshot(consistent: false)   // recorded routers beside a generated cloud
            #expect(s.routers.map(\.id) == ["221b45ec-9967-42da-849b-54c55111e894", "2d6544aa-7c1a-47a8-9faa-3d4ed581e45d",
                                            "5e0b5e6c-18d9-44ae-979f-62cc3a6b3a87", "5f2e7227-fadc-47cd-be24-228ef633a45f",
                                            "619969f0-1244-4a4f-933a-84ab321aba98", "65a1a459-8400-4f79-8906-47b7eb233c1b"])
            #expect(client.statistics.requests == 4 + 2)
        }
    }

    /// Requests one read takes with server-forced pages of 500 (`pagination_max_limit`). Only the
    /// external networks are listed (`router:external=True`): one page whatever the cloud's size.
    @Test(.serialized, arguments: [(10, 4), (500, 7), (1000, 10)])
    func oneReadTakesFourRequestsPlusOnePerExtraPage(routers: Int, expected: Int) async throws {
        let neutron = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: routers), maxPageSize: 500)
        try await withCloud(neutron: neutron) { cloud, client in
            let start = ContinuousClock.now
            let s = try await client.readSnapshot()
            let elapsed = ContinuousClock.now - start
            #expect(s.routers.count == routers)
            #expect(s.ports.count == routers)
            #expect(s.subnets.count == routers + 2)
            #expect(s.networks.count == 1)
            var externalOnly = neutron.snapshot.sortedByID()
            externalOnly.networks.removeAll { !$0.isExternal }
            #expect(s == externalOnly)
            // Per collection: ceil(n/500) pages, plus an empty page when the last page is exactly full.
            func pages(_ n: Int) -> Int { n / 500 + 1 }
            let predicted = pages(routers) * 2 + pages(routers + 2) + pages(1)
            #expect(client.statistics.requests == predicted)
            #expect(client.statistics.requests == expected)
            #expect(client.statistics.keystoneRequests == 1)
            let warmStart = ContinuousClock.now
            _ = try await client.readSnapshot()
            let warm = ContinuousClock.now - warmStart
            #expect(client.statistics.requests == 2 * expected)
            print("MEASURE routers=\(routers) requests/read=\(expected) bytes/read=\(client.statistics.bytesRead / 2) first(incl. token)=\(elapsed) warm=\(warm)")
        }
    }

    @Test func connectionsAreKeptAliveAcrossRequestsAndReads() async throws {
        try await withCloud { cloud, client in
            for _ in 0..<3 { _ = try await client.readSnapshot() }
            let requests = await cloud.server.requests().count
            let connections = await cloud.server.connectionCount()
            #expect(requests == 1 + 3 * 4)
            // Ideally 5 (one per concurrent list plus Keystone's); under load a request may start before
            // another has handed its connection back, so only "fewer connections than requests" is asserted.
            #expect(connections < requests)
        }
    }

    @Test(arguments: ["", "/", "/v2.0", "/v2.0/"])
    func theEndpointMayEndInVersionOrSlash(suffix: String) async throws {
        let server = try await NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 3), maxPageSize: 2).start()
        defer { Task { await server.shutdown() } }
        var config = CloudConfig(authType: .none)
        config.networkEndpointOverride = server.baseURL + suffix
        let client = try NeutronClient(config: config, options: fastOptions, logger: CapturedLogs().logger)
        let s = try await client.readSnapshot()
        try await client.shutdown()
        #expect(s.routers.count == 3)
        let paths = await server.requests().map(\.path)
        #expect(paths.allSatisfy { $0.hasPrefix("/v2.0/") && !$0.contains("//") })
    }

    @Test func aNextLinkThatRepeatsAPageIsAnError() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in
                guard request.path == "/v2.0/routers" else { return nil }
                return .json(#"{"routers": [{"id": "r1", "admin_state_up": true, "external_gateway_info": null}], "routers_links": [{"rel": "next", "href": "http://127.0.0.1:9696/v2.0/routers?limit=1&marker=r1"}]}"#)
            }
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            #expect(error?.description.contains("repeats an earlier page") == true)
        }
    }

    @Test func pagesAreCapped() async throws {
        var options = fastOptions
        options.maxPages = 3
        try await withCloud(options: options) { cloud, client in
            await cloud.state.setOverride { request, n in
                guard request.path == "/v2.0/routers" else { return nil }
                return .json(#"{"routers": [{"id": "r\#(n)", "admin_state_up": true}], "routers_links": [{"rel": "next", "href": "/v2.0/routers?marker=r\#(n)"}]}"#)
            }
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            #expect(error?.description.contains("more than 3 pages") == true)
        }
    }

    @Test func aNextLinkToAnotherCollectionIsAnError() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in
                guard request.path == "/v2.0/routers" else { return nil }
                return .json(#"{"routers": [{"id": "r1", "admin_state_up": true}], "routers_links": [{"rel": "next", "href": "http://evil.example.test/v2.0/ports?marker=r1"}]}"#)
            }
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            #expect(error?.description.contains("not at routers") == true)
        }
    }

    @Test func externalGatewaysAreMergedWithExternalGatewayInfoWithoutDuplicates() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in
                guard request.path == "/v2.0/routers" else { return nil }
                return .json(#"""
                {"routers": [{"id": "r1", "admin_state_up": true,
                  "external_gateway_info": {"network_id": "ext1", "enable_snat": false, "external_fixed_ips": [{"subnet_id": "s1", "ip_address": "203.0.113.5"}]},
                  "external_gateways": [
                    {"network_id": "ext1", "enable_snat": false, "external_fixed_ips": [{"subnet_id": "s1", "ip_address": "203.0.113.5"}]},
                    {"network_id": "ext2", "external_fixed_ips": [{"subnet_id": "s2", "ip_address": "198.51.100.7"}]}]}]}
                """#)
            }
            let s = try await client.readSnapshot(consistent: false)   // networks ext1/ext2 exist only in this answer
            let r = try #require(s.routers.first)
            #expect(r.gateways.map(\.networkID) == ["ext1", "ext2"])
            #expect(r.gateways[0].enableSNAT == false)
        }
    }

    @Test(arguments: [
        (#"{"routers": [{"id": "r1", "admin_state_up": "yes"}]}"#, "routers[0].admin_state_up has the wrong type"),
        (#"{"routers": [{"name": "no-id", "admin_state_up": true}]}"#, "missing field routers[0].id"),
        (#"{"routers": [{"id": "r1", "admin_state_up": true, "external_gateway_info": {"network_id": "n", "external_fixed_ips": [{"subnet_id": "s", "ip_address": "not-an-ip"}]}}]}"#, "routers[0].external_gateway_info.external_fixed_ips[0].ip_address"),
        (#"{"routers": [{"id": "r1", "admin_state_up": true}]"#, "not JSON"),
        (#"{"router": []}"#, "missing field routers"),
        (#"{"routers": {"id": "r1"}}"#, "routers has the wrong type"),
    ])
    func aBrokenOrWronglyTypedAnswerFailsTheWholeRead(body: String, detail: String) async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in request.path == "/v2.0/routers" ? .json(body) : nil }
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            guard case .invalidResponse(_, let path, let text)? = error else {
                Issue.record("expected invalidResponse, got \(String(describing: error))")
                return
            }
            #expect(path == "/v2.0/routers")
            #expect(text.contains(detail), "\(text)")
        }
    }

    @Test func wrongTypesInPortsSubnetsAndNetworksFailTheRead() async throws {
        for (path, body) in [("/v2.0/ports", #"{"ports": [{"id": "p", "device_id": 7, "device_owner": "x", "fixed_ips": []}]}"#),
                             ("/v2.0/subnets", #"{"subnets": [{"id": "s", "cidr": "10.0.0.0/33"}]}"#),
                             ("/v2.0/networks", #"{"networks": [{"id": "n", "router:external": "True"}]}"#)] {
            try await withCloud { cloud, client in
                await cloud.state.setOverride { request, _ in request.path == path ? .json(body) : nil }
                let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
                #expect(error?.description.contains(path) == true)
            }
        }
    }

    @Test func anHTMLPageWithStatus200IsNotASnapshot() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in
                request.path == "/v2.0/subnets" ? .text("<html><body>Welcome to nginx</body></html>", contentType: "text/html") : nil
            }
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            #expect(error?.description.contains("not JSON (Content-Type text/html") == true)
        }
    }

    @Test func aNeutronErrorStatusCarriesNeutronsMessage() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in
                request.path == "/v2.0/networks" ? .json(try! Fixtures.text("neutron/error-400.json"), status: 400) : nil
            }
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            guard case .httpStatus(_, _, let path, let status, let message, _)? = error else {
                Issue.record("expected httpStatus, got \(String(describing: error))")
                return
            }
            #expect(path == "/v2.0/networks" && status == 400)
            #expect(message?.isEmpty == false)
            #expect(client.statistics.requestsByStatus["400"] == 1)   // 4xx other than 429 is not retried
        }
    }
}

extension CloudSnapshot {
    /// Neutron lists by id; the comparison with a generated snapshot needs the same order.
    func sortedByID() -> CloudSnapshot {
        CloudSnapshot(routers: routers.sorted { $0.id < $1.id }, ports: ports.sorted { $0.id < $1.id },
                      subnets: subnets.sorted { $0.id < $1.id }, networks: networks.sorted { $0.id < $1.id })
    }
}
