import Testing
@testable import Events

private let second: UInt64 = 1_000_000_000
private let config = ConnectionConfiguration(username: "mra", password: "s3cret", virtualHost: "/openstack", heartbeat: 10,
                                             frameMax: 131_072, channelMax: 16)

private func start(mechanisms: String = "AMQPLAIN PLAIN") -> Method {
    .connectionStart(versionMajor: 0, versionMinor: 9, serverProperties: ["product": .longString("RabbitMQ")], mechanisms: mechanisms, locales: "en_US")
}

/// The frames of every `.write` action, in order.
private func written(_ actions: [ConnectionStateMachine.Action]) -> [Frame] {
    actions.flatMap { if case .write(let f) = $0 { return f } else { return [] } }
}

/// A machine through the handshake with the broker offering `tune`, at time 0.
private func openMachine(tune: TuneParameters = TuneParameters(channelMax: 2047, frameMax: 131_072, heartbeat: 60)) -> ConnectionStateMachine {
    var m = ConnectionStateMachine(config: config)
    _ = m.start(now: 0)
    _ = m.received(.method(channel: 0, start()), now: 0)
    _ = m.received(.method(channel: 0, .connectionTune(tune)), now: 0)
    _ = m.received(.method(channel: 0, .connectionOpenOk), now: 0)
    _ = m.received(.method(channel: 1, .channelOpenOk), now: 0)
    return m
}

private let deliver = BasicDeliver(consumerTag: "c1", deliveryTag: 5, redelivered: false, exchange: "neutron", routingKey: "notifications.info")

