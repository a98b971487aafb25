// The AMQP connection as a pure state machine: fed decoded frames, calls and timer ticks, it returns the
// actions to take (write these frames, complete that call, hand over a message, close the socket).
// It never does I/O and never reads a clock: `now` is passed in (nanoseconds on any monotonic scale), so
// handshake, tuning, heartbeats, server closes and content reassembly are all tested with scripted frames.
//
// The client uses one channel (1): enough for a consumer and for a publisher, and a channel error then ends
// the session, which the consumer answers by reconnecting.

/// Why a connection or one of its calls failed.
public enum AMQPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The peer sent bytes that are not valid AMQP 0-9-1 (or use a part this client does not implement).
    case protocolViolation(AMQPWireError)
    /// The broker closed the connection (`connection.close`), e.g. 403 ACCESS_REFUSED, 320 CONNECTION_FORCED.
    case connectionClosedByServer(CloseReason)
    /// The broker closed the channel (`channel.close`), e.g. 404 NOT_FOUND for a passive declare of a missing exchange.
    case channelClosedByServer(CloseReason)
    /// Nothing arrived for two heartbeat intervals.
    case heartbeatTimeout(seconds: UInt16)
    /// The handshake did not finish in time.
    case handshakeTimeout(seconds: UInt64)
    /// The broker offers none of the SASL mechanisms this client speaks (PLAIN).
    case unsupportedMechanisms(String)
    /// The broker ended the consumer (`basic.cancel`: the queue was deleted, or the node holding it went away).
    case consumerCancelled(consumerTag: String)
    /// The connection ended without a close from the broker (socket closed, reset, unreachable).
    case connectionLost(String)
    /// The call was made on a connection that is closing or closed.
    case notOpen
    /// A call was refused before anything was sent (text says why).
    case invalidRequest(String)

    /// A passive `exchange.declare` failed because the exchange does not exist.
    public var isExchangeNotFound: Bool {
        if case .channelClosedByServer(let r) = self, r.replyCode == 404, r.classID == 40 { return true }
        return false
    }

    public var description: String {
        switch self {
        case .protocolViolation(let e): return "AMQP protocol error: \(e)"
        case .connectionClosedByServer(let r):
            var text = "the broker closed the connection: \(r.replyCode) \(r.replyText)"
            if r.replyCode == 403 || r.replyCode == 530 { text += " (check the user, the password file and the vhost permissions)" }
            return text
        case .channelClosedByServer(let r):
            if isExchangeNotFound {
                return "exchange not found: notifications probably off (\(r.replyCode) \(r.replyText)); enable "
                    + "[oslo_messaging_notifications] driver = messagingv2 in neutron.conf, or wait for Neutron to publish"
            }
            return "the broker closed the channel: \(r.replyCode) \(r.replyText)"
                + (r.classID != 0 ? " (in reply to \(Method.name(classID: r.classID, methodID: r.methodID)))" : "")
        case .heartbeatTimeout(let s): return "no frame from the broker for \(2 * Int(s)) s (two heartbeat intervals): connection declared dead"
        case .handshakeTimeout(let s): return "the AMQP handshake did not finish within \(s) s"
        case .unsupportedMechanisms(let m): return "the broker offers SASL mechanisms '\(m)' but this client speaks only PLAIN"
        case .consumerCancelled(let tag): return "the broker cancelled consumer '\(tag)' (queue deleted or its node went away)"
        case .connectionLost(let why): return "connection to the broker lost: \(why)"
        case .notOpen: return "the AMQP connection is not open"
        case .invalidRequest(let why): return "invalid AMQP request: \(why)"
        }
    }
}

/// What the client asks for when it connects.
public struct ConnectionConfiguration: Sendable, Equatable {
    public var username: String
    public var password: String
    public var virtualHost: String
    /// Requested heartbeat interval in seconds; the broker's value wins when lower (0 on both sides: none).
    public var heartbeat: UInt16
    /// Largest frame this client accepts; the smaller of both sides' non-zero values is used.
    public var frameMax: UInt32
    public var channelMax: UInt16
    /// A message body larger than this ends the connection (a protection, far above any notification).
    public var maxBodySize: UInt64
    /// Shown by `rabbitmqctl list_connections client_properties`.
    public var connectionName: String
    /// The handshake must complete within this many seconds of `start`.
    public var handshakeTimeout: UInt64

