import Foundation
import Model
import Testing
import TestSupport
@testable import OpenStack

/// A Neutron whose lists can leave objects out (as if read a moment too early), list some twice, and
/// whose `id=` filters and GETs by ID answer from everything that exists.
final class GappyNeutron: Sendable {
    let objects: [String: [[String: Any & Sendable]]]
    let unlisted: Set<String>
    let doubled: Set<String>

    init(routers: Int, unlisted: Set<String> = [], doubled: Set<String> = [], deleted: Set<String> = []) {
        var r: [[String: Any & Sendable]] = [], p: [[String: Any & Sendable]] = [], s: [[String: Any & Sendable]] = []
        for i in 0..<routers {
            let gw: [String: Any & Sendable] = ["network_id": "ext", "external_fixed_ips": [["subnet_id": "ext-v4", "ip_address": "203.0.113.\(i % 200 + 10)"]]]
            r.append(["id": "r\(i)", "name": "", "project_id": "proj-\(i % 3)", "admin_state_up": true, "tags": [String](), "external_gateway_info": gw])
            s.append(["id": "s\(i)", "network_id": "n\(i)", "cidr": "10.\(i / 250).\(i % 250).0/24", "ip_version": 4, "project_id": "proj-\(i % 3)", "created_at": "2026-01-01T00:00:00Z"])
            p.append(["id": "p\(i)", "device_id": "r\(i)", "device_owner": "network:router_interface",
                      "fixed_ips": [["subnet_id": "s\(i)", "ip_address": "10.\(i / 250).\(i % 250).1"]]])
        }
        s.append(["id": "ext-v4", "network_id": "ext", "cidr": "203.0.113.0/24", "ip_version": 4, "project_id": "admin", "created_at": "2025-01-01T00:00:00Z"])
        let n: [[String: Any & Sendable]] = [["id": "ext", "name": "public", "router:external": true]]
        objects = ["routers": r.filter { !deleted.contains($0["id"] as! String) },
                   "ports": p, "subnets": s.filter { !deleted.contains($0["id"] as! String) }, "networks": n]
        self.unlisted = unlisted
        self.doubled = doubled
    }

    func respond(_ request: ScriptedRequest, _ n: Int) -> ScriptedResponse? {
        let parts = request.path.split(separator: "/").map(String.init)   // ["v2.0", "routers", id?]
        guard parts.count >= 2, parts[0] == "v2.0", let all = objects[parts[1]] else { return nil }
        let collection = parts[1]
        func body(_ o: Any) -> ScriptedResponse { .json(data: try! JSONSerialization.data(withJSONObject: o)) }
        if parts.count == 3 {
            guard let o = all.first(where: { $0["id"] as? String == parts[2] }) else {
                return .json(#"{"NeutronError": {"type": "RouterNotFound", "message": "not found", "detail": ""}}"#, status: 404)
            }
            return body([String(collection.dropLast()): o])
        }
        let ids = request.queryValues("id")
        var items: [[String: Any & Sendable]]
        if !ids.isEmpty {
            items = all.filter { ids.contains($0["id"] as! String) }
        } else {
            items = all.filter { !unlisted.contains($0["id"] as! String) }
            items += all.filter { doubled.contains($0["id"] as! String) }
        }
        return body([collection: items])
    }
}

@Suite("Consistency before trust: gaps re-read by ID, contradictions are failed reads", .timeLimit(.minutes(2)))
struct ReadConsistencyTests {
    func read(_ neutron: GappyNeutron) async throws -> (CloudSnapshot, [ScriptedRequest]) {
        try await withCloud(neutron: nil) { cloud, client in
            await cloud.state.setOverride { r, n in neutron.respond(r, n) }
            let s = try await client.readSnapshot()
            let requests = await cloud.server.requests().filter { $0.path.hasPrefix("/v2.0/") }
            return (s, requests)
        }
    }

    @Test func aConsistentReadNeedsNoExtraRequests() async throws {
        let (s, requests) = try await read(GappyNeutron(routers: 5))
        #expect(s.routers.count == 5)
        #expect(requests.count == 4)
    }

