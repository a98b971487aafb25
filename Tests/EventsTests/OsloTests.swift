import Foundation
import Testing
@testable import Events

/// The recorded notifications (`../shared/fixtures/notifications/neutron-29-messagingv2.jsonl` beside the package):
/// one line per event type, `body` exactly as delivered.
enum NotificationFixtures {
    static let file: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/fixtures/notifications/neutron-29-messagingv2.jsonl")

    struct Recorded: Sendable {
        let routingKey: String
        let exchange: String
        let body: [UInt8]
    }

    static func all() throws -> [Recorded] {
        let text = try String(contentsOf: file, encoding: .utf8)
        return try text.split(whereSeparator: \.isNewline).map { line in
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return Recorded(routingKey: try #require(obj["routing_key"] as? String), exchange: try #require(obj["exchange"] as? String),
                            body: Array(try #require(obj["body"] as? String).utf8))
        }
    }
}

@Suite("oslo notification envelope over every recorded Neutron event")
struct OsloTests {
    @Test func everyFixtureDecodesAndThePeekAgreesWithTheFullDecode() throws {
        let fixtures = try NotificationFixtures.all()
        #expect(fixtures.count == 22)
        var types: [String] = []
        for f in fixtures {
            let n = try OsloEnvelope.decode(f.body)
            #expect(OsloEnvelope.peekEventType(f.body) == n.eventType)
            #expect(n.priority == "INFO")
            #expect(n.publisherID == "network.controller-1")
            #expect(n.messageID.count == 36)
            #expect(n.timestamp != nil, "timestamp '\(n.timestampText)'")
            #expect(try !n.payloadJSON().isEmpty)
            types.append(n.eventType)
        }
        #expect(Set(types).isSuperset(of: ["router.create.end", "router.update.end", "router.delete.end", "router.interface.create",
                                           "router.interface.delete", "port.update.end", "subnet.update.end", "network.delete.end"]))
    }

    private func fixture(_ eventType: String) throws -> OsloNotification {
        let body = try #require(try NotificationFixtures.all().first { OsloEnvelope.peekEventType($0.body) == eventType }?.body)
        return try OsloEnvelope.decode(body)
    }

    @Test func routerEventsNameTheRouterAndItsGatewayNetworkOnceSet() throws {
        let created = try fixture("router.create.end")  // created without a gateway
        #expect(created.view.routerID == "c7569074-3da1-4fa5-8800-71e3a90ae3a0")
        #expect(created.view.routerGatewayNetworkID == nil)
        let payload = try #require(try JSONSerialization.jsonObject(with: try created.payloadJSON()) as? [String: Any])
        #expect((payload["router"] as? [String: Any])?["id"] as? String == created.view.routerID)
        let updated = try fixture("router.update.end")  // the gateway set
        #expect(updated.view.routerID == created.view.routerID)
        #expect(updated.view.routerGatewayNetworkID == "cf93a809-137e-45ce-b40c-bdfc1a94895c")
        // .start carries the request body: the router ID sits beside it.
        #expect(try fixture("router.update.start").view.routerID == created.view.routerID)
    }

    @Test func routerInterfaceEventsCarryRouterSubnetsAndPort() throws {
        for type in ["router.interface.create", "router.interface.delete"] {
            let n = try fixture(type)
            let iface = try #require(n.view.interface)
            #expect(iface.routerID == n.view.routerID)
            #expect(!iface.subnetIDs.isEmpty)
            #expect(iface.portID != nil)
            #expect(iface.networkID != nil)
        }
    }

    @Test func routerDeleteEndNamesTheRouterByRouterID() throws {
        let n = try fixture("router.delete.end")
        #expect(n.view.routerID == "c7569074-3da1-4fa5-8800-71e3a90ae3a0")
    }

    @Test func portUpdateEndCarriesOwnerDeviceAndNetwork() throws {
        let n = try fixture("port.update.end")
        let port = try #require(n.view.port)
        #expect(!port.deviceOwner.isEmpty)
        #expect(port.networkID != nil)
        #expect(port.id != nil)
    }

    @Test func subnetAndNetworkEventsNameTheirIDs() throws {
        let s = try fixture("subnet.update.end")
        #expect(s.view.subnetID != nil)
        #expect(s.view.subnetNetworkID != nil)
        #expect(try fixture("subnet.delete.end").view.subnetID != nil)
        let net = try fixture("network.create.end")
        #expect(net.view.networkID != nil)
        #expect(net.view.networkExternal == true)
        #expect(try fixture("network.delete.end").view.networkID != nil)
    }

    @Test func theTimestampIsReadAsUTC() throws {
        let d = try #require(parseOsloTimestamp("2026-11-28 10:11:12.123456"))
        #expect(abs(d.timeIntervalSince1970 - 1_795_860_672.123456) < 0.000_001)
        #expect(parseOsloTimestamp("1970-01-01T00:00:00Z")?.timeIntervalSince1970 == 0)
        #expect(parseOsloTimestamp("2024-02-29 23:59:59")?.timeIntervalSince1970 == 1_709_251_199)
        for bad in ["", "2026-11-28", "2026-13-01 00:00:00", "2026-11-28 10:11:12.", "2026-11-28 10:11:12+01:00", "yyyy-11-28 10:11:12"] {
            #expect(parseOsloTimestamp(bad) == nil, "\(bad)")
        }
    }

    @Test func theOlderMessagingDriverWithoutEnvelopeDecodesToo() throws {
        let body = #"{"event_type": "router.delete.end", "priority": "INFO", "payload": {"router_id": "r1"}, "timestamp": "2026-11-28 10:11:12.000001"}"#
        let n = try OsloEnvelope.decode(Array(body.utf8))
        #expect(n.eventType == "router.delete.end")
        #expect(n.view.routerID == "r1")
        #expect(OsloEnvelope.peekEventType(Array(body.utf8)) == "router.delete.end")
    }

    @Test(arguments: [
        ("", NotificationDecodingError.notJSON("body")),
        ("{\"oslo.version\": \"2.0\", \"oslo.message\": ", .notJSON("body")),
        ("[1, 2]", .notAnObject("body")),
        ("{\"oslo.version\": \"1.0\", \"oslo.message\": \"{}\"}", .unsupportedVersion("1.0")),
        ("{\"oslo.version\": 2, \"oslo.message\": \"{}\"}", .wrongType(field: "oslo.version", expected: "a string")),
        ("{\"oslo.version\": \"2.0\"}", .missingField("oslo.message")),
        ("{\"oslo.version\": \"2.0\", \"oslo.message\": {}}", .wrongType(field: "oslo.message", expected: "a string")),
        ("{\"oslo.version\": \"2.0\", \"oslo.message\": \"not json\"}", .notJSON("oslo.message")),
        ("{\"oslo.version\": \"2.0\", \"oslo.message\": \"[]\"}", .notAnObject("oslo.message")),
        ("{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"payload\\\": {}}\"}", .missingField("event_type")),
        ("{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"event_type\\\": 7, \\\"payload\\\": {}}\"}", .wrongType(field: "event_type", expected: "a string")),
        ("{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"event_type\\\": \\\"port.update.end\\\"}\"}", .missingField("payload")),
        ("{\"oslo.version\": \"2.0\", \"oslo.message\": \"{\\\"event_type\\\": \\\"x\\\", \\\"payload\\\": [1]}\"}", .wrongType(field: "payload", expected: "an object")),
    ])
    func malformedBodiesAreTypedErrors(_ body: String, _ expected: NotificationDecodingError) {
        #expect(throws: expected) { try OsloEnvelope.decode(Array(body.utf8)) }
    }

    @Test func thePeekIgnoresEventTypeTextInsideValues() throws {
        // A port name holding `"event_type": "router.update.end"` comes before the real key: escaped one level deeper.
        let inner = #"{"message_id": "m", "publisher_id": "p\"event_type\": \"router.update.end\"", "event_type": "port.update.end", "payload": {}}"#
        let outerObject = ["oslo.version": "2.0", "oslo.message": inner]
        let body = Array(try! JSONSerialization.data(withJSONObject: outerObject))
        #expect(OsloEnvelope.peekEventType(body) == "port.update.end")
        #expect(try OsloEnvelope.decode(body).eventType == "port.update.end")
    }

    @Test func thePeekSaysNilRatherThanGuessing() {
        for body in ["", "{}", #"{"event_type": 5}"#, #"{"event_type": ""}"#, "event_type", #"{"oslo.message": "{\"event_type\": "#] {
            #expect(OsloEnvelope.peekEventType(Array(body.utf8)) == nil, "\(body)")
        }
    }

    @Test func malformedRecordedBodiesNeverCrashTheDecoder() throws {
        // Every prefix of a real message: each one decodes or throws, none traps.
        let body = try #require(try NotificationFixtures.all().first?.body)
        for cut in stride(from: 0, to: body.count, by: 7) {
            _ = try? OsloEnvelope.decode(body[..<cut])
            _ = OsloEnvelope.peekEventType(body[..<cut])
        }
    }
}