    public init(username: String, password: String, virtualHost: String = "/", heartbeat: UInt16 = 10,
                frameMax: UInt32 = 131_072, channelMax: UInt16 = 16, maxBodySize: UInt64 = 64 << 20,
                connectionName: String = "metadata-route-agent", handshakeTimeout: UInt64 = 30) {
        self.username = username
        self.password = password
        self.virtualHost = virtualHost
        self.heartbeat = heartbeat
        self.frameMax = frameMax
        self.channelMax = channelMax
        self.maxBodySize = maxBodySize
        self.connectionName = connectionName
        self.handshakeTimeout = handshakeTimeout
    }
}

/// A message delivered to a consumer, reassembled from its method, header and body frames.
public struct AMQPMessage: Equatable, Sendable {
    public var deliveryTag: UInt64
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var consumerTag: String
    public var properties: BasicProperties
    public var body: [UInt8]
}

struct ConnectionStateMachine {
    static let channel: UInt16 = 1

    enum Action: Equatable {
        case writeProtocolHeader
        case write([Frame])
        /// Handshake and channel.open complete.
        case opened(TuneParameters, serverProperties: FieldTable)
        /// The reply to the oldest outstanding call.
        case completeCall(Method)
        /// Every outstanding call fails with this error (the channel or connection ended).
        case failCalls(AMQPError)
        case deliver(AMQPMessage)
        case consumerCancelled(consumerTag: String)
        case blocked(String?)
        /// The connection is over: report this error (nil: a clean close the client asked for) and close the socket.
        case closeConnection(AMQPError?)
    }

    enum State: Equatable {
        case idle
        case awaitingStart
        case awaitingTune
        case awaitingOpenOk
        case awaitingChannelOpenOk
        case open
        /// The broker closed channel 1; calls fail, the connection is being closed.
        case channelClosed
        /// We sent connection.close and wait for close-ok.
        case closing
        case closed
    }

    private enum Content: Equatable {
        case none
        /// A deliver (or return, delivered nowhere) waits for its header, then body bytes.
        case awaitingHeader(BasicDeliver?)
        case awaitingBody(BasicDeliver?, ContentHeader, [UInt8])
    }

    let config: ConnectionConfiguration
    private(set) var state: State = .idle
    private(set) var tune = TuneParameters(channelMax: 0, frameMax: 131_072, heartbeat: 0)
    private var content: Content = .none
    /// For each outstanding call, the method IDs that answer it.
    private var pendingReplies: [[UInt16]] = []
    private var startedAt: UInt64 = 0
    private var lastReceived: UInt64 = 0
    private var lastSent: UInt64 = 0
    private var closeError: AMQPError?

    init(config: ConnectionConfiguration) {
        self.config = config
    }

    /// The negotiated frame_max once tuned (the decoder's limit).
    var frameMax: UInt32 { tune.frameMax }
    /// The negotiated heartbeat in seconds (0 before tuning or when disabled).
    var heartbeat: UInt16 { tune.heartbeat }
    var isOpen: Bool { state == .open }

    mutating func start(now: UInt64) -> [Action] {
        guard state == .idle else { return [] }
        state = .awaitingStart
        startedAt = now
        lastReceived = now
        lastSent = now
        return [.writeProtocolHeader]
    }

    // MARK: calls from the client

    /// Sends a synchronous method on channel 1; `.completeCall` carries its reply later.
    mutating func call(_ method: Method, now: UInt64) -> [Action] {
        guard state == .open else { return [.failCalls(closeError ?? .notOpen)] }
        if let problem = Self.validate(method) { return [.failCalls(.invalidRequest(problem))] }
        pendingReplies.append(Self.replies(to: method))
        return write([.method(channel: Self.channel, method)], now: now)
    }

    /// Sends a method that has no reply (basic.ack). Dropped when the channel is gone (the broker requeues).
    mutating func send(_ method: Method, now: UInt64) -> [Action] {
        guard state == .open else { return [] }
        return write([.method(channel: Self.channel, method)], now: now)
    }

    /// basic.publish with its header and body split to fit frame_max.
    mutating func publish(exchange: String, routingKey: String, properties: BasicProperties, body: [UInt8], now: UInt64) -> [Action] {
        guard state == .open else { return [.failCalls(closeError ?? .notOpen)] }
        var frames: [Frame] = [
            .method(channel: Self.channel, .basicPublish(exchange: exchange, routingKey: routingKey, mandatory: false, immediate: false)),
            .header(channel: Self.channel, ContentHeader(bodySize: UInt64(body.count), properties: properties)),
        ]
        let chunk = Int(tune.frameMax == 0 ? 131_072 : tune.frameMax) - 8
        var offset = 0
        while offset < body.count {
            let end = min(body.count, offset + chunk)
            frames.append(.body(channel: Self.channel, Array(body[offset..<end])))
            offset = end
        }
        return write(frames, now: now)
    }

