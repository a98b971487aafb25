// The AMQP 0-9-1 methods this client speaks, in one place: their class/method IDs and argument layouts,
// as the protocol's XML defines them. Standard library only (fuzzed by scripts/fuzz-amqp.sh).

/// The `close` arguments of `connection.close` and `channel.close`.
public struct CloseReason: Equatable, Sendable {
    public var replyCode: UInt16
    public var replyText: String
    /// The method that caused the close, when the peer names one (0 otherwise).
    public var classID: UInt16
    public var methodID: UInt16

    public init(replyCode: UInt16, replyText: String, classID: UInt16 = 0, methodID: UInt16 = 0) {
        self.replyCode = replyCode
        self.replyText = replyText
        self.classID = classID
        self.methodID = methodID
    }
}

/// Connection tuning values (`connection.tune` / `tune-ok`).
public struct TuneParameters: Equatable, Sendable {
    public var channelMax: UInt16
    public var frameMax: UInt32
    /// Heartbeat interval in seconds; 0 means none.
    public var heartbeat: UInt16

    public init(channelMax: UInt16, frameMax: UInt32, heartbeat: UInt16) {
        self.channelMax = channelMax
        self.frameMax = frameMax
        self.heartbeat = heartbeat
    }
}

/// `exchange.declare` arguments.
public struct ExchangeDeclare: Equatable, Sendable {
    public var exchange: String
    public var type: String
    public var passive: Bool
    public var durable: Bool
    public var autoDelete: Bool
    public var `internal`: Bool
    public var noWait: Bool
    public var arguments: FieldTable

    public init(exchange: String, type: String = "topic", passive: Bool, durable: Bool = false, autoDelete: Bool = false,
                internal: Bool = false, noWait: Bool = false, arguments: FieldTable = [:]) {
        self.exchange = exchange
        self.type = type
        self.passive = passive
        self.durable = durable
        self.autoDelete = autoDelete
        self.internal = `internal`
        self.noWait = noWait
        self.arguments = arguments
    }
}

/// `queue.declare` arguments.
public struct QueueDeclare: Equatable, Sendable {
    public var queue: String
    public var passive: Bool
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    public var noWait: Bool
    public var arguments: FieldTable

    public init(queue: String, passive: Bool = false, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
                noWait: Bool = false, arguments: FieldTable = [:]) {
        self.queue = queue
        self.passive = passive
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.noWait = noWait
        self.arguments = arguments
    }
}

/// `queue.declare-ok` arguments.
public struct QueueDeclareOk: Equatable, Sendable {
    public var queue: String
    public var messageCount: UInt32
    public var consumerCount: UInt32
}

/// `queue.bind` arguments.
public struct QueueBind: Equatable, Sendable {
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public var noWait: Bool
    public var arguments: FieldTable

    public init(queue: String, exchange: String, routingKey: String, noWait: Bool = false, arguments: FieldTable = [:]) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.noWait = noWait
        self.arguments = arguments
    }
}

/// `basic.consume` arguments.
public struct BasicConsume: Equatable, Sendable {
    public var queue: String
    public var consumerTag: String
    public var noLocal: Bool
    public var noAck: Bool
    public var exclusive: Bool
    public var noWait: Bool
    public var arguments: FieldTable

    public init(queue: String, consumerTag: String = "", noLocal: Bool = false, noAck: Bool = false, exclusive: Bool = false,
                noWait: Bool = false, arguments: FieldTable = [:]) {
        self.queue = queue
        self.consumerTag = consumerTag
        self.noLocal = noLocal
        self.noAck = noAck
        self.exclusive = exclusive
        self.noWait = noWait
        self.arguments = arguments
    }
}

/// `basic.deliver` arguments.
public struct BasicDeliver: Equatable, Sendable {
    public var consumerTag: String
    public var deliveryTag: UInt64
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String

    public init(consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String) {
        self.consumerTag = consumerTag
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
    }
}

