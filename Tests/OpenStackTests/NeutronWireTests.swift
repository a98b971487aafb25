import Foundation
import Model
import Testing
import TestSupport
@testable import OpenStack

/// Any JSON value, kept apart by type (a boolean is never a number here).
indirect enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    static func parse(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    subscript(_ key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    var text: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var array: [JSONValue] {
        if case .array(let a) = self { return a }
        return []
    }
}

/// What is wrong with `object` against `shape`: fields of the wrong type, null where the table
/// allows none, and (unless listed in `mayLack`) fields the table has and the object lacks.
func wireProblems(_ object: JSONValue, _ shape: NeutronWire.Shape, at path: String, mayLack: Set<String> = []) -> [String] {
    guard case .object(let fields) = object else { return ["\(path) is not an object"] }
    var problems: [String] = []
    for field in shape.fields {
        let here = "\(path).\(field.name)"
        guard let value = fields[field.name] else {
            if !mayLack.contains(field.name) { problems.append("\(here) is missing") }
            continue
        }
        switch (field.kind, value) {
        case (_, .null): if !field.nullable { problems.append("\(here) is null") }
        case (.string, .string), (.bool, .bool), (.integer, .int): break
        case (.address, .string(let s)): if IPAddress(s) == nil { problems.append("\(here) is not an address") }
        case (.prefix, .string(let s)): if IPPrefix(s) == nil { problems.append("\(here) is not a CIDR") }
        case (.strings, .array(let a)):
            if !a.allSatisfy({ if case .string = $0 { true } else { false } }) { problems.append("\(here) is not a list of strings") }
        case (.object(let inner), _): problems += wireProblems(value, inner, at: here)
        case (.objects(let inner), .array(let a)):
            for (i, item) in a.enumerated() { problems += wireProblems(item, inner, at: "\(here)[\(i)]") }
        default: problems.append("\(here) has the wrong type for \(field.kind)")
        }
    }
    return problems
}

@Suite("Neutron's wire format: one table, checked against recorded Neutron answers")
struct NeutronWireTests {
    /// The recorded answers of a real neutron-server, per collection.
    static let recorded = [("routers", "neutron/routers.json"), ("ports", "neutron/ports-router-interfaces.json"),
                           ("subnets", "neutron/subnets.json"), ("networks", "neutron/networks-external.json")]

    @Test(arguments: recorded)
    func everyFieldOfTheTableIsInTheRecordedAnswersWithItsType(collection: String, file: String) throws {
        let resource = try #require(NeutronWire.resource(collection))
        let page = try JSONValue.parse(Fixtures.text(file))
        let objects = try #require(page[collection]).array
        #expect(!objects.isEmpty)
        // The recording's Neutron has no gateway multihoming (`external_gateways`).
        let mayLack: Set<String> = collection == "routers" ? ["external_gateways"] : []
        for (i, object) in objects.enumerated() {
            let problems = wireProblems(object, resource.shape, at: "\(collection)[\(i)]", mayLack: mayLack)
            #expect(problems.isEmpty, "\(problems)")
        }
    }

    @Test func theAgentAsksForTheFieldsItAlwaysAskedFor() {
        #expect(NeutronWire.routers.requestedFields == ["id", "name", "project_id", "admin_state_up", "tags", "external_gateway_info", "external_gateways"])
        #expect(NeutronWire.ports.requestedFields == ["id", "device_id", "device_owner", "fixed_ips"])
        #expect(NeutronWire.subnets.requestedFields == ["id", "network_id", "cidr", "ip_version", "project_id", "created_at", "subnetpool_id"])
        #expect(NeutronWire.networks.requestedFields == ["id", "name", "router:external", "ipv4_address_scope", "ipv6_address_scope"])
        #expect(NeutronWire.ports.filters.map(\.1) == RouterPort.interfaceOwners)
    }

    @Test func theStandInWritesWhatTheTableAndRealNeutronSay() async throws {
        // The same check as for the recorded answers, on what the stand-in writes.
        let standIn = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 3))
        for (collection, _) in Self.recorded {
            let resource = try #require(NeutronWire.resource(collection))
            let response = standIn.respond(to: ScriptedRequest(method: "GET", uri: "/v2.0/\(collection)"))
            #expect(response.status == 200)
            let objects = try #require(try JSONValue.parse(String(decoding: response.body, as: UTF8.self))[collection]).array
            #expect(!objects.isEmpty)
            for (i, object) in objects.enumerated() {
                let problems = wireProblems(object, resource.shape, at: "\(collection)[\(i)]")
                #expect(problems.isEmpty, "\(problems)")
            }
        }
    }

    /// The stand-in answers the recorded requests (shared/fixtures/neutron/INDEX.txt) in the recorded
    /// shape: the same fields per object and the same top-level keys (`<collection>_links` on a full
    /// page), and Neutron's error bodies word for word.
    @Test(arguments: [
        ("/v2.0/subnets?fields=id&fields=cidr&fields=ip_version&fields=network_id&fields=created_at&fields=subnetpool_id",
         "neutron/subnets-fields.json", "subnets"),
        ("/v2.0/ports?device_owner=network:router_interface&fields=device_id&fields=fixed_ips&fields=device_owner",
         "neutron/ports-router-interfaces-fields.json", "ports"),
        ("/v2.0/routers?fields=id&fields=external_gateway_info&fields=project_id&limit=3", "neutron/routers-fields-paged.json", "routers"),
    ])
    func theStandInAnswersARecordedRequestInTheRecordedShape(uri: String, file: String, collection: String) throws {
        let recorded = try JSONValue.parse(Fixtures.text(file))
        // The recording's server paginates every list (pagination_max_limit), so the stand-in does too.
        let (status, served) = try standInGet(NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 5), maxPageSize: 1000), uri)
        #expect(status == 200)
        func keys(_ v: JSONValue?) -> Set<String> { if case .object(let o)? = v { Set(o.keys) } else { [] } }
        #expect(keys(served) == keys(recorded))
        let recordedFields = Set(try #require(recorded[collection]).array.map { keys($0) })
        let servedFields = Set(try #require(served[collection]).array.map { keys($0) })
        #expect(recordedFields.count == 1 && servedFields == recordedFields)
    }

    @Test(arguments: [("/v2.0/routers?limit=abc", 400, "neutron/error-400.json"),
                      ("/v2.0/routers/00000000-0000-0000-0000-000000000000", 404, "neutron/error-404.json")])
    func theStandInsErrorsAreNeutronsWordForWord(uri: String, status: Int, file: String) throws {
        let (served, body) = try standInGet(NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 1)), uri)
        #expect(served == status)
        #expect(body == (try JSONValue.parse(Fixtures.text(file))))
    }

    // MARK: - Gateway folding

    static let s4 = FixedIP(subnetID: "s4", ipAddress: IPAddress("203.0.113.10")!)
    static let s6 = FixedIP(subnetID: "s6", ipAddress: IPAddress("2001:db8::10")!)

    @Test func thePrimaryGatewayRepeatedInExternalGatewaysIsListedOnceEvenInAnotherOrder() {
        let info = ExternalGateway(networkID: "ext", enableSNAT: true, fixedIPs: [Self.s4, Self.s6])
        let repeated = ExternalGateway(networkID: "ext", fixedIPs: [Self.s6, Self.s4])
        let second = ExternalGateway(networkID: "ext2", fixedIPs: [FixedIP(subnetID: "s9", ipAddress: IPAddress("198.51.100.7")!)])
        let folded = NeutronWire.foldGateways(info: info, list: [repeated, second])
        #expect(folded == [info, second])
    }

    @Test func gatewaysOnOneNetworkWithOtherAddressesAreKept() {
        let info = ExternalGateway(networkID: "ext", fixedIPs: [Self.s4])
        let other = ExternalGateway(networkID: "ext", fixedIPs: [Self.s6])
        #expect(NeutronWire.foldGateways(info: info, list: [other]) == [info, other])
        #expect(NeutronWire.foldGateways(info: nil, list: [other, other]) == [other])
        #expect(NeutronWire.foldGateways(info: nil, list: []).isEmpty)
    }

    // MARK: - Snapshot files

    @Test func routersInNeutronsOwnShapeAreReadToo() throws {
        let json = """
        {"routers":[{"id":"r1","project_id":"p","admin_state_up":true,
          "external_gateway_info":{"network_id":"ext","enable_snat":true,
            "external_fixed_ips":[{"subnet_id":"s4","ip_address":"203.0.113.10"},{"subnet_id":"s6","ip_address":"2001:db8::10"}]},
          "external_gateways":[{"network_id":"ext","external_fixed_ips":[{"subnet_id":"s4","ip_address":"203.0.113.10"},{"subnet_id":"s6","ip_address":"2001:db8::10"}]},
                               {"network_id":"ext2","external_fixed_ips":[{"subnet_id":"s9","ip_address":"198.51.100.7"}]}]},
          {"id":"r2","external_gateway_info":null}],
         "ports":[],"subnets":[]}
        """
        let snap = try SnapshotFile.decode(Data(json.utf8))
        #expect(snap.routers[0].gateways.map(\.networkID) == ["ext", "ext2"])
        #expect(snap.routers[0].gateways[0].enableSNAT == true)
        #expect(snap.routers[0].gateways.flatMap(\.fixedIPs).map(\.ipAddress.description).contains("198.51.100.7"))
        #expect(snap.routers[1].gateways.isEmpty)
        #expect(snap.routers[1].adminStateUp)     // the snapshot format's default
    }

    @Test func aNeutronShapedRouterFoldsLikeTheClientWithSetSemantics() throws {
        let json = """
        {"routers":[{"id":"r1","external_gateway_info":{"network_id":"ext",
            "external_fixed_ips":[{"subnet_id":"s4","ip_address":"203.0.113.10"},{"subnet_id":"s6","ip_address":"2001:db8::10"}]},
          "external_gateways":[{"network_id":"ext","external_fixed_ips":[{"subnet_id":"s6","ip_address":"2001:db8::10"},{"subnet_id":"s4","ip_address":"203.0.113.10"}]}]}],
         "ports":[],"subnets":[]}
        """
        #expect(try SnapshotFile.decode(Data(json.utf8)).routers[0].gateways.count == 1)
    }

    @Test func aBrokenGatewayInANeutronShapedRouterIsAnError() {
        let json = #"{"routers":[{"id":"r1","external_gateway_info":{"network_id":"ext","external_fixed_ips":[{"subnet_id":"s","ip_address":"nope"}]}}],"ports":[],"subnets":[]}"#
        #expect(throws: DecodingError.self) { try SnapshotFile.decode(Data(json.utf8)) }
    }

    @Test func theSnapshotFormatIsReadAsModelSaysWithItsGatewaysKey() throws {
        let snap = NeutronStandIn.simpleCloud(routers: 4)
        #expect(try SnapshotFile.decode(snap.jsonData()) == snap)
    }

    /// The demo snapshot and the clouds of the shell suites (tests/clouds) are snapshot files.
    @Test func theShippedSnapshotFilesLoad() throws {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let clouds = packageRoot.appendingPathComponent("tests/clouds")
        let files = try FileManager.default.contentsOfDirectory(atPath: clouds.path).filter { $0.hasSuffix(".json") }
        #expect(files.count >= 5)
        for file in files {
            let s = try SnapshotFile.load(from: clouds.appendingPathComponent(file).path)
            #expect(!s.routers.isEmpty && !s.subnets.isEmpty, "\(file)")
        }
        let demo = try SnapshotFile.load(from: packageRoot.appendingPathComponent("examples/demo-snapshot.json").path)
        #expect(demo == (try SnapshotFile.load(from: clouds.appendingPathComponent("metadata-scenario.json").path)))
    }
}