    /// A clean close asked for by the client.
    mutating func close(now: UInt64) -> [Action] {
        switch state {
        case .open, .channelClosed, .awaitingChannelOpenOk:
            state = .closing
            let reason = CloseReason(replyCode: 200, replyText: "client closing")
            return [.failCalls(.notOpen)] + write([.method(channel: 0, .connectionClose(reason))], now: now)
        case .idle, .awaitingStart, .awaitingTune, .awaitingOpenOk:
            state = .closed
            return [.failCalls(.notOpen), .closeConnection(nil)]
        case .closing, .closed:
            return []
        }
    }

    // MARK: events from the socket and the timer

    /// The byte stream could not be decoded: the connection is over (the broker would close it for the same).
    mutating func decodingFailed(_ error: AMQPWireError) -> [Action] {
        fail(.protocolViolation(error))
    }

    /// The socket closed or failed underneath us.
    mutating func socketClosed(_ why: String) -> [Action] {
        switch state {
        case .closed: return []
        case .closing where closeError == nil:
            state = .closed
            return [.failCalls(.notOpen), .closeConnection(nil)]
        default:
            return fail(closeError ?? .connectionLost(why))
        }
    }

    /// A timer tick: sends a heartbeat when idle for half an interval (as RabbitMQ suggests), declares the
    /// connection dead after two intervals of silence, and bounds the handshake.
    mutating func tick(now: UInt64) -> [Action] {
        switch state {
        case .idle, .closed:
            return []
        case .awaitingStart, .awaitingTune, .awaitingOpenOk, .awaitingChannelOpenOk:
            if now &- startedAt >= config.handshakeTimeout * 1_000_000_000 {
                return fail(.handshakeTimeout(seconds: config.handshakeTimeout))
            }
            if state == .awaitingChannelOpenOk { return heartbeatTick(now: now) }
            return []
        case .open, .channelClosed, .closing:
            return heartbeatTick(now: now)
        }
    }

    private mutating func heartbeatTick(now: UInt64) -> [Action] {
        guard tune.heartbeat > 0 else { return [] }
        let interval = UInt64(tune.heartbeat) * 1_000_000_000
        if now &- lastReceived >= 2 * interval {
            return fail(.heartbeatTimeout(seconds: tune.heartbeat))
        }
        if now &- lastSent >= interval / 2 {
            return write([.heartbeat], now: now)
        }
        return []
    }

    mutating func received(_ frame: Frame, now: UInt64) -> [Action] {
        lastReceived = now
        if state == .closed { return [] }
        switch frame {
        case .heartbeat:
            return []
        case .method(0, let method):
            return connectionMethod(method, now: now)
        case .method(let channel, let method) where channel == Self.channel:
            return channelMethod(method, now: now)
        case .header(let channel, let header) where channel == Self.channel:
            return contentHeader(header)
        case .body(let channel, let bytes) where channel == Self.channel:
            return contentBody(bytes)
        default:
            return protocolError(504, "frame on channel \(frame.channel), which this client never opened", now: now)
        }
    }

    // MARK: connection methods (channel 0)