/// The methods of the subset, by class. `unblocked`, `closeOk`… carry no arguments.
public enum Method: Equatable, Sendable {
    // connection (10)
    case connectionStart(versionMajor: UInt8, versionMinor: UInt8, serverProperties: FieldTable, mechanisms: String, locales: String)
    case connectionStartOk(clientProperties: FieldTable, mechanism: String, response: [UInt8], locale: String)
    case connectionSecure(challenge: [UInt8])
    case connectionTune(TuneParameters)
    case connectionTuneOk(TuneParameters)
    case connectionOpen(virtualHost: String)
    case connectionOpenOk
    case connectionClose(CloseReason)
    case connectionCloseOk
    case connectionBlocked(reason: String)
    case connectionUnblocked
    // channel (20)
    case channelOpen
    case channelOpenOk
    case channelFlow(active: Bool)
    case channelFlowOk(active: Bool)
    case channelClose(CloseReason)
    case channelCloseOk
    // exchange (40)
    case exchangeDeclare(ExchangeDeclare)
    case exchangeDeclareOk
    // queue (50)
    case queueDeclare(QueueDeclare)
    case queueDeclareOk(QueueDeclareOk)
    case queueBind(QueueBind)
    case queueBindOk
    // basic (60)
    case basicQos(prefetchSize: UInt32, prefetchCount: UInt16, global: Bool)
    case basicQosOk
    case basicConsume(BasicConsume)
    case basicConsumeOk(consumerTag: String)
    case basicCancel(consumerTag: String, noWait: Bool)
    case basicCancelOk(consumerTag: String)
    case basicPublish(exchange: String, routingKey: String, mandatory: Bool, immediate: Bool)
    case basicReturn(CloseReason, exchange: String, routingKey: String)
    case basicDeliver(BasicDeliver)
    case basicAck(deliveryTag: UInt64, multiple: Bool)

    /// (class-id, method-id) as the protocol numbers them.
    public var id: (classID: UInt16, methodID: UInt16) {
        switch self {
        case .connectionStart: return (10, 10)
        case .connectionStartOk: return (10, 11)
        case .connectionSecure: return (10, 20)
        case .connectionTune: return (10, 30)
        case .connectionTuneOk: return (10, 31)
        case .connectionOpen: return (10, 40)
        case .connectionOpenOk: return (10, 41)
        case .connectionClose: return (10, 50)
        case .connectionCloseOk: return (10, 51)
        case .connectionBlocked: return (10, 60)
        case .connectionUnblocked: return (10, 61)
        case .channelOpen: return (20, 10)
        case .channelOpenOk: return (20, 11)
        case .channelFlow: return (20, 20)
        case .channelFlowOk: return (20, 21)
        case .channelClose: return (20, 40)
        case .channelCloseOk: return (20, 41)
        case .exchangeDeclare: return (40, 10)
        case .exchangeDeclareOk: return (40, 11)
        case .queueDeclare: return (50, 10)
        case .queueDeclareOk: return (50, 11)
        case .queueBind: return (50, 20)
        case .queueBindOk: return (50, 21)
        case .basicQos: return (60, 10)
        case .basicQosOk: return (60, 11)
        case .basicConsume: return (60, 20)
        case .basicConsumeOk: return (60, 21)
        case .basicCancel: return (60, 30)
        case .basicCancelOk: return (60, 31)
        case .basicPublish: return (60, 40)
        case .basicReturn: return (60, 50)
        case .basicDeliver: return (60, 60)
        case .basicAck: return (60, 80)
        }
    }

    /// A name for logs and errors, as the protocol spells it ("queue.declare").
    public var name: String {
        let (c, m) = id
        return Self.name(classID: c, methodID: m)
    }

    public static func name(classID: UInt16, methodID: UInt16) -> String {
        let names: [UInt16: (String, [UInt16: String])] = [
            10: ("connection", [10: "start", 11: "start-ok", 20: "secure", 30: "tune", 31: "tune-ok", 40: "open", 41: "open-ok",
                                50: "close", 51: "close-ok", 60: "blocked", 61: "unblocked"]),
            20: ("channel", [10: "open", 11: "open-ok", 20: "flow", 21: "flow-ok", 40: "close", 41: "close-ok"]),
            40: ("exchange", [10: "declare", 11: "declare-ok"]),
            50: ("queue", [10: "declare", 11: "declare-ok", 20: "bind", 21: "bind-ok"]),
            60: ("basic", [10: "qos", 11: "qos-ok", 20: "consume", 21: "consume-ok", 30: "cancel", 31: "cancel-ok",
                           40: "publish", 50: "return", 60: "deliver", 80: "ack"]),
        ]
        guard let (cls, methods) = names[classID] else { return "\(classID).\(methodID)" }
        return "\(cls).\(methods[methodID] ?? String(methodID))"
    }

    /// Whether a content header and body follow this method.
    var carriesContent: Bool {
        switch self {
        case .basicPublish, .basicReturn, .basicDeliver: return true
        default: return false
        }
    }

