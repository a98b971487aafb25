import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Events

/// The Neutron stand-in's notifications (`POST /_control/change`) against the recorded neutron-server 29 ones:
/// same envelope, same message keys, same payload shape per event type, published only once the change is
/// visible through the API. No broker and no wall clock: a recording publisher and an injected clock.
@Suite("Neutron stand-in notifications, shaped as the recorded ones")
struct StandInNotificationTests {
    static let fixedTime = Date(timeIntervalSince1970: 1_796_185_511.130094)  // 2026-12-02 04:25:11.130094 UTC

    /// The inner message of a recorded or published body, as a dictionary.
    static func message(_ body: [UInt8]) throws -> [String: Any] {
        let outer = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(outer["oslo.version"] as? String == "2.0")
        #expect(Set(outer.keys) == ["oslo.version", "oslo.message"])
        let text = try #require(outer["oslo.message"] as? String)
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// A JSON value's shape: object keys (recursively), the shape of a list's first element, the kind of a scalar.
    static func shape(_ value: Any) -> String {
        switch value {
        case let d as [String: Any]:
            return "{" + d.keys.sorted().map { "\($0): \(shape(d[$0]!))" }.joined(separator: ", ") + "}"
        case let a as [Any]:
            return "[" + (a.first.map(shape) ?? "") + "]"
        case is NSNull: return "null"
        case is NSNumber, is Bool, is Int, is Double: return "scalar"
        case is String: return "string"
        default: return "?"
        }
    }

    static func fixtures() throws -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for f in try NotificationFixtures.all() {
            let m = try message(f.body)
            out[try #require(m["event_type"] as? String)] = m
        }
        return out
    }

    /// Every change kind once on a small cloud; returns the published bodies in order.
    static func publishAll(_ standIn: NeutronStandIn, _ recorder: RecordingPublisher) async throws -> [[UInt8]] {
        standIn.setNotifier(recorder)
        // Distinct routers, so the one deleted still has both its interfaces.
        for (i, kind) in StandInCloud.ChangeKind.allCases.enumerated() {
            _ = try await standIn.applyChanges(kind, routerIndex: i + 1)
        }
        return recorder.published
    }

    @Test func everyPublishedMessageHasTheRecordedKeysAndPayloadShapeOfItsEventType() async throws {
        let recorded = try Self.fixtures()
        let standIn = NeutronStandIn(routers: 20, clock: { Self.fixedTime })
        let bodies = try await Self.publishAll(standIn, RecordingPublisher())
        var types: [String] = []
        for body in bodies {
            let m = try Self.message(body)
            let type = try #require(m["event_type"] as? String)
            types.append(type)
            let fixture = try #require(recorded[type], "no recorded \(type)")
            #expect(Set(m.keys) == Set(fixture.keys), "\(type): message keys")
            #expect(Self.shape(m["payload"]!) == Self.shape(fixture["payload"]!), "\(type): payload shape")
            #expect(m["priority"] as? String == "INFO")
            #expect(m["timestamp"] as? String == "2026-12-02 04:25:11.130094")
            #expect((m["message_id"] as? String)?.count == 36)
        }
        #expect(types == ["router.update.start", "router.update.end", "port.update.start", "port.update.end", "router.interface.create",
                          "router.interface.delete", "router.delete.start", "router.interface.delete", "router.interface.delete",
                          "router.delete.end"])
        #expect(Set(bodies.map { try! Self.message($0)["message_id"] as! String }).count == bodies.count, "message IDs are unique")
    }

    @Test func theAgentsDecoderReadsTheRouterPortAndInterfaceFromEachMessage() async throws {
        let standIn = NeutronStandIn(routers: 20, clock: { Self.fixedTime })
        let recorder = RecordingPublisher()
        standIn.setNotifier(recorder)
        let gateway = try await standIn.applyChanges(.gateway).changes[0]
        let gatewayPort = try await standIn.applyChanges(.gatewayPort).changes[0]
        let added = try await standIn.applyChanges(.addInterface).changes[0]
        let removed = try await standIn.applyChanges(.removeInterface).changes[0]
        let deleted = try await standIn.applyChanges(.deleteRouter).changes[0]
        let n = try recorder.published.map { try OsloEnvelope.decode($0) }
        #expect(n[1].eventType == "router.update.end" && n[1].view.routerID == gateway.routerID)
        #expect(n[1].view.routerGatewayNetworkID == StandInCloud.externalNetworkID)
        #expect(n[3].eventType == "port.update.end")
        #expect(n[3].view.port?.deviceOwner == "network:router_gateway" && n[3].view.port?.deviceID == gatewayPort.routerID)
        #expect(n[4].view.interface?.routerID == added.routerID && n[4].view.interface?.subnetIDs.count == 1)
        #expect(n[5].eventType == "router.interface.delete" && n[5].view.interface?.routerID == removed.routerID)
        #expect(n.last?.eventType == "router.delete.end" && n.last?.view.routerID == deleted.routerID)
        #expect(n.allSatisfy { $0.timestamp.map { abs($0.timeIntervalSince(Self.fixedTime)) < 0.001 } ?? false })
    }

    @Test func endNotificationsArePublishedOnlyOnceTheChangeIsVisibleThroughTheAPI() async throws {
        let standIn = NeutronStandIn(routers: 20, clock: { Self.fixedTime })
        let seen = Mutex<[(String, Int, String)]>([])   // (event type, status of GET router, its body)
        let routerID = Mutex("")
        standIn.setNotifier(RecordingPublisher { bodies in
            for body in bodies {
                let type = OsloEnvelope.peekEventType(body) ?? "?"
                let r = standIn.respond(to: ScriptedRequest(method: "GET", uri: "/v2.0/routers/\(routerID.withLock { $0 })"))
                seen.withLock { $0.append((type, r.status, String(decoding: r.body, as: UTF8.self))) }
            }
        })
        let cloud = try #require(standIn.cloud)
        let victim = cloud.routers[7]
        routerID.withLock { $0 = victim.id }
        let oldGateway = StandInCloud.v4Text(victim.gatewayV4)
        let report = try await standIn.applyChanges(.gateway, routerIndex: victim.index)
        let newGateway = try #require(report.changes[0].routesChanged.first { !$0.via.contains(":") }?.via)
        #expect(newGateway != oldGateway)
        let s = seen.withLock { $0 }
        #expect(s.count == 2)
        #expect(s[0].0 == "router.update.start" && s[0].2.contains("\"\(oldGateway)\"") && !s[0].2.contains("\"\(newGateway)\""))
        #expect(s[1].0 == "router.update.end" && s[1].2.contains("\"\(newGateway)\""))

        seen.withLock { $0 = [] }
        _ = try await standIn.applyChanges(.deleteRouter, routerIndex: victim.index)
        let d = seen.withLock { $0 }
        #expect(d.first?.0 == "router.delete.start" && d.first?.1 == 200)
        #expect(d.last?.0 == "router.delete.end" && d.last?.1 == 404)
    }

    @Test func eachChangeReportsTheRoutesAnAgentShouldWrite() async throws {
        let standIn = NeutronStandIn(routers: 30, clock: { Self.fixedTime })
        let before = try #require(standIn.cloud)
        let r = before.routers[3]
        let added = try await standIn.applyChanges(.addInterface, routerIndex: r.index).changes[0]
        #expect(added.routesAdded.count == 1 && added.routesAdded[0].via == StandInCloud.v4Text(r.gatewayV4))
        #expect(added.routesAdded[0].destination.hasSuffix("/26"))
        let removed = try await standIn.applyChanges(.removeInterface, routerIndex: r.index).changes[0]
        #expect(removed.routesRemoved == [added.routesAdded[0].destination], "the last IPv4-only interface goes first")
        let deleted = try await standIn.applyChanges(.deleteRouter, routerIndex: r.index).changes[0]
        #expect(deleted.routesRemoved.count == 3, "two IPv4 and one IPv6 route")
        let after = try #require(standIn.cloud)
        #expect(after.routers.count == before.routers.count - 1)
        #expect(after.expectedRoutes == before.expectedRoutes - 3)
        #expect(!standIn.snapshot.ports.contains { $0.deviceID == r.id }, "its interface and gateway ports are gone")
    }

    @Test func theControlEndpointMakesABurstCyclingThroughTheKindsAndRefusesUnknownOnes() async throws {
        let standIn = NeutronStandIn(routers: 50, clock: { Self.fixedTime })
        let recorder = RecordingPublisher()
        standIn.setNotifier(recorder)
        let bad = await standIn.handle(ScriptedRequest(method: "POST", uri: "/_control/change?kind=bogus"))
        #expect(bad.status == 400)
        let r = await standIn.handle(ScriptedRequest(method: "POST", uri: "/_control/change?kind=mixed&count=10"))
        #expect(r.status == 200)
        let report = try JSONDecoder().decode(NeutronStandIn.ChangeReport.self, from: Data(r.body))
        #expect(report.changes.count == 10)
        #expect(Set(report.changes.map(\.kind)) == Set(StandInCloud.ChangeKind.allCases))
        #expect(report.published == recorder.published.count && report.published >= 14)
        let stats = standIn.respond(to: ScriptedRequest(method: "GET", uri: "/_control/stats"))
        #expect(String(decoding: stats.body, as: UTF8.self).contains("\"requests\":0"), "control calls are not counted")
    }

    @Test func withoutANotifierChangesAreMadeAndNothingIsPublished() async throws {
        let standIn = NeutronStandIn(routers: 5, clock: { Self.fixedTime })
        let report = try await standIn.applyChanges(.addInterface)
        #expect(report.published == 0 && report.changes.count == 1)
    }

    @Test func timestampsAreWrittenAsOsloWritesThem() {
        #expect(StandInNotification.timestampText(Self.fixedTime) == "2026-12-02 04:25:11.130094")
        #expect(StandInNotification.timestampText(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00:00.000000")
        #expect(StandInNotification.timestampText(Date(timeIntervalSince1970: 951_782_400.5)) == "2000-02-29 00:00:00.500000")
        #expect(StandInNotification.isoSeconds(Self.fixedTime) == "2026-12-02T04:25:11Z")
    }
}

