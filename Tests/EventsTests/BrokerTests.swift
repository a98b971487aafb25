import Foundation
import Testing
import TestSupport
@testable import Events

/// The real RabbitMQ started by scripts/rabbitmq/start.sh (scripts/run-tests.sh exports its variables).
/// Outside CI the suite is skipped when no broker is set up; in CI a missing broker fails (see `brokerIsConfiguredInCI`).
enum Broker {
    static let env = ProcessInfo.processInfo.environment
    static var isConfigured: Bool { env["MRA_RABBITMQ_URL"] != nil }
    static var endpoint: AMQPEndpoint { try! AMQPEndpoint(parsing: env["MRA_RABBITMQ_URL"]!) }
    static var password: String { env["MRA_RABBITMQ_PASSWORD"] ?? "guest" }

    static func connect() async throws -> AMQPConnection {
        try await AMQPConnection.connect(to: endpoint, password: password)
    }

    /// A name no other test (or earlier run) uses.
    static func unique(_ prefix: String) -> String { "mra-test.\(prefix).\(UUID().uuidString.prefix(8))" }

    /// rabbitmqctl on the test node.
    @discardableResult
    static func ctl(_ args: String...) throws -> String {
        let r = try runProgram(env["MRA_RABBITMQ_CTL"] ?? "scripts/rabbitmq/ctl.sh", args)
        guard r.succeeded else { throw AMQPError.invalidRequest("rabbitmqctl \(args.joined(separator: " ")): \(r.stdout)\(r.stderr)") }
        return r.stdout
    }

    /// Declares an exchange the way Neutron's oslo.messaging does: topic, not durable, not auto-delete.
    static func declareNeutronLikeExchange(_ name: String, on connection: AMQPConnection) async throws {
        try await connection.declareExchange(ExchangeDeclare(exchange: name, type: "topic", passive: false, durable: false))
    }
}

/// Takes messages from the stream until `count` arrived, or fails after `seconds`.
func receive(_ count: Int, from messages: AsyncThrowingStream<AMQPMessage, Error>, within seconds: Double = 20) async throws -> [AMQPMessage] {
    try await withThrowingTaskGroup(of: [AMQPMessage]?.self) { group in
        group.addTask {
            var got: [AMQPMessage] = []
            for try await m in messages {
                got.append(m)
                if got.count == count { break }
            }
            return got
        }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        return try #require(first, "timed out waiting for \(count) messages")
    }
}

@Suite("Against a real RabbitMQ (scripts/rabbitmq)")
struct BrokerCIGuard {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CI"] != nil, "only in CI"))
    func brokerIsConfiguredInCI() {
        #expect(Broker.isConfigured, "CI must run the broker tests: scripts/run-tests.sh starts scripts/rabbitmq/start.sh and exports MRA_RABBITMQ_URL")
    }
}

@Suite("AMQP client against a real RabbitMQ", .serialized, .enabled(if: Broker.isConfigured, "no broker: run scripts/rabbitmq/start.sh"),
       .timeLimit(.minutes(2)))
struct BrokerTests {
    @Test func connectsAndNegotiatesHeartbeatAndFrameMax() async throws {
        let c = try await Broker.connect()
        #expect(c.tune.heartbeat == 10)
        #expect(c.tune.frameMax == 131_072)
        await c.close()
    }

    @Test func aWrongPasswordIsRefusedWithAccessRefused() async throws {
        do {
            let c = try await AMQPConnection.connect(to: Broker.endpoint, password: "not-the-password")
            await c.close()
            Issue.record("connected with a wrong password")
        } catch let error as AMQPError {
            guard case .connectionClosedByServer(let reason) = error else { Issue.record("\(error)"); return }
            #expect(reason.replyCode == 403)
        }
    }

    @Test func passiveDeclareOfAMissingExchangeIsReportedDistinctly() async throws {
        let c = try await Broker.connect()
        do {
            try await c.declareExchange(ExchangeDeclare(exchange: Broker.unique("missing"), passive: true))
            Issue.record("a missing exchange was found")
        } catch let error as AMQPError {
            #expect(error.isExchangeNotFound)
            #expect(error.description.hasPrefix("exchange not found: notifications probably off"))
        }
        await c.waitClosed()
    }