    func encode(into w: inout WireWriter) {
        let (c, m) = id
        w.u16(c)
        w.u16(m)
        switch self {
        case let .connectionStart(major, minor, props, mechanisms, locales):
            w.u8(major); w.u8(minor); w.table(props); w.longString(mechanisms); w.longString(locales)
        case let .connectionStartOk(props, mechanism, response, locale):
            w.table(props); w.shortString(mechanism); w.longBytes(response); w.shortString(locale)
        case let .connectionSecure(challenge):
            w.longBytes(challenge)
        case let .connectionTune(t), let .connectionTuneOk(t):
            w.u16(t.channelMax); w.u32(t.frameMax); w.u16(t.heartbeat)
        case let .connectionOpen(vhost):
            w.shortString(vhost); w.shortString(""); w.bits(false)
        case .connectionOpenOk:
            w.shortString("")
        case let .connectionClose(r), let .channelClose(r):
            w.u16(r.replyCode); w.shortString(r.replyText); w.u16(r.classID); w.u16(r.methodID)
        case .connectionCloseOk, .connectionUnblocked, .channelCloseOk, .exchangeDeclareOk, .queueBindOk, .basicQosOk:
            break
        case let .connectionBlocked(reason):
            w.shortString(reason)
        case .channelOpen:
            w.shortString("")
        case .channelOpenOk:
            w.longString("")
        case let .channelFlow(active), let .channelFlowOk(active):
            w.bits(active)
        case let .exchangeDeclare(d):
            w.u16(0); w.shortString(d.exchange); w.shortString(d.type)
            w.bits(d.passive, d.durable, d.autoDelete, d.internal, d.noWait); w.table(d.arguments)
        case let .queueDeclare(d):
            w.u16(0); w.shortString(d.queue); w.bits(d.passive, d.durable, d.exclusive, d.autoDelete, d.noWait); w.table(d.arguments)
        case let .queueDeclareOk(ok):
            w.shortString(ok.queue); w.u32(ok.messageCount); w.u32(ok.consumerCount)
        case let .queueBind(b):
            w.u16(0); w.shortString(b.queue); w.shortString(b.exchange); w.shortString(b.routingKey); w.bits(b.noWait); w.table(b.arguments)
        case let .basicQos(size, count, global):
            w.u32(size); w.u16(count); w.bits(global)
        case let .basicConsume(c):
            w.u16(0); w.shortString(c.queue); w.shortString(c.consumerTag)
            w.bits(c.noLocal, c.noAck, c.exclusive, c.noWait); w.table(c.arguments)
        case let .basicConsumeOk(tag), let .basicCancelOk(tag):
            w.shortString(tag)
        case let .basicCancel(tag, noWait):
            w.shortString(tag); w.bits(noWait)
        case let .basicPublish(exchange, key, mandatory, immediate):
            w.u16(0); w.shortString(exchange); w.shortString(key); w.bits(mandatory, immediate)
        case let .basicReturn(r, exchange, key):
            w.u16(r.replyCode); w.shortString(r.replyText); w.shortString(exchange); w.shortString(key)
        case let .basicDeliver(d):
            w.shortString(d.consumerTag); w.u64(d.deliveryTag); w.bits(d.redelivered); w.shortString(d.exchange); w.shortString(d.routingKey)
        case let .basicAck(tag, multiple):
            w.u64(tag); w.bits(multiple)
        }
    }

