import NIOCore
import NIOEmbedded
import Testing
@testable import Events

/// The handler in a NIOAsyncTestingChannel: a scripted broker on the other side, time advanced by hand.
private struct Harness {
    let channel: NIOAsyncTestingChannel
    let opened: EventLoopFuture<TuneParameters>
    let messages: AsyncThrowingStream<AMQPMessage, Error>

    init(heartbeat: UInt16 = 10) async throws {
        channel = NIOAsyncTestingChannel()
        let promise = channel.eventLoop.makePromise(of: TuneParameters.self)
        let (stream, continuation) = AsyncThrowingStream<AMQPMessage, Error>.makeStream()
        messages = stream
        opened = promise.futureResult
        let config = ConnectionConfiguration(username: "guest", password: "guest", heartbeat: heartbeat)
        let channel = self.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(AMQPConnectionHandler(config: config, opened: promise, messages: continuation))
        }.get()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5672))
    }

    /// Everything the client wrote so far, as bytes.
    func outbound() async throws -> [UInt8] {
        var bytes: [UInt8] = []
        while var buffer = try await channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
        }
        return bytes
    }

    /// Everything the client wrote so far, decoded as frames (the protocol header skipped when first).
    func outboundFrames() async throws -> [Frame] {
        var bytes = try await outbound()
        if bytes.starts(with: amqpProtocolHeader) { bytes.removeFirst(8) }
        var d = FrameDecoder()
        d.append(bytes)
        var frames: [Frame] = []
        while let f = try d.next() { frames.append(f) }
        return frames
    }

    func send(_ frames: Frame...) async throws {
        var buffer = channel.allocator.buffer(capacity: 64)
        for f in frames { buffer.writeBytes(f.encoded()) }
        try await channel.writeInbound(buffer)
    }

    /// Runs the handshake with the broker offering `heartbeat`.
    func open(heartbeat: UInt16 = 10) async throws {
        #expect(try await outbound() == amqpProtocolHeader)
        try await send(.method(channel: 0, .connectionStart(versionMajor: 0, versionMinor: 9, serverProperties: [:], mechanisms: "PLAIN", locales: "en_US")))
        try await send(.method(channel: 0, .connectionTune(TuneParameters(channelMax: 2047, frameMax: 131_072, heartbeat: heartbeat))))
        try await send(.method(channel: 0, .connectionOpenOk))
        try await send(.method(channel: 1, .channelOpenOk))
        _ = try await outboundFrames()
    }
}

@Suite("The NIO handler with a scripted broker and a hand-driven clock")
struct HandlerTests {
    @Test func handshakeCompletesTheOpenPromiseWithTheNegotiatedTuning() async throws {
        let h = try await Harness()
        try await h.open(heartbeat: 30)
        #expect(try await h.opened.get() == TuneParameters(channelMax: 16, frameMax: 131_072, heartbeat: 10))
    }

    @Test func silenceForTwoHeartbeatIntervalsClosesTheConnectionWithoutWallTime() async throws {
        let h = try await Harness()
        try await h.open()
        await h.channel.testingEventLoop.advanceTime(by: .seconds(6))
        #expect(try await h.outboundFrames().contains(.heartbeat), "a heartbeat after half an interval of our silence")
        await h.channel.testingEventLoop.advanceTime(by: .seconds(15))  // t = 21 s, nothing received since t = 0
        #expect(try await h.channel.isActive == false)
        do {
            for try await _ in h.messages {}
            Issue.record("the stream ended without error")
        } catch {
            #expect(error as? AMQPError == .heartbeatTimeout(seconds: 10))
        }
    }

    @Test func brokerHeartbeatsKeepTheConnectionAlive() async throws {
        let h = try await Harness()
        try await h.open()
        for _ in 0..<10 {
            await h.channel.testingEventLoop.advanceTime(by: .seconds(9))
            try await h.send(.heartbeat)
        }
        #expect(try await h.channel.isActive)
    }

    @Test func aDeliveryOverSeveralFramesReachesTheStreamAndItsAckIsWritten() async throws {
        let h = try await Harness()
        try await h.open()
        let deliver = BasicDeliver(consumerTag: "c", deliveryTag: 3, redelivered: false, exchange: "neutron", routingKey: "notifications.info")
        // All frames in one read, the body cut in two.
        try await h.send(.method(channel: 1, .basicDeliver(deliver)), .header(channel: 1, ContentHeader(bodySize: 5)),
                         .body(channel: 1, Array("he".utf8)), .body(channel: 1, Array("llo".utf8)))
        var iterator = h.messages.makeAsyncIterator()
        let message = try #require(try await iterator.next())
        #expect(message.body == Array("hello".utf8))
        #expect(message.deliveryTag == 3)
        h.channel.eventLoop.execute {
            try! h.channel.pipeline.syncOperations.handler(type: AMQPConnectionHandler.self).send(.basicAck(deliveryTag: 3, multiple: false))
        }
        await h.channel.testingEventLoop.run()
        #expect(try await h.outboundFrames() == [.method(channel: 1, .basicAck(deliveryTag: 3, multiple: false))])
    }

    @Test func garbageFromTheBrokerEndsTheConnectionWithAProtocolError() async throws {
        let h = try await Harness()
        try await h.open()
        var buffer = h.channel.allocator.buffer(capacity: 8)
        buffer.writeBytes([9, 0, 0, 0, 0, 0, 0, 0xce])
        try await h.channel.writeInbound(buffer)
        #expect(try await h.channel.isActive == false)
        do {
            for try await _ in h.messages {}
            Issue.record("no error")
        } catch {
            #expect(error as? AMQPError == .protocolViolation(.unknownFrameType(9)))
        }
    }

    @Test func aCancelledConsumerEndsTheStreamAndTheSocketClosesOnlyAfterCloseOk() async throws {
        let h = try await Harness()
        try await h.open()
        try await h.send(.method(channel: 1, .basicCancel(consumerTag: "c", noWait: false)))
        #expect(try await h.outboundFrames() == [.method(channel: 1, .basicCancelOk(consumerTag: "c")),
                                                 .method(channel: 0, .connectionClose(CloseReason(replyCode: 200, replyText: "client closing")))])
        #expect(try await h.channel.isActive, "waits for the broker's close-ok")
        try await h.send(.method(channel: 0, .connectionCloseOk))
        #expect(try await h.channel.isActive == false)
        do {
            for try await _ in h.messages {}
            Issue.record("no error")
        } catch {
            #expect(error as? AMQPError == .consumerCancelled(consumerTag: "c"))
        }
    }
}