    @Test func fixturesPublishedAsNeutronWouldArriveInOrderAndAckedLeaveTheQueueEmpty() async throws {
        let exchange = Broker.unique("neutron"), queue = Broker.unique("queue")
        let fixtures = try NotificationFixtures.all()
        let c = try await Broker.connect()
        try await Broker.declareNeutronLikeExchange(exchange, on: c)
        try await c.declareExchange(ExchangeDeclare(exchange: exchange, passive: true))
        let config = EventStreamConfiguration(endpoint: Broker.endpoint, password: Broker.password, queue: queue, exchange: exchange,
                                              queueExpires: .seconds(120))
        let ok = try await c.declareQueue(config.queueDeclaration)
        #expect(ok.queue == queue)
        try await c.bindQueue(QueueBind(queue: queue, exchange: exchange, routingKey: "notifications.info"))
        try await c.qos(prefetchCount: 5)
        let tag = try await c.consume(queue: queue)
        #expect(!tag.isEmpty)
        for f in fixtures {
            try await c.publish(exchange: exchange, routingKey: f.routingKey, body: f.body,
                                properties: BasicProperties(contentType: "application/json", deliveryMode: 2))
        }
        // A message with another routing key is not for us.
        try await c.publish(exchange: exchange, routingKey: "notifications.error", body: Array("{}".utf8))
        var received: [AMQPMessage] = []
        for try await m in c.messages {
            received.append(m)
            c.ack(m.deliveryTag)  // with prefetch 5, the rest only come once these are acked
            if received.count == fixtures.count { break }
        }
        #expect(received.map(\.body) == fixtures.map(\.body))
        #expect(received.allSatisfy { $0.routingKey == "notifications.info" && $0.exchange == exchange && $0.consumerTag == tag })
        #expect(received.first?.properties.contentType == "application/json")
        #expect(try received.map { try OsloEnvelope.decode($0.body).eventType } == fixtures.map { OsloEnvelope.peekEventType($0.body)! })
        await c.close()

        let check = try await Broker.connect()
        let after = try await check.declareQueue(QueueDeclare(queue: queue, passive: true))
        #expect(after.messageCount == 0, "every message was acked")
        await check.close()
    }

    @Test func aLargeBodySplitOverManyFramesArrivesWhole() async throws {
        let exchange = Broker.unique("big"), queue = Broker.unique("big")
        let c = try await Broker.connect()
        try await Broker.declareNeutronLikeExchange(exchange, on: c)
        try await c.declareQueue(QueueDeclare(queue: queue, durable: true, arguments: ["x-expires": .int64(120_000)]))
        try await c.bindQueue(QueueBind(queue: queue, exchange: exchange, routingKey: "k"))
        try await c.consume(queue: queue)
        let body = (0..<(1 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31) }  // 1 MiB + 17: nine body frames
        try await c.publish(exchange: exchange, routingKey: "k", body: body)
        let got = try await receive(1, from: c.messages)
        #expect(got[0].body == body)
        c.ack(got[0].deliveryTag)
        await c.close()
    }

    @Test func theQueueCapsAreAcceptedAndEnforcedAndAMismatchIsExplained() async throws {
        let exchange = Broker.unique("cap"), queue = Broker.unique("cap")
        let c = try await Broker.connect()
        try await Broker.declareNeutronLikeExchange(exchange, on: c)
        let config = EventStreamConfiguration(endpoint: Broker.endpoint, password: Broker.password, queue: queue, exchange: exchange,
                                              queueExpires: .seconds(60), queueMaxLength: 3)
        try await c.declareQueue(config.queueDeclaration)
        try await c.bindQueue(QueueBind(queue: queue, exchange: exchange, routingKey: "notifications.info"))
        for i in 0..<5 { try await c.publish(exchange: exchange, routingKey: "notifications.info", body: [UInt8(i)]) }
        // Routing is asynchronous in the broker (the queue's counters are read by another process): wait for them.
        var count: UInt32 = 0
        for _ in 0..<100 {
            count = try await c.declareQueue(QueueDeclare(queue: queue, passive: true)).messageCount
            if count == 3 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await c.declareQueue(QueueDeclare(queue: queue, passive: true)).messageCount == 3, "x-max-length caps the queue at three")
        try await c.consume(queue: queue)
        let kept = try await receive(3, from: c.messages)
        #expect(kept.map(\.body) == [[2], [3], [4]], "the oldest messages were dropped")
        let listed = try Broker.ctl("-q", "list_queues", "name", "durable", "arguments")
        #expect(listed.contains(queue))
        do {
            var other = config
            other.queueMaxLength = 4
            try await c.declareQueue(other.queueDeclaration)
            Issue.record("a declaration with other arguments was accepted")
        } catch let error as AMQPError {
            guard case .channelClosedByServer(let reason) = error else { Issue.record("\(error)"); return }
            #expect(reason.replyCode == 406)
        }
        await c.waitClosed()
    }