@Suite("AMQP connection state machine, driven with scripted frames")
struct StateMachineTests {
    @Test func handshakeSendsHeaderStartOkTuneOkOpenAndChannelOpenInOrder() {
        var m = ConnectionStateMachine(config: config)
        #expect(m.start(now: 0) == [.writeProtocolHeader])

        let startOk = written(m.received(.method(channel: 0, start()), now: 1))
        guard case .method(0, .connectionStartOk(let props, "PLAIN", let response, _)) = startOk.first else {
            Issue.record("expected start-ok, got \(startOk)"); return
        }
        #expect(response == [0] + Array("mra".utf8) + [0] + Array("s3cret".utf8))
        guard case .table(let caps) = props["capabilities"] else { Issue.record("no capabilities"); return }
        #expect(caps["consumer_cancel_notify"] == .bool(true))

        let afterTune = written(m.received(.method(channel: 0, .connectionTune(TuneParameters(channelMax: 2047, frameMax: 131_072, heartbeat: 60))), now: 2))
        #expect(afterTune == [.method(channel: 0, .connectionTuneOk(TuneParameters(channelMax: 16, frameMax: 131_072, heartbeat: 10))),
                              .method(channel: 0, .connectionOpen(virtualHost: "/openstack"))])
        #expect(written(m.received(.method(channel: 0, .connectionOpenOk), now: 3)) == [.method(channel: 1, .channelOpen)])
        #expect(m.received(.method(channel: 1, .channelOpenOk), now: 4)
                == [.opened(TuneParameters(channelMax: 16, frameMax: 131_072, heartbeat: 10), serverProperties: ["product": .longString("RabbitMQ")])])
        #expect(m.isOpen)
    }

    @Test(arguments: [
        // (client, server) → negotiated: the smaller non-zero value; 0 on one side means the other's.
        (TuneParameters(channelMax: 16, frameMax: 131_072, heartbeat: 10), TuneParameters(channelMax: 0, frameMax: 0, heartbeat: 0),
         TuneParameters(channelMax: 16, frameMax: 131_072, heartbeat: 10)),
        (TuneParameters(channelMax: 16, frameMax: 131_072, heartbeat: 10), TuneParameters(channelMax: 8, frameMax: 65_536, heartbeat: 5),
         TuneParameters(channelMax: 8, frameMax: 65_536, heartbeat: 5)),
        (TuneParameters(channelMax: 0, frameMax: 0, heartbeat: 0), TuneParameters(channelMax: 2047, frameMax: 131_072, heartbeat: 60),
         TuneParameters(channelMax: 2047, frameMax: 131_072, heartbeat: 60)),
        (TuneParameters(channelMax: 16, frameMax: 131_072, heartbeat: 10), TuneParameters(channelMax: 16, frameMax: 1024, heartbeat: 10),
         TuneParameters(channelMax: 16, frameMax: 4096, heartbeat: 10)),  // below the protocol's minimum frame
    ])
    func tuneNegotiation(client: TuneParameters, server: TuneParameters, expected: TuneParameters) {
        var c = config
        c.channelMax = client.channelMax; c.frameMax = client.frameMax; c.heartbeat = client.heartbeat
        var m = ConnectionStateMachine(config: c)
        _ = m.start(now: 0)
        _ = m.received(.method(channel: 0, start()), now: 0)
        let frames = written(m.received(.method(channel: 0, .connectionTune(server)), now: 0))
        #expect(frames.first == .method(channel: 0, .connectionTuneOk(expected)))
        #expect(m.frameMax == expected.frameMax)
    }

    @Test func aBrokerWithoutPlainIsRefusedWithTheMechanismsNamed() {
        var m = ConnectionStateMachine(config: config)
        _ = m.start(now: 0)
        let actions = m.received(.method(channel: 0, start(mechanisms: "EXTERNAL")), now: 0)
        #expect(actions.last == .closeConnection(.unsupportedMechanisms("EXTERNAL")))
    }

    @Test func heartbeatIsSentAfterHalfAnIntervalOfSilenceFromUs() {
        var m = openMachine()  // heartbeat 10 s, everything at t=0
        #expect(m.tick(now: 4 * second) == [])
        _ = m.received(.heartbeat, now: 4 * second)
        #expect(m.tick(now: 5 * second) == [.write([.heartbeat])])
        #expect(m.tick(now: 6 * second) == [], "just sent one")
    }

    @Test func twoSilentIntervalsDeclareTheConnectionDead() {
        var m = openMachine()
        _ = m.received(.heartbeat, now: 3 * second)
        #expect(!m.tick(now: 22 * second).contains(.closeConnection(.heartbeatTimeout(seconds: 10))))
        let actions = m.tick(now: 23 * second)
        #expect(actions == [.failCalls(.heartbeatTimeout(seconds: 10)), .closeConnection(.heartbeatTimeout(seconds: 10))])
        #expect(m.tick(now: 60 * second) == [], "a dead connection stays dead")
    }

    @Test func anyFrameFromTheBrokerCountsAsLife() {
        var m = openMachine()
        for t in stride(from: UInt64(1), through: 100, by: 1) {
            _ = m.received(.method(channel: 1, .channelFlow(active: true)), now: t * second)
            #expect(!m.tick(now: t * second).contains { if case .closeConnection = $0 { true } else { false } })
        }
    }

    @Test func noHeartbeatWhenBothSidesDisableIt() {
        var c = config
        c.heartbeat = 0
        var m = ConnectionStateMachine(config: c)
        _ = m.start(now: 0)
        _ = m.received(.method(channel: 0, start()), now: 0)
        _ = m.received(.method(channel: 0, .connectionTune(TuneParameters(channelMax: 0, frameMax: 0, heartbeat: 0))), now: 0)
        _ = m.received(.method(channel: 0, .connectionOpenOk), now: 0)
        _ = m.received(.method(channel: 1, .channelOpenOk), now: 0)
        #expect(m.tick(now: 3600 * second) == [])
    }

    @Test func aHandshakeThatStallsTimesOut() {
        var m = ConnectionStateMachine(config: config)
        _ = m.start(now: 0)
        #expect(m.tick(now: 29 * second) == [])
        #expect(m.tick(now: 30 * second).last == .closeConnection(.handshakeTimeout(seconds: 30)))
    }

    @Test func callsCompleteInOrderWithTheirReplies() {
        var m = openMachine()
        #expect(written(m.call(.exchangeDeclare(ExchangeDeclare(exchange: "neutron", passive: true)), now: 0)).count == 1)
        _ = m.call(.queueDeclare(QueueDeclare(queue: "q")), now: 0)
        #expect(m.received(.method(channel: 1, .exchangeDeclareOk), now: 0) == [.completeCall(.exchangeDeclareOk)])
        let ok = QueueDeclareOk(queue: "q", messageCount: 3, consumerCount: 0)
        #expect(m.received(.method(channel: 1, .queueDeclareOk(ok)), now: 0) == [.completeCall(.queueDeclareOk(ok))])
    }

    @Test func aReplyNobodyAskedForIsAProtocolError() {
        var m = openMachine()
        let actions = m.received(.method(channel: 1, .queueBindOk), now: 0)
        #expect(written(actions).first == .method(channel: 0, .connectionClose(CloseReason(replyCode: 505, replyText: "unexpected queue.bind-ok"))))
        #expect(actions.last == .closeConnection(.protocolViolation(.malformed("unexpected queue.bind-ok"))))
    }

    @Test func passiveDeclareOfAMissingExchangeFailsTheCallAsExchangeNotFound() {
        var m = openMachine()
        _ = m.call(.exchangeDeclare(ExchangeDeclare(exchange: "neutron", passive: true)), now: 0)
        let reason = CloseReason(replyCode: 404, replyText: "NOT_FOUND - no exchange 'neutron' in vhost '/'", classID: 40, methodID: 10)
        let actions = m.received(.method(channel: 1, .channelClose(reason)), now: 0)
        #expect(written(actions) == [.method(channel: 1, .channelCloseOk),
                                     .method(channel: 0, .connectionClose(CloseReason(replyCode: 200, replyText: "channel closed by broker")))])
        #expect(actions.contains(.failCalls(.channelClosedByServer(reason))))
        #expect(AMQPError.channelClosedByServer(reason).isExchangeNotFound)
        #expect(AMQPError.channelClosedByServer(reason).description.hasPrefix("exchange not found: notifications probably off"))
        // The broker then confirms our close; the error reported is the channel's.
        #expect(m.received(.method(channel: 0, .connectionCloseOk), now: 0).last == .closeConnection(.channelClosedByServer(reason)))
        #expect(m.call(.basicQos(prefetchSize: 0, prefetchCount: 1, global: false), now: 0) == [.failCalls(.channelClosedByServer(reason))])
    }

    @Test func serverConnectionCloseIsAnsweredAndSurfacedWithCodeAndText() {
        var m = openMachine()
        let reason = CloseReason(replyCode: 320, replyText: "CONNECTION_FORCED - Closed via management plugin")
        let actions = m.received(.method(channel: 0, .connectionClose(reason)), now: 0)
        #expect(written(actions) == [.method(channel: 0, .connectionCloseOk)])
        #expect(actions.last == .closeConnection(.connectionClosedByServer(reason)))
        #expect(AMQPError.connectionClosedByServer(reason).description.contains("320 CONNECTION_FORCED"))
    }

    @Test func wrongPasswordSurfacesAccessRefused() {
        var m = ConnectionStateMachine(config: config)
        _ = m.start(now: 0)
        _ = m.received(.method(channel: 0, start()), now: 0)
        let reason = CloseReason(replyCode: 403, replyText: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN")
        let actions = m.received(.method(channel: 0, .connectionClose(reason)), now: 0)
        #expect(actions.last == .closeConnection(.connectionClosedByServer(reason)))
        #expect(AMQPError.connectionClosedByServer(reason).description.contains("password file"))
    }

    @Test func basicCancelFromTheBrokerIsAnsweredAndReported() {
        var m = openMachine()
        let actions = m.received(.method(channel: 1, .basicCancel(consumerTag: "c1", noWait: false)), now: 0)
        #expect(actions == [.write([.method(channel: 1, .basicCancelOk(consumerTag: "c1"))]), .consumerCancelled(consumerTag: "c1")])
        #expect(m.received(.method(channel: 1, .basicCancel(consumerTag: "c2", noWait: true)), now: 0) == [.consumerCancelled(consumerTag: "c2")])
    }

    @Test func aBodySplitOverThreeFramesIsReassembledInOrder() {
        var m = openMachine()
        let body = Array("0123456789".utf8)
        #expect(m.received(.method(channel: 1, .basicDeliver(deliver)), now: 0) == [])
        #expect(m.received(.header(channel: 1, ContentHeader(bodySize: 10, properties: BasicProperties(contentType: "application/json"))), now: 0) == [])
        #expect(m.received(.body(channel: 1, Array(body[0..<4])), now: 0) == [])
        #expect(m.received(.body(channel: 1, Array(body[4..<8])), now: 0) == [])
        let actions = m.received(.body(channel: 1, Array(body[8...])), now: 0)
        #expect(actions == [.deliver(AMQPMessage(deliveryTag: 5, redelivered: false, exchange: "neutron", routingKey: "notifications.info",
                                                 consumerTag: "c1", properties: BasicProperties(contentType: "application/json"), body: body))])
    }

    @Test func anEmptyBodyIsDeliveredRightAfterItsHeader() {
        var m = openMachine()
        _ = m.received(.method(channel: 1, .basicDeliver(deliver)), now: 0)
        let actions = m.received(.header(channel: 1, ContentHeader(bodySize: 0)), now: 0)
        guard case .deliver(let message) = actions.first else { Issue.record("no delivery"); return }
        #expect(message.body.isEmpty)
    }

    @Test func bodyBytesBeyondTheAnnouncedSizeEndTheConnection() {
        var m = openMachine()
        _ = m.received(.method(channel: 1, .basicDeliver(deliver)), now: 0)
        _ = m.received(.header(channel: 1, ContentHeader(bodySize: 2)), now: 0)
        let actions = m.received(.body(channel: 1, [1, 2, 3]), now: 0)
        #expect(actions.last == .closeConnection(.protocolViolation(.malformed("body frames exceed the announced 2 bytes"))))
    }

    @Test func aBodyAboveTheLimitIsRefusedAtItsHeader() {
        var m = openMachine()
        _ = m.received(.method(channel: 1, .basicDeliver(deliver)), now: 0)
        let actions = m.received(.header(channel: 1, ContentHeader(bodySize: 1 << 40)), now: 0)
        guard case .method(0, .connectionClose(let reason))? = written(actions).first else { Issue.record("\(actions)"); return }
        #expect(reason.replyCode == 501)
    }

    @Test func aMethodInsideContentIsAProtocolError() {
        var m = openMachine()
        _ = m.received(.method(channel: 1, .basicDeliver(deliver)), now: 0)
        let actions = m.received(.method(channel: 1, .basicDeliver(deliver)), now: 0)
        guard case .closeConnection(.protocolViolation)? = actions.last else { Issue.record("\(actions)"); return }
    }

    @Test func aBodyWithoutHeaderAndFramesOnOtherChannelsAreProtocolErrors() {
        var m = openMachine()
        guard case .closeConnection(.protocolViolation)? = m.received(.body(channel: 1, [1]), now: 0).last else { Issue.record("body"); return }
        var n = openMachine()
        guard case .closeConnection(.protocolViolation)? = n.received(.method(channel: 7, .channelOpenOk), now: 0).last else { Issue.record("channel 7"); return }
    }

    @Test func publishSplitsTheBodyToFitFrameMax() {
        var m = openMachine(tune: TuneParameters(channelMax: 0, frameMax: 4096, heartbeat: 60))
        let body = [UInt8](repeating: 7, count: 10_000)
        let frames = written(m.publish(exchange: "neutron", routingKey: "notifications.info", properties: BasicProperties(), body: body, now: 0))
        #expect(frames.count == 5)  // method, header, 3 bodies of ≤ 4088 bytes
        let bodies = frames.compactMap { if case .body(_, let b) = $0 { b } else { nil } }
        #expect(bodies.map(\.count) == [4088, 4088, 1824])
        #expect(frames.allSatisfy { $0.encoded().count <= 4096 })
    }

    @Test func clientCloseWaitsForCloseOk() {
        var m = openMachine()
        let actions = m.close(now: 0)
        #expect(written(actions) == [.method(channel: 0, .connectionClose(CloseReason(replyCode: 200, replyText: "client closing")))])
        #expect(m.received(.method(channel: 0, .connectionCloseOk), now: 0).last == .closeConnection(nil))
    }

    @Test func aSocketLostWhileOpenIsReportedAsConnectionLost() {
        var m = openMachine()
        #expect(m.socketClosed("reset").last == .closeConnection(.connectionLost("reset")))
    }

    @Test func flowAndBlockedAreAnswered() {
        var m = openMachine()
        #expect(m.received(.method(channel: 1, .channelFlow(active: false)), now: 0) == [.write([.method(channel: 1, .channelFlowOk(active: false))])])
        #expect(m.received(.method(channel: 0, .connectionBlocked(reason: "low on memory")), now: 0) == [.blocked("low on memory")])
        #expect(m.received(.method(channel: 0, .connectionUnblocked), now: 0) == [.blocked(nil)])
    }

    @Test func callsWithOverlongNamesOrNoWaitAreRefusedBeforeSending() {
        var m = openMachine()
        let long = String(repeating: "q", count: 256)
        guard case .failCalls(.invalidRequest)? = m.call(.queueDeclare(QueueDeclare(queue: long)), now: 0).first else { Issue.record("long"); return }
        guard case .failCalls(.invalidRequest)? = m.call(.queueDeclare(QueueDeclare(queue: "q", noWait: true)), now: 0).first else { Issue.record("nowait"); return }
    }
}