    private mutating func connectionMethod(_ method: Method, now: UInt64) -> [Action] {
        switch (state, method) {
        case (.awaitingStart, .connectionStart(let major, let minor, let props, let mechanisms, _)):
            guard major == 0, minor == 9 else {
                return fail(.protocolViolation(.malformed("broker speaks AMQP \(major)-\(minor), not 0-9")))
            }
            guard mechanisms.split(separator: " ").contains("PLAIN") else { return fail(.unsupportedMechanisms(mechanisms)) }
            state = .awaitingTune
            serverProperties = props
            let response = [0] + Array(config.username.utf8) + [0] + Array(config.password.utf8)
            return write([.method(channel: 0, .connectionStartOk(clientProperties: Self.clientProperties(config),
                                                                   mechanism: "PLAIN", response: response, locale: "en_US"))], now: now)
        case (.awaitingTune, .connectionTune(let offered)):
            tune = TuneParameters(channelMax: Self.negotiate(config.channelMax, offered.channelMax),
                                  frameMax: Self.negotiate(config.frameMax, offered.frameMax),
                                  heartbeat: Self.negotiate(config.heartbeat, offered.heartbeat))
            if tune.frameMax != 0 && tune.frameMax < 4096 { tune.frameMax = 4096 }  // the protocol's minimum
            state = .awaitingOpenOk
            return write([.method(channel: 0, .connectionTuneOk(tune)),
                          .method(channel: 0, .connectionOpen(virtualHost: config.virtualHost))], now: now)
        case (.awaitingOpenOk, .connectionOpenOk):
            state = .awaitingChannelOpenOk
            return write([.method(channel: Self.channel, .channelOpen)], now: now)
        case (_, .connectionClose(let reason)):
            let actions = write([.method(channel: 0, .connectionCloseOk)], now: now)
            if state == .closing {
                state = .closed
                return actions + [.failCalls(closeError ?? .notOpen), .closeConnection(closeError)]
            }
            return actions + fail(.connectionClosedByServer(reason))
        case (.closing, .connectionCloseOk):
            state = .closed
            let error = closeError
            return [.failCalls(error ?? .notOpen), .closeConnection(error)]
        case (.closing, _):
            return []  // everything but close-ok is ignored while closing
        case (_, .connectionBlocked(let reason)):
            return [.blocked(reason)]
        case (_, .connectionUnblocked):
            return [.blocked(nil)]
        case (_, .connectionSecure):
            return fail(.unsupportedMechanisms("a challenge (connection.secure) after PLAIN"))
        default:
            return protocolError(505, "unexpected \(method.name) in state \(state)", now: now)
        }
    }

    private(set) var serverProperties: FieldTable = [:]

    // MARK: channel 1

    private mutating func channelMethod(_ method: Method, now: UInt64) -> [Action] {
        if state == .closing {
            return []
        }
        if case .channelClose(let reason) = method {
            guard state == .open || state == .awaitingChannelOpenOk else { return [] }
            // Answer, then end the connection: one channel per connection, and the caller reconnects.
            let error = AMQPError.channelClosedByServer(reason)
            closeError = error
            state = .channelClosed
            content = .none
            pendingReplies = []
            var actions = write([.method(channel: Self.channel, .channelCloseOk)], now: now)
            actions.append(.failCalls(error))
            state = .closing
            actions += write([.method(channel: 0, .connectionClose(CloseReason(replyCode: 200, replyText: "channel closed by broker")))], now: now)
            return actions
        }
        if state == .awaitingChannelOpenOk {
            guard method == .channelOpenOk else { return protocolError(505, "expected channel.open-ok, got \(method.name)", now: now) }
            state = .open
            return [.opened(tune, serverProperties: serverProperties)]
        }
        guard state == .open else { return [] }
        guard content == .none else { return protocolError(505, "\(method.name) while a message's content was expected", now: now) }
        switch method {
        case .basicDeliver(let deliver):
            content = .awaitingHeader(deliver)
            return []
        case .basicReturn:
            content = .awaitingHeader(nil)
            return []
        case .basicCancel(let tag, let noWait):
            var actions: [Action] = noWait ? [] : write([.method(channel: Self.channel, .basicCancelOk(consumerTag: tag))], now: now)
            actions.append(.consumerCancelled(consumerTag: tag))
            return actions
        case .channelFlow(let active):
            return write([.method(channel: Self.channel, .channelFlowOk(active: active))], now: now)
        default:
            let (c, m) = method.id
            guard let expected = pendingReplies.first, expected.contains(c << 8 | m) else {
                return protocolError(505, "unexpected \(method.name)", now: now)
            }
            pendingReplies.removeFirst()
            return [.completeCall(method)]
        }
    }

    private mutating func contentHeader(_ header: ContentHeader) -> [Action] {
        guard state == .open else { return [] }
        guard case .awaitingHeader(let deliver) = content else {
            return protocolError(505, "content header without basic.deliver", now: lastReceived)
        }
        guard header.classID == 60 else { return protocolError(505, "content header of class \(header.classID)", now: lastReceived) }
        guard header.bodySize <= config.maxBodySize else {
            return protocolError(501, "message body of \(header.bodySize) bytes exceeds the \(config.maxBodySize)-byte limit", now: lastReceived)
        }
        content = .awaitingBody(deliver, header, [])
        return header.bodySize == 0 ? finishContent() : []
    }