    static func decode(_ r: inout WireReader) throws(AMQPWireError) -> Method {
        let classID = try r.u16("method class")
        let methodID = try r.u16("method id")
        let what = name(classID: classID, methodID: methodID)
        func bit(_ r: inout WireReader, _ index: Int = 0) throws(AMQPWireError) -> Bool { try r.u8(what) & (1 << UInt8(index)) != 0 }
        func close(_ r: inout WireReader) throws(AMQPWireError) -> CloseReason {
            CloseReason(replyCode: try r.u16(what), replyText: try r.shortString(what), classID: try r.u16(what), methodID: try r.u16(what))
        }
        func tune(_ r: inout WireReader) throws(AMQPWireError) -> TuneParameters {
            TuneParameters(channelMax: try r.u16(what), frameMax: try r.u32(what), heartbeat: try r.u16(what))
        }
        let m: Method
        switch (classID, methodID) {
        case (10, 10):
            m = .connectionStart(versionMajor: try r.u8(what), versionMinor: try r.u8(what), serverProperties: try r.table(what),
                                 mechanisms: try r.longString(what), locales: try r.longString(what))
        case (10, 11):
            m = .connectionStartOk(clientProperties: try r.table(what), mechanism: try r.shortString(what),
                                   response: try r.longBytes(what), locale: try r.shortString(what))
        case (10, 20): m = .connectionSecure(challenge: try r.longBytes(what))
        case (10, 30): m = .connectionTune(try tune(&r))
        case (10, 31): m = .connectionTuneOk(try tune(&r))
        case (10, 40):
            let vhost = try r.shortString(what)
            _ = try r.shortString(what)
            _ = try r.u8(what)
            m = .connectionOpen(virtualHost: vhost)
        case (10, 41): _ = try r.shortString(what); m = .connectionOpenOk
        case (10, 50): m = .connectionClose(try close(&r))
        case (10, 51): m = .connectionCloseOk
        case (10, 60): m = .connectionBlocked(reason: try r.shortString(what))
        case (10, 61): m = .connectionUnblocked
        case (20, 10): _ = try r.shortString(what); m = .channelOpen
        case (20, 11): _ = try r.longBytes(what); m = .channelOpenOk
        case (20, 20): m = .channelFlow(active: try bit(&r))
        case (20, 21): m = .channelFlowOk(active: try bit(&r))
        case (20, 40): m = .channelClose(try close(&r))
        case (20, 41): m = .channelCloseOk
        case (40, 10):
            _ = try r.u16(what)
            let exchange = try r.shortString(what), type = try r.shortString(what)
            let bits = try r.u8(what)
            m = .exchangeDeclare(ExchangeDeclare(exchange: exchange, type: type, passive: bits & 1 != 0, durable: bits & 2 != 0,
                                                 autoDelete: bits & 4 != 0, internal: bits & 8 != 0, noWait: bits & 16 != 0,
                                                 arguments: try r.table(what)))
        case (40, 11): m = .exchangeDeclareOk
        case (50, 10):
            _ = try r.u16(what)
            let queue = try r.shortString(what)
            let bits = try r.u8(what)
            m = .queueDeclare(QueueDeclare(queue: queue, passive: bits & 1 != 0, durable: bits & 2 != 0, exclusive: bits & 4 != 0,
                                           autoDelete: bits & 8 != 0, noWait: bits & 16 != 0, arguments: try r.table(what)))
        case (50, 11):
            m = .queueDeclareOk(QueueDeclareOk(queue: try r.shortString(what), messageCount: try r.u32(what), consumerCount: try r.u32(what)))
        case (50, 20):
            _ = try r.u16(what)
            let queue = try r.shortString(what), exchange = try r.shortString(what), key = try r.shortString(what)
            m = .queueBind(QueueBind(queue: queue, exchange: exchange, routingKey: key, noWait: try bit(&r), arguments: try r.table(what)))
        case (50, 21): m = .queueBindOk
        case (60, 10): m = .basicQos(prefetchSize: try r.u32(what), prefetchCount: try r.u16(what), global: try bit(&r))
        case (60, 11): m = .basicQosOk
        case (60, 20):
            _ = try r.u16(what)
            let queue = try r.shortString(what), tag = try r.shortString(what)
            let bits = try r.u8(what)
            m = .basicConsume(BasicConsume(queue: queue, consumerTag: tag, noLocal: bits & 1 != 0, noAck: bits & 2 != 0,
                                           exclusive: bits & 4 != 0, noWait: bits & 8 != 0, arguments: try r.table(what)))
        case (60, 21): m = .basicConsumeOk(consumerTag: try r.shortString(what))
        case (60, 30): m = .basicCancel(consumerTag: try r.shortString(what), noWait: try bit(&r))
        case (60, 31): m = .basicCancelOk(consumerTag: try r.shortString(what))
        case (60, 40):
            _ = try r.u16(what)
            let exchange = try r.shortString(what), key = try r.shortString(what)
            let bits = try r.u8(what)
            m = .basicPublish(exchange: exchange, routingKey: key, mandatory: bits & 1 != 0, immediate: bits & 2 != 0)
        case (60, 50):
            let code = try r.u16(what), text = try r.shortString(what)
            m = .basicReturn(CloseReason(replyCode: code, replyText: text), exchange: try r.shortString(what), routingKey: try r.shortString(what))
        case (60, 60):
            m = .basicDeliver(BasicDeliver(consumerTag: try r.shortString(what), deliveryTag: try r.u64(what), redelivered: try bit(&r),
                                           exchange: try r.shortString(what), routingKey: try r.shortString(what)))
        case (60, 80): m = .basicAck(deliveryTag: try r.u64(what), multiple: try bit(&r))
        default:
            throw .unknownMethod(classID: classID, methodID: methodID)
        }
        try r.expectEnd(what)
        return m
    }
}
