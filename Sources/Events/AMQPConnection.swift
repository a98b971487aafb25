// The thin swift-nio layer around ConnectionStateMachine: bytes in → frames → state machine → actions out.
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// TLS settings for `amqps://`, as for the OpenStack client: a CA bundle, or verification off (tests only).
public struct AMQPTLSOptions: Sendable, Equatable {
    /// PEM file with the CA certificates to trust; nil: the system's trust store.
    public var caFile: String?
    /// false disables certificate verification (never in production).
    public var verify: Bool

    public init(caFile: String? = nil, verify: Bool = true) {
        self.caFile = caFile
        self.verify = verify
    }
}

/// Drives one AMQP connection on its channel's event loop. Not thread-safe: used only on that loop.
final class AMQPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How often the state machine's clock ticks (heartbeats, handshake timeout).
    static let tickInterval = TimeAmount.milliseconds(500)

    private var machine: ConnectionStateMachine
    private var decoder: FrameDecoder
    private var pendingCalls: [EventLoopPromise<Method>] = []
    private let opened: EventLoopPromise<TuneParameters>
    private var ticker: RepeatedTask?
    private var context: ChannelHandlerContext?
    private var finished = false
    private let messages: AsyncThrowingStream<AMQPMessage, Error>.Continuation
    private let onBlocked: (@Sendable (String?) -> Void)?

    init(config: ConnectionConfiguration, opened: EventLoopPromise<TuneParameters>,
         messages: AsyncThrowingStream<AMQPMessage, Error>.Continuation, onBlocked: (@Sendable (String?) -> Void)? = nil) {
        self.machine = ConnectionStateMachine(config: config)
        self.decoder = FrameDecoder(maxFrameSize: config.frameMax)
        self.opened = opened
        self.messages = messages
        self.onBlocked = onBlocked
    }

    private func now(_ context: ChannelHandlerContext) -> UInt64 { context.eventLoop.now.uptimeNanoseconds }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard machine.state == .idle else { return }
        run(machine.start(now: now(context)), context)
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.tickInterval, delay: Self.tickInterval) { _ in
            let handler = loopBound.value
            guard let context = handler.context else { return }
            handler.run(handler.machine.tick(now: handler.now(context)), context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let bytes = buffer.readBytes(length: buffer.readableBytes) { decoder.append(bytes) }
        // Until the machine is closed: after a consumer cancel the stream has finished, but close-ok must still be read.
        while machine.state != .closed {
            let frame: Frame?
            do {
                frame = try decoder.next()
            } catch {
                run(machine.decodingFailed(error), context)
                return
            }
            guard let frame else { break }
            let wasTuning = machine.state == .awaitingTune
            run(machine.received(frame, now: now(context)), context)
            if wasTuning && machine.state != .awaitingTune && machine.frameMax != 0 { decoder.maxFrameSize = machine.frameMax }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(machine.socketClosed("the broker closed the TCP connection"), context)
        finish(error: .connectionLost("the broker closed the TCP connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        var why = String(describing: error)
        if error is NIOSSLError || error is BoringSSLError {
            why = "TLS failed (\(why.prefix(200))); check the CA file (--events-ca-file) and the broker's certificate"
        }
        run(machine.socketClosed(why), context)
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(error: .connectionLost("handler removed"))
        self.context = nil
    }

    // MARK: calls (on the event loop)

    func call(_ method: Method, promise: EventLoopPromise<Method>) {
        guard let context else { promise.fail(AMQPError.notOpen); return }
        pendingCalls.append(promise)
        run(machine.call(method, now: now(context)), context)
    }

    func send(_ method: Method) {
        guard let context else { return }
        run(machine.send(method, now: now(context)), context)
    }

    func publish(exchange: String, routingKey: String, properties: BasicProperties, body: [UInt8], promise: EventLoopPromise<Void>) {
        guard let context else { promise.fail(AMQPError.notOpen); return }
        let actions = machine.publish(exchange: exchange, routingKey: routingKey, properties: properties, body: body, now: now(context))
        for case .failCalls(let error) in actions { promise.fail(error); return }
        run(actions, context, flushPromise: promise)
    }

    func close() {
        guard let context else { return }
        run(machine.close(now: now(context)), context)
    }

    // MARK: actions

    private func run(_ actions: [ConnectionStateMachine.Action], _ context: ChannelHandlerContext, flushPromise: EventLoopPromise<Void>? = nil) {
        var wrote = false
        for action in actions {
            switch action {
            case .writeProtocolHeader:
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: amqpProtocolHeader)), promise: nil)
                wrote = true
            case .write(let frames):
                var buffer = context.channel.allocator.buffer(capacity: 256)
                for frame in frames { buffer.writeBytes(frame.encoded()) }
                context.write(wrapOutboundOut(buffer), promise: nil)
                wrote = true
            case .opened(let tune, _):
                opened.succeed(tune)
            case .completeCall(let reply):
                if !pendingCalls.isEmpty { pendingCalls.removeFirst().succeed(reply) }
            case .failCalls(let error):
                let calls = pendingCalls
                pendingCalls = []
                for call in calls { call.fail(error) }
            case .deliver(let message):
                messages.yield(message)
            case .consumerCancelled(let tag):
                finish(error: .consumerCancelled(consumerTag: tag))
                run(machine.close(now: now(context)), context)
            case .blocked(let reason):
                onBlocked?(reason)
            case .closeConnection(let error):
                if wrote { context.flush(); wrote = false }
                finish(error: error)
                context.close(promise: nil)
            }
        }
        if wrote {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)), promise: flushPromise)
        } else {
            flushPromise?.succeed(())
        }
    }

    /// Ends the message stream and the open promise, once.
    private func finish(error: AMQPError?) {
        guard !finished else { return }
        finished = true
        ticker?.cancel()
        ticker = nil
        opened.fail(error ?? .notOpen)
        let calls = pendingCalls
        pendingCalls = []
        for call in calls { call.fail(error ?? .notOpen) }
        if let error { messages.finish(throwing: error) } else { messages.finish() }
    }
}