    @Test func theConsumerReportsAMissingExchangeThenConnectsConsumesAndResumesAfterTheBrokerClosesItsConnection() async throws {
        let exchange = Broker.unique("stream"), queue = Broker.unique("stream")
        let config = EventStreamConfiguration(endpoint: Broker.endpoint, password: Broker.password, queue: queue, exchange: exchange,
                                              queueExpires: .seconds(120), backoff: ReconnectBackoff(initial: .milliseconds(50), maximum: .milliseconds(400)))
        let stream = EventStream(configuration: config)
        var events = stream.events().makeAsyncIterator()

        guard case .exchangeMissing(let name, let retry)? = await events.next() else { Issue.record("expected exchangeMissing"); return }
        #expect(name == exchange)
        #expect(retry == .milliseconds(50))

        let publisher = try await Broker.connect()
        try await Broker.declareNeutronLikeExchange(exchange, on: publisher)
        var event = await events.next()
        while case .exchangeMissing? = event { event = await events.next() }
        guard case .connected(let q, _)? = event else { Issue.record("expected connected, got \(String(describing: event))"); return }
        #expect(q == queue)

        let fixtures = try NotificationFixtures.all()
        try await publisher.publish(exchange: exchange, routingKey: "notifications.info", body: fixtures[0].body)
        guard case .message(let first)? = await events.next() else { Issue.record("expected a message"); return }
        #expect(first.message.body == fixtures[0].body)
        #expect(first.peekedEventType == "network.create.start")
        first.ack()

        // The broker drops every connection (as on a restart or `rabbitmqctl close_all_connections`).
        try Broker.ctl("-q", "close_all_connections", "test: forced close")
        guard case .disconnected(let error, _)? = await events.next() else { Issue.record("expected disconnected"); return }
        guard case .connectionClosedByServer(let reason) = error else { Issue.record("\(error)"); return }
        #expect(reason.replyCode == 320)
        event = await events.next()
        while case .disconnected? = event { event = await events.next() }
        guard case .connected? = event else { Issue.record("expected a reconnect, got \(String(describing: event))"); return }

        let again = try await Broker.connect()
        try await again.publish(exchange: exchange, routingKey: "notifications.info", body: fixtures[1].body)
        guard case .message(let second)? = await events.next() else { Issue.record("expected a message after the reconnect"); return }
        #expect(second.message.body == fixtures[1].body)
        second.ack()
        await again.close()
        await publisher.close()
    }

    @Test(.enabled(if: Broker.env["MRA_RABBITMQ_TLS_URL"] != nil, "no amqps listener"))
    func amqpsWithTheCAFileConnectsAndWithoutItTheCertificateIsRefused() async throws {
        let endpoint = try AMQPEndpoint(parsing: Broker.env["MRA_RABBITMQ_TLS_URL"]!)
        #expect(endpoint.tls && endpoint.port == 5671)
        let c = try await AMQPConnection.connect(to: endpoint, password: Broker.password, tls: AMQPTLSOptions(caFile: Broker.env["MRA_RABBITMQ_CA"]))
        try await c.declareExchange(ExchangeDeclare(exchange: "amq.topic", passive: true))
        await c.close()
        do {
            let untrusted = try await AMQPConnection.connect(to: endpoint, password: Broker.password)
            await untrusted.close()
            Issue.record("a self-signed certificate was trusted without the CA file")
        } catch let error as AMQPError {
            #expect(error.description.contains("CA file"), "\(error)")
        }
    }

