import Foundation
import Model
import Testing
import TestSupport
@testable import OpenStack

/// The streaming page decoder against the path it replaced — Foundation's `JSONDecoder` over
/// `ListPage<WireRouter>`… — on the recorded answers of a real Neutron, on generated clouds of the
/// stand-in, and on mutations of both: the two accept with identical values and next link, or both
/// refuse with the same message (`describeDecodingError`, so naming the same field).
enum PageReference {
    /// What one decoder made of a page: its items and next link, or its error message.
    enum Outcome: Equatable, CustomStringConvertible {
        case page(String, next: String?)
        case failed(String)

        var description: String {
            switch self {
            case .page(let items, let next): "page(next: \(next ?? "nil"), \(items.prefix(300)))"
            case .failed(let m): "failed(\(m))"
            }
        }
    }

    static func message(_ error: any Error) -> String {
        if let e = error as? DecodingError { return describeDecodingError(e, contentType: "application/json", bytes: 0) }
        return "not a DecodingError: \(error)"
    }

    static func reference<Wire: Decodable, Item>(_ bytes: [UInt8], _ collection: String, _: Wire.Type,
                                                 _ model: (Wire) -> Item) -> Outcome {
        do {
            let decoder = JSONDecoder()
            decoder.userInfo[listCollectionKey] = collection
            let page = try decoder.decode(ListPage<Wire>.self, from: Data(bytes))
            return .page("\(page.items.map(model))", next: page.next)
        } catch {
            return .failed(message(error))
        }
    }

    static func streaming<Item>(_ bytes: [UInt8], _ decode: (UnsafeRawBufferPointer) throws -> NeutronPageDecoder.Page<Item>) -> Outcome {
        do {
            let page = try bytes.withUnsafeBytes { try decode($0) }
            return .page("\(page.items)", next: page.next)
        } catch {
            return .failed(message(error))
        }
    }

    /// Both outcomes of `bytes` read as `collection`.
    static func both(_ bytes: [UInt8], as collection: String) -> (reference: Outcome, streaming: Outcome) {
        switch collection {
        case "routers": (reference(bytes, collection, WireRouter.self, \.model), streaming(bytes, NeutronPageDecoder.routers))
        case "ports": (reference(bytes, collection, WirePort.self, \.model), streaming(bytes, NeutronPageDecoder.ports))
        case "subnets": (reference(bytes, collection, WireSubnet.self, \.model), streaming(bytes, NeutronPageDecoder.subnets))
        default: (reference(bytes, collection, WireNetwork.self, \.model), streaming(bytes, NeutronPageDecoder.networks))
        }
    }

    /// Records an issue when the two decoders disagree; returns whether the page was accepted.
    @discardableResult
    static func agree(_ bytes: [UInt8], as collection: String, _ what: @autoclosure () -> String,
                      sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let (r, s) = both(bytes, as: collection)
        if r != s {
            Issue.record("\(what()) as \(collection): reference \(r) but streaming \(s); input \(String(decoding: bytes.prefix(400), as: UTF8.self))",
                         sourceLocation: sourceLocation)
        }
        if case .page = r { return true }
        return false
    }

    static let collections = ["routers", "ports", "subnets", "networks"]

    /// Every list page the stand-in serves for `standIn`, following next links.
    static func pages(_ standIn: NeutronStandIn, _ resource: NeutronWire.Resource, limit: Int) -> [[UInt8]] {
        var query = NeutronClient.encodeQuery(resource.filters + resource.requestedFields.map { ("fields", $0) } + [("limit", String(limit))])
        var out: [[UInt8]] = []
        for _ in 0..<1000 {
            let response = standIn.respond(to: ScriptedRequest(method: "GET", uri: "/v2.0/\(resource.collection)?\(query)"))
            out.append(response.body)
            guard case .page(_, let next?) = both(response.body, as: resource.collection).reference,
                  let q = try? NeutronClient.nextQuery(next, collection: resource.collection) else { break }
            query = q
        }
        return out
    }
}

@Suite("Streaming page decoder: identical to JSONDecoder on recorded, generated and mutated pages")
struct NeutronPageDifferentialTests {
    static let fixtureFiles: [String] = {
        let dir = Fixtures.root.appendingPathComponent("neutron")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }()