/// One AMQP connection with one channel: declare, bind, consume with manual acks, publish.
///
/// ```swift
/// let connection = try await AMQPConnection.connect(to: endpoint, password: secret)
/// try await connection.declareExchange(ExchangeDeclare(exchange: "neutron", passive: true))
/// _ = try await connection.consume(queue: "metadata-route-agent.host.254.200")
/// for try await message in connection.messages { …; connection.ack(message.deliveryTag) }
/// ```
public final class AMQPConnection: Sendable {
    private let channel: Channel
    private let handler: NIOLoopBound<AMQPConnectionHandler>
    /// The broker's tuning as negotiated (heartbeat, frame_max, channel_max).
    public let tune: TuneParameters
    /// Messages delivered to this connection's consumers; ends when the connection ends, throwing its `AMQPError`
    /// (nothing when the client closed it).
    public let messages: AsyncThrowingStream<AMQPMessage, Error>

    private init(channel: Channel, handler: NIOLoopBound<AMQPConnectionHandler>, tune: TuneParameters,
                 messages: AsyncThrowingStream<AMQPMessage, Error>) {
        self.channel = channel
        self.handler = handler
        self.tune = tune
        self.messages = messages
    }

    /// Connects, authenticates (PLAIN), tunes, opens the vhost and channel 1.
    public static func connect(to endpoint: AMQPEndpoint, password: String, tls: AMQPTLSOptions = AMQPTLSOptions(),
                               configuration: ConnectionConfiguration? = nil,
                               group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                               connectTimeout: TimeAmount = .seconds(10)) async throws -> AMQPConnection {
        var config = configuration ?? ConnectionConfiguration(username: endpoint.username, password: password)
        config.username = endpoint.username
        config.password = password
        config.virtualHost = endpoint.virtualHost
        if let h = endpoint.heartbeat { config.heartbeat = h }
        let sslContext: NIOSSLContext?
        if endpoint.tls {
            var t = TLSConfiguration.makeClientConfiguration()
            if let ca = tls.caFile { t.trustRoots = .file(ca) }
            if !tls.verify { t.certificateVerification = .none }
            sslContext = try NIOSSLContext(configuration: t)
        } else {
            sslContext = nil
        }
        let (stream, continuation) = AsyncThrowingStream<AMQPMessage, Error>.makeStream()
        let finalConfig = config
        let host = endpoint.host
        // The handshake's outcome, kept from the moment the handler exists: a broker that refuses us (a wrong
        // password) may close the connection, and so remove the handler, before `attach` could look it up.
        let handshake = Mutex<EventLoopFuture<TuneParameters>?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let isIP = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
                        let ssl = try NIOSSLClientHandler(context: sslContext, serverHostname: isIP ? nil : host)
                        try channel.pipeline.syncOperations.addHandler(ssl)
                    }
                    let opened = channel.eventLoop.makePromise(of: TuneParameters.self)
                    handshake.withLock { $0 = opened.futureResult }
                    let handler = AMQPConnectionHandler(config: finalConfig, opened: opened, messages: continuation)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch let error as AMQPError {
            throw error
        } catch {
            continuation.finish()
            throw AMQPError.connectionLost("cannot connect to \(endpoint.host):\(endpoint.port): \(error)")
        }
        if let opened = handshake.withLock({ $0 }) {
            do {
                _ = try await opened.get()
            } catch {
                channel.close(promise: nil)
                throw error
            }
        }
        return try await attach(to: channel, messages: stream)
    }

    /// Waits for the handshake of the handler already in `channel`'s pipeline (tests use an EmbeddedChannel).
    static func attach(to channel: Channel, messages: AsyncThrowingStream<AMQPMessage, Error>) async throws -> AMQPConnection {
        let (handler, openedFuture) = try await channel.eventLoop.submit {
            let h = try channel.pipeline.syncOperations.handler(type: AMQPConnectionHandler.self)
            return (NIOLoopBound(h, eventLoop: channel.eventLoop), h.openedFuture)
        }.get()
        do {
            let tune = try await openedFuture.get()
            return AMQPConnection(channel: channel, handler: handler, tune: tune, messages: messages)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    private func call(_ method: Method) async throws -> Method {
        let promise = channel.eventLoop.makePromise(of: Method.self)
        channel.eventLoop.execute { [handler] in handler.value.call(method, promise: promise) }
        return try await promise.futureResult.get()
    }

    /// `exchange.declare`; passive checks that it exists (a missing one fails with `isExchangeNotFound` and ends
    /// the connection).
    public func declareExchange(_ declare: ExchangeDeclare) async throws {
        _ = try await call(.exchangeDeclare(declare))
    }

    @discardableResult
    public func declareQueue(_ declare: QueueDeclare) async throws -> QueueDeclareOk {
        guard case .queueDeclareOk(let ok) = try await call(.queueDeclare(declare)) else { throw AMQPError.notOpen }
        return ok
    }

    public func bindQueue(_ bind: QueueBind) async throws {
        _ = try await call(.queueBind(bind))
    }

    /// `basic.qos`: at most `prefetchCount` unacknowledged messages in flight.
    public func qos(prefetchCount: UInt16) async throws {
        _ = try await call(.basicQos(prefetchSize: 0, prefetchCount: prefetchCount, global: false))
    }

    /// `basic.consume` with manual acks; returns the consumer tag. Messages arrive on `messages`.
    @discardableResult
    public func consume(queue: String, consumerTag: String = "", exclusive: Bool = false) async throws -> String {
        guard case .basicConsumeOk(let tag) = try await call(.basicConsume(BasicConsume(queue: queue, consumerTag: consumerTag, exclusive: exclusive)))
        else { throw AMQPError.notOpen }
        return tag
    }

    /// Acknowledges a delivery. On a connection that has ended this does nothing: the broker redelivers.
    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) {
        channel.eventLoop.execute { [handler] in handler.value.send(.basicAck(deliveryTag: deliveryTag, multiple: multiple)) }
    }

    /// Publishes a message (tests and the stand-in cloud); returns once it is written to the socket.
    public func publish(exchange: String, routingKey: String, body: [UInt8], properties: BasicProperties = BasicProperties()) async throws {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.eventLoop.execute { [handler] in
            handler.value.publish(exchange: exchange, routingKey: routingKey, properties: properties, body: body, promise: promise)
        }
        try await promise.futureResult.get()
    }

    /// Closes cleanly (connection.close, then close-ok) and waits for the socket to close.
    public func close() async {
        channel.eventLoop.execute { [handler] in handler.value.close() }
        // A broker that never answers close-ok: the socket is closed after a bound.
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(5)) { [channel] in channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        timeout.cancel()
    }

    /// Waits until the connection has ended.
    public func waitClosed() async {
        try? await channel.closeFuture.get()
    }
}

extension AMQPConnectionHandler {
    var openedFuture: EventLoopFuture<TuneParameters> { opened.futureResult }
}