    private mutating func contentBody(_ bytes: [UInt8]) -> [Action] {
        guard state == .open else { return [] }
        guard case .awaitingBody(let deliver, let header, var body) = content else {
            return protocolError(505, "body frame without a content header", now: lastReceived)
        }
        content = .none  // avoid a copy of `body` while appending
        body += bytes
        guard UInt64(body.count) <= header.bodySize else {
            return protocolError(501, "body frames exceed the announced \(header.bodySize) bytes", now: lastReceived)
        }
        content = .awaitingBody(deliver, header, body)
        return UInt64(body.count) == header.bodySize ? finishContent() : []
    }

    private mutating func finishContent() -> [Action] {
        guard case .awaitingBody(let deliver, let header, let body) = content else { return [] }
        content = .none
        guard let deliver else { return [] }  // a returned message: nothing to do
        return [.deliver(AMQPMessage(deliveryTag: deliver.deliveryTag, redelivered: deliver.redelivered, exchange: deliver.exchange,
                                     routingKey: deliver.routingKey, consumerTag: deliver.consumerTag,
                                     properties: header.properties, body: body))]
    }

    // MARK: helpers

    private mutating func write(_ frames: [Frame], now: UInt64) -> [Action] {
        lastSent = now
        return [.write(frames)]
    }

    /// The client found the broker's frames wrong: tell the broker (connection.close with the code) and end.
    private mutating func protocolError(_ code: UInt16, _ text: String, now: UInt64) -> [Action] {
        let error = AMQPError.protocolViolation(.malformed(text))
        guard state != .closed else { return [] }
        var actions: [Action] = []
        if state != .idle && state != .awaitingStart {
            actions = write([.method(channel: 0, .connectionClose(CloseReason(replyCode: code, replyText: String(text.prefix(200)))))], now: now)
        }
        return actions + fail(error)
    }

    /// Ends the connection with an error: outstanding calls fail, the socket closes.
    private mutating func fail(_ error: AMQPError) -> [Action] {
        guard state != .closed else { return [] }
        state = .closed
        closeError = error
        content = .none
        pendingReplies = []
        return [.failCalls(error), .closeConnection(error)]
    }

    /// The replies that complete a call.
    static func replies(to method: Method) -> [UInt16] {
        let ok: [UInt16]
        switch method {
        case .exchangeDeclare: ok = [40 << 8 | 11]
        case .queueDeclare: ok = [50 << 8 | 11]
        case .queueBind: ok = [50 << 8 | 21]
        case .basicQos: ok = [60 << 8 | 11]
        case .basicConsume: ok = [60 << 8 | 21]
        case .basicCancel: ok = [60 << 8 | 31]
        default: ok = []
        }
        return ok
    }

    /// A reason the method cannot be sent as a call, or nil.
    static func validate(_ method: Method) -> String? {
        if replies(to: method).isEmpty { return "\(method.name) is not a call this client makes" }
        let names: [String]
        switch method {
        case .exchangeDeclare(let d): names = [d.exchange, d.type]
        case .queueDeclare(let d): names = [d.queue]
        case .queueBind(let b): names = [b.queue, b.exchange, b.routingKey]
        case .basicConsume(let c): names = [c.queue, c.consumerTag]
        case .basicCancel(let tag, _): names = [tag]
        default: names = []
        }
        if let long = names.first(where: { $0.utf8.count > 255 }) { return "name longer than 255 bytes: \(long.prefix(40))…" }
        switch method {
        case .exchangeDeclare(let d) where d.noWait: return "no-wait calls are not supported"
        case .queueDeclare(let d) where d.noWait: return "no-wait calls are not supported"
        case .queueBind(let b) where b.noWait: return "no-wait calls are not supported"
        case .basicConsume(let c) where c.noWait: return "no-wait calls are not supported"
        case .basicCancel(_, let noWait) where noWait: return "no-wait calls are not supported"
        default: return nil
        }
    }

    /// The smaller of two non-zero values; when one side says 0 (no limit), the other side's value.
    static func negotiate<T: FixedWidthInteger>(_ client: T, _ server: T) -> T {
        if client == 0 { return server }
        if server == 0 { return client }
        return min(client, server)
    }

    static func clientProperties(_ config: ConnectionConfiguration) -> FieldTable {
        [
            "product": .longString("metadata-route-agent"),
            "platform": .longString("Swift / swift-nio"),
            "connection_name": .longString(config.connectionName),
            "capabilities": .table([
                "consumer_cancel_notify": .bool(true),
                "connection.blocked": .bool(true),
                "authentication_failure_close": .bool(true),
                "basic.nack": .bool(true),
                "publisher_confirms": .bool(false),
                "exchange_exchange_bindings": .bool(true),
            ]),
        ]
    }
}