    @Test func everyRecordedAnswerIsReadAlikeAsEveryCollection() throws {
        #expect(Self.fixtureFiles.count >= 10, "the recorded Neutron answers are missing")
        var accepted = 0
        for file in Self.fixtureFiles {
            let bytes = Array(try Fixtures.text("neutron/" + file).utf8)
            for c in PageReference.collections where PageReference.agree(bytes, as: c, file) { accepted += 1 }
        }
        // routers, routers-fields-paged(-2), ports×2 (+gateways), subnets×2, networks-external at least.
        #expect(accepted >= 7)
    }

    @Test(arguments: [0, 1, 7, 250])
    func generatedCloudsAreReadAlike(routers: Int) throws {
        for standIn in [NeutronStandIn(routers: routers), NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: routers))] {
            for resource in NeutronWire.all {
                let pages = PageReference.pages(standIn, resource, limit: 100)
                #expect(!pages.isEmpty)
                for (i, page) in pages.enumerated() {
                    #expect(PageReference.agree(page, as: resource.collection, "page \(i) of \(routers) routers"))
                }
            }
        }
    }

    @Test func aChurnedCloudIsReadAlike() throws {
        let standIn = NeutronStandIn(routers: 120)
        for round in 0..<3 {
            _ = standIn.churn(percent: 20)
            for resource in NeutronWire.all {
                for page in PageReference.pages(standIn, resource, limit: 1000) {
                    #expect(PageReference.agree(page, as: resource.collection, "churn round \(round)"))
                }
            }
        }
    }

    /// A small page of each collection, every field present, with escapes, nulls and unknown fields.
    static let smallPages: [(String, String)] = [
        ("routers", #"{"routers": [{"id": "r\u00e9\ud83d\ude00", "name": null, "project_id": "p", "admin_state_up": true, "tags": ["a", "b\n"], "status": "ACTIVE", "x": {"y": [1, -2.5e3, null, false, {}]}, "external_gateway_info": {"network_id": "n", "enable_snat": false, "external_fixed_ips": [{"subnet_id": "s", "ip_address": "203.0.113.5"}, {"subnet_id": "s6", "ip_address": "2001:db8::5"}]}, "external_gateways": [{"network_id": "n2", "external_fixed_ips": [{"subnet_id": "s2", "ip_address": "198.51.100.7"}]}]}], "routers_links": [{"rel": "previous", "href": "http://h/v2.0/routers?marker=a&page_reverse=True"}, {"rel": "next", "href": "http://h/v2.0/routers?marker=r1"}]}"#),
        ("ports", #"{"ports": [{"id": "p1", "device_id": "r1", "device_owner": "network:router_interface", "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.1"}], "mac_address": "fa:16:3e:00:00:01"}, {"device_id": "r2", "device_owner": "network:ha_router_replicated_interface", "fixed_ips": []}]}"#),
        ("subnets", #"{"subnets": [{"id": "s1", "network_id": "n1", "cidr": "10.0.0.0/24", "ip_version": 4, "project_id": "p", "created_at": "2026-01-01T00:00:00Z", "subnetpool_id": null}, {"id": "s2", "cidr": "2001:db8:1::/64", "subnetpool_id": "sp"}], "subnets_links": []}"#),
        ("networks", #"{"networks": [{"id": "e1", "name": "public", "router:external": true, "ipv4_address_scope": "as4", "ipv6_address_scope": null, "status": "ACTIVE"}]}"#),
    ]

    @Test func theSmallPagesAreAcceptedByBoth() {
        for (c, text) in Self.smallPages {
            #expect(PageReference.agree(Array(text.utf8), as: c, "small page"), "\(c)")
        }
    }

    @Test func everyTruncationOfASmallPageIsRefusedByBoth() {
        for (c, text) in Self.smallPages {
            let bytes = Array(text.utf8)
            for n in 0..<bytes.count {
                let cut = Array(bytes[..<n])
                let accepted = PageReference.agree(cut, as: c, "first \(n) bytes")
                #expect(!accepted, "\(c) cut to \(n) bytes was accepted")
            }
        }
    }

    @Test func everyByteReplacedInASmallPageIsJudgedAlike() {
        let replacements: [UInt8] = [0x00, 0x09, 0x22, 0x2C, 0x30, 0x3A, 0x5B, 0x5C, 0x5D, 0x61, 0x6E, 0x74, 0x7B, 0x7D, 0x80, 0xC3, 0xFF]
        for (c, text) in Self.smallPages {
            let bytes = Array(text.utf8)
            for i in bytes.indices {
                for r in replacements where r != bytes[i] {
                    var m = bytes
                    m[i] = r
                    PageReference.agree(m, as: c, "byte \(i) → \(r)")
                }
                var d = bytes
                d.remove(at: i)
                PageReference.agree(d, as: c, "byte \(i) removed")
            }
        }
    }

    /// Each field of each small page removed, made null, or given a value of every other type.
    @Test func everyFieldRemovedOrRetypedIsJudgedAlike() throws {
        let values = ["null", "true", "0", "-1.5", "\"\"", "\"x\"", "[]", "{}", "[null]", "[\"a\"]", "[{}]", "\"203.0.113.9\"", "\"10.0.0.0/33\"",
                      "\"\\ud800\"", "\"\\u00e9\"", "[{\"subnet_id\": \"s\", \"ip_address\": \"10.1.1.1\"}]"]
        for (c, text) in Self.smallPages {
            let bytes = Array(text.utf8)
            // Every `"key": ` position: replace the value that follows, or drop the member.
            var keyEnds: [Int] = []
            for i in bytes.indices.dropLast() where bytes[i] == UInt8(ascii: "\"") && bytes[i + 1] == UInt8(ascii: ":") { keyEnds.append(i + 2) }
            #expect(keyEnds.count > 5)
            for start in keyEnds {
                var c2 = JSONCursorBox(bytes, start)
                guard let end = c2.valueEnd() else { continue }
                for v in values {
                    let m = Array(bytes[..<start]) + Array(" \(v)".utf8) + Array(bytes[end...])
                    PageReference.agree(m, as: c, "value at \(start) → \(v)")
                }
                // The same key twice: the first wins in both.
                let dup = Array(bytes[..<end]) + Array(", \"id\": 5, \"admin_state_up\": null".utf8) + Array(bytes[end...])
                PageReference.agree(dup, as: c, "duplicate after \(start)")
            }
        }
    }

    @Test func quirksOfTheReferenceAreKept() {
        for (c, text, accepted) in [
            ("networks", #"{"networks": [{"id": "a", "id": 5}]}"#, true),          // first of duplicate keys wins
            ("networks", #"{"networks": [{"id": 5, "id": "a"}]}"#, false),
            ("networks", #"{"networks": [{"id": "a", "x": 01}]}"#, true),          // skipped values are only scanned
            ("networks", #"{"networks": [{"id": "a", "x": "\q\u0001"}]}"#, true),
            ("networks", #"{"networks": [{"id": "a\q"}]}"#, false),                // read values are strict
            ("networks", #"{"networks": [{"id": "\ud800"}]}"#, false),
            ("networks", #"{"networks": [{"id": "a",}],}"#, true),                 // a trailing comma
            ("networks", #"{"networks": [{"id": "a"},,]}"#, false),
            ("networks", "\u{FEFF}{\"networks\": []}", true),                       // a byte order mark
            ("networks", #"{"networks": []} x"#, false),                           // trailing garbage
            ("networks", #"{"networks": [{"id": "a", "name": 5}], "networks": 7}"#, false),
            ("routers", #"{"routers": [{"id": "r", "admin_state_up": "no", "external_gateway_info": 5}]}"#, false), // read order
        ] {
            let ok = PageReference.agree(Array(text.utf8), as: c, text)
            #expect(ok == accepted, "\(text)")
        }
    }
}

/// Finds where the JSON value starting at an offset ends (for the mutation test).
struct JSONCursorBox {
    let bytes: [UInt8]
    let start: Int

    init(_ bytes: [UInt8], _ start: Int) {
        self.bytes = bytes
        self.start = start
    }

    mutating func valueEnd() -> Int? {
        bytes.withUnsafeBytes { raw in
            var c = JSONCursor(raw)
            c.i = start
            guard (try? c.skipValue()) != nil else { return nil }
            return c.i
        }
    }
}