    @Test func aRouterCreatedAfterTheRouterListJoinsTheSnapshot() async throws {
        let (s, requests) = try await read(GappyNeutron(routers: 5, unlisted: ["r3"]))
        #expect(Set(s.routers.map(\.id)) == ["r0", "r1", "r2", "r3", "r4"])
        #expect(s.routers.first { $0.id == "r3" }?.gateways.first?.fixedIPs.first?.ipAddress == IPAddress("203.0.113.13"))
        let reread = requests.filter { $0.path == "/v2.0/routers" && !$0.queryValues("id").isEmpty }
        #expect(reread.count == 1 && reread[0].queryValues("id") == ["r3"])
    }

    @Test func subnetsMissingFromATruncatedListAreReadInBatchesOfFifty() async throws {
        // The neutron-server 29 case: a list that silently returned 334 of 601 subnets.
        let missing = Set((200..<320).map { "s\($0)" })
        let (s, requests) = try await read(GappyNeutron(routers: 320, unlisted: missing))
        #expect(s.subnets.count == 321)
        let batches = requests.filter { $0.path == "/v2.0/subnets" && !$0.queryValues("id").isEmpty }.map { $0.queryValues("id").count }
        #expect(batches == [50, 50, 20])
    }

    @Test func aRouterDeletedDuringTheReadDropsItsPortsWhenAGetByIDSays404() async throws {
        // The port list still names r2, the router is gone: neither in an id= list nor by GET.
        let (s, requests) = try await read(GappyNeutron(routers: 4, deleted: ["r2"]))
        #expect(!s.ports.contains { $0.deviceID == "r2" })
        #expect(s.routers.count == 3)
        #expect(requests.contains { $0.path == "/v2.0/routers/r2" })
    }

    @Test func aSubnetDeletedDuringTheReadDropsTheFixedIPsOnIt() async throws {
        let (s, _) = try await read(GappyNeutron(routers: 3, deleted: ["s1"]))
        #expect(!s.ports.flatMap(\.fixedIPs).contains { $0.subnetID == "s1" })
        #expect(s.ports.count == 2)
    }

    @Test(arguments: [("r1", "router r1"), ("s0", "subnet s0"), ("p2", "port p2")])
    func duplicateIDsAreAFailedReadNamingThem(id: String, named: String) async throws {
        do {
            _ = try await read(GappyNeutron(routers: 3, doubled: [id]))
            Issue.record("a read with a duplicate \(id) was accepted")
        } catch let e as InconsistentReadError {
            #expect(e.description.contains("duplicate IDs in one read: \(named)"))
            #expect(!e.description.contains("\n"))
        }
    }

    @Test func aReReadThatFailsFailsTheWholeRead() async throws {
        await #expect(throws: OpenStackError.self) {
            try await withCloud(neutron: nil) { cloud, client in
                let gappy = GappyNeutron(routers: 3, unlisted: ["r1"])
                await cloud.state.setOverride { r, n in
                    r.path == "/v2.0/routers" && !r.queryValues("id").isEmpty ? .json("{}", status: 500) : gappy.respond(r, n)
                }
                _ = try await client.readSnapshot()
            }
        }
    }

    @Test func examineNamesEveryKindOfGap() {
        var s = CloudSnapshot()
        s.ports = [RouterPort(id: "p", deviceID: "ghost", fixedIPs: [FixedIP(subnetID: "nosuch", ipAddress: IPAddress("10.0.0.1")!)])]
        s.routers = [Router(id: "r", gateways: [ExternalGateway(networkID: "nonet", fixedIPs: [])])]
        let c = ReadConsistency.examine(s)
        #expect(c.missingRouters == ["ghost"])
        #expect(c.missingSubnets == ["nosuch"])
        #expect(c.missingNetworks == ["nonet"])
        #expect(c.summary.contains("1 router(s) Neutron did not list (ghost)"))
    }
}