    @Test func aDeletedQueueCancelsTheConsumerAndTheStreamRedeclaresItAndResumes() async throws {
        let exchange = Broker.unique("cancel"), queue = Broker.unique("cancel")
        let publisher = try await Broker.connect()
        try await Broker.declareNeutronLikeExchange(exchange, on: publisher)
        let config = EventStreamConfiguration(endpoint: Broker.endpoint, password: Broker.password, queue: queue, exchange: exchange,
                                              queueExpires: .seconds(120), backoff: ReconnectBackoff(initial: .milliseconds(50), maximum: .milliseconds(400)))
        var events = EventStream(configuration: config).events().makeAsyncIterator()
        guard case .connected? = await events.next() else { Issue.record("expected connected"); return }

        try Broker.ctl("-q", "delete_queue", queue)  // the broker sends basic.cancel (consumer_cancel_notify)
        guard case .disconnected(let error, _)? = await events.next() else { Issue.record("expected disconnected"); return }
        #expect(error == .consumerCancelled(consumerTag: error.consumerTagForTest ?? ""))
        guard case .connected? = await events.next() else { Issue.record("expected a reconnect"); return }

        try await publisher.publish(exchange: exchange, routingKey: "notifications.info", body: Array("{}".utf8))
        guard case .message(let m)? = await events.next() else { Issue.record("expected a message"); return }
        #expect(m.message.body == Array("{}".utf8))
        #expect(m.peekedEventType == nil)
        #expect(throws: NotificationDecodingError.missingField("event_type")) { try m.decode() }
        m.ack()
        await publisher.close()
    }

    @Test func afterABrokerRestartTheExchangeIsMissingUntilNeutronDeclaresItAgainThenConsumptionResumes() async throws {
        let exchange = Broker.unique("restart"), queue = Broker.unique("restart")
        let setup = try await Broker.connect()
        try await Broker.declareNeutronLikeExchange(exchange, on: setup)  // not durable: a restart loses it
        await setup.close()
        let config = EventStreamConfiguration(endpoint: Broker.endpoint, password: Broker.password, queue: queue, exchange: exchange,
                                              queueExpires: .seconds(120), backoff: ReconnectBackoff(initial: .milliseconds(50), maximum: .milliseconds(400)))
        var events = EventStream(configuration: config).events().makeAsyncIterator()
        guard case .connected? = await events.next() else { Issue.record("expected connected"); return }

        try Broker.ctl("-q", "stop_app")
        let afterStop = await events.next()
        try Broker.ctl("-q", "start_app")  // first, whatever happened, so the other tests find a broker
        guard case .disconnected(let error, _)? = afterStop else { Issue.record("expected disconnected"); return }
        switch error {
        case .connectionClosedByServer(let reason): #expect(reason.replyCode == 320)  // CONNECTION_FORCED, shutdown
        case .connectionLost: break  // or the socket just closes
        default: Issue.record("\(error)")
        }

        var sawMissing = false
        for _ in 0..<400 {
            guard let event = await events.next() else { break }
            if case .exchangeMissing = event { sawMissing = true; break }
            guard case .disconnected = event else { Issue.record("unexpected \(event)"); return }
        }
        #expect(sawMissing, "after the restart the exchange is missing until Neutron declares it")

        let neutron = try await Broker.connect()
        try await Broker.declareNeutronLikeExchange(exchange, on: neutron)
        var event = await events.next()
        while case .exchangeMissing? = event { event = await events.next() }
        guard case .connected? = event else { Issue.record("expected connected, got \(String(describing: event))"); return }
        try await neutron.publish(exchange: exchange, routingKey: "notifications.info", body: Array("{}".utf8))
        guard case .message(let m)? = await events.next() else { Issue.record("expected a message"); return }
        m.ack()
        await neutron.close()
    }

    @Test func checkBindingReportsAMissingExchangeThenTheQueueAndItsConsumers() async throws {
        let exchange = Broker.unique("check"), queue = Broker.unique("check")
        let config = EventStreamConfiguration(endpoint: Broker.endpoint, password: Broker.password, queue: queue, exchange: exchange,
                                              queueExpires: .seconds(60))
        let stream = EventStream(configuration: config)
        do {
            _ = try await stream.checkBinding()
            Issue.record("a missing exchange passed the check")
        } catch let error as AMQPError {
            #expect(error.isExchangeNotFound)
        }
        let other = try await Broker.connect()
        try await Broker.declareNeutronLikeExchange(exchange, on: other)
        let first = try await stream.checkBinding()
        #expect(first.queue == queue)
        #expect(first.consumerCount == 0)
        try await other.consume(queue: queue)  // another agent on the same queue
        #expect(try await stream.checkBinding().consumerCount == 1)
        await other.close()
    }
}

extension AMQPError {
    var consumerTagForTest: String? { if case .consumerCancelled(let tag) = self { tag } else { nil } }
}