@Suite("Neutron stand-in notifications through a real RabbitMQ (scripts/rabbitmq)")
struct StandInBrokerTests {
    @Test(.enabled(if: Broker.isConfigured, "no broker: scripts/rabbitmq/start.sh"))
    func aChangePublishesToTheNeutronExchangeAsOsloDeclaresItAndArrivesAfterTheAPIShowsIt() async throws {
        let exchange = Broker.unique("neutron"), queue = Broker.unique("standin")
        let notifier = try AMQPNotifier(url: Broker.env["MRA_RABBITMQ_URL"]!, password: Broker.password, exchange: exchange)
        try await notifier.connect()
        let consumer = try await Broker.connect()
        // Declaring it again as oslo.messaging does must match what the notifier declared (or the broker refuses).
        try await Broker.declareNeutronLikeExchange(exchange, on: consumer)
        try await consumer.declareQueue(QueueDeclare(queue: queue, durable: true, arguments: ["x-expires": .int64(60_000)]))
        try await consumer.bindQueue(QueueBind(queue: queue, exchange: exchange, routingKey: "notifications.info"))
        try await consumer.consume(queue: queue)
        let standIn = NeutronStandIn(routers: 10)
        standIn.setNotifier(notifier)
        let report = try await standIn.applyChanges(.addInterface)
        #expect(report.published == 1)
        let got = try await receive(1, from: consumer.messages)
        let n = try OsloEnvelope.decode(got[0].body)
        #expect(n.eventType == "router.interface.create" && n.view.routerID == report.changes[0].routerID)
        #expect(got[0].routingKey == "notifications.info" && got[0].properties.contentType == "application/json")
        #expect(got[0].properties.deliveryMode == 2)
        consumer.ack(got[0].deliveryTag)
        await consumer.close()
        await notifier.close()
    }
}
