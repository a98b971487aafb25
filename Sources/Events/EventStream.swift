// The consumer the agent runs: connect, check the exchange, declare and bind its own queue, consume with
// manual acks, and reconnect with a capped backoff, reporting every state change so the daemon can fall
// back to polling and resync after a reconnect.
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// The delay before each reconnect: doubling from `initial`, never above `maximum` (5 s by default),
/// back to `initial` after a successful connect. No randomness, so tests can assert the sequence.
public struct ReconnectBackoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    private var current: Duration?

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
    }

    /// The next delay, and the state moves on.
    public mutating func next() -> Duration {
        let delay = current.map { min($0 * 2, maximum) } ?? initial
        current = delay
        return delay
    }

    public mutating func reset() { current = nil }
}

/// Settings of the agent's notification consumer.
public struct EventStreamConfiguration: Sendable {
    public var endpoint: AMQPEndpoint
    /// From the password file, never from the URI.
    public var password: String
    public var tls: AMQPTLSOptions
    /// Neutron's exchange, declared passively only: its settings are Neutron's.
    public var exchange: String
    public var routingKey: String
    /// The agent's own queue (`defaultEventsQueueName`).
    public var queue: String
    /// `x-expires`: the broker deletes the queue when no agent has used it for this long.
    public var queueExpires: Duration
    /// `x-max-length`: a stopped agent's queue keeps at most this many messages (the oldest are dropped; the
    /// agent resyncs at start anyway).
    public var queueMaxLength: Int64
    public var prefetch: UInt16
    public var heartbeat: UInt16
    public var backoff: ReconnectBackoff
    public var connectTimeout: Duration

    public init(endpoint: AMQPEndpoint, password: String, queue: String, tls: AMQPTLSOptions = AMQPTLSOptions(),
                exchange: String = "neutron", routingKey: String = "notifications.info",
                queueExpires: Duration = .seconds(3600), queueMaxLength: Int64 = 10_000, prefetch: UInt16 = 200,
                heartbeat: UInt16 = 10, backoff: ReconnectBackoff = ReconnectBackoff(), connectTimeout: Duration = .seconds(10)) {
        self.endpoint = endpoint
        self.password = password
        self.queue = queue
        self.tls = tls
        self.exchange = exchange
        self.routingKey = routingKey
        self.queueExpires = queueExpires
        self.queueMaxLength = queueMaxLength
        self.prefetch = prefetch
        self.heartbeat = heartbeat
        self.backoff = backoff
        self.connectTimeout = connectTimeout
    }

    /// The queue's declaration: durable (RabbitMQ 4.3 refuses non-durable, non-exclusive queues), with the caps.
    public var queueDeclaration: QueueDeclare {
        let ms = queueExpires.components.seconds * 1000 + queueExpires.components.attoseconds / 1_000_000_000_000_000
        return QueueDeclare(queue: queue, durable: true, arguments: [
            "x-expires": .int64(max(1, ms)),
            "x-max-length": .int64(queueMaxLength),
        ])
    }
}

/// A notification as delivered, with its ack.
public struct EventDelivery: Sendable {
    public let message: AMQPMessage
    /// `event_type` read by `OsloEnvelope.peekEventType` (nil when the quick scan could not tell).
    public let peekedEventType: String?
    private let connection: AMQPConnection

    init(message: AMQPMessage, connection: AMQPConnection) {
        self.message = message
        self.connection = connection
        self.peekedEventType = OsloEnvelope.peekEventType(message.body)
    }

    /// The full decode (after filtering on `peekedEventType`).
    public func decode() throws(NotificationDecodingError) -> OsloNotification {
        try OsloEnvelope.decode(message.body)
    }

    /// Acknowledges the message; every message is acked, malformed ones included, once handled.
    public func ack() { connection.ack(message.deliveryTag) }
}

/// What the consumer reports, in order.
public enum EventStreamEvent: Sendable {
    /// Bound and consuming. Changes made while disconnected were never published: resync now.
    case connected(queue: String, broker: String)
    /// The broker went away or refused us; reconnecting after `retryIn`. Poll meanwhile.
    case disconnected(AMQPError, retryIn: Duration)
    /// The broker answers but the exchange does not exist: notifications are probably off in Neutron, or
    /// Neutron has not published since the broker restarted. Retrying after `retryIn`; poll meanwhile.
    case exchangeMissing(exchange: String, retryIn: Duration)
    case message(EventDelivery)
}

/// Follows Neutron's notifications for as long as it is iterated.
///
/// ```swift
/// let stream = EventStream(configuration: EventStreamConfiguration(
///     endpoint: try AMQPEndpoint(parsing: "amqp://mra@rabbit:5672/"), password: secret,
///     queue: defaultEventsQueueName(hostname: currentHostname(), table: 254, protocol: 200)))
/// for await event in stream.events() {
///     switch event {
///     case .connected: resync()
///     case .disconnected, .exchangeMissing: pollMeanwhile()
///     case .message(let delivery):
///         if let type = delivery.peekedEventType, !interesting(type) { delivery.ack(); continue }
///         handle(try? delivery.decode()); delivery.ack()
///     }
/// }
/// ```
public struct EventStream: Sendable {
    public let configuration: EventStreamConfiguration
    private let group: EventLoopGroup
    private let sleep: @Sendable (Duration) async throws -> Void

    /// `sleep` waits between reconnects (inject one to test without wall time).
    public init(configuration: EventStreamConfiguration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }) {
        self.configuration = configuration
        self.group = group
        self.sleep = sleep
    }

    /// The events; iterating runs the consumer, dropping the iterator (or cancelling its task) stops it and
    /// closes the connection.
    public func events() -> AsyncStream<EventStreamEvent> {
        let (stream, continuation) = AsyncStream<EventStreamEvent>.makeStream()
        let task = Task { [self] in
            await run { continuation.yield($0) }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Runs the consumer until the calling task is cancelled, passing every event to `report`.
    public func run(_ report: @Sendable (EventStreamEvent) -> Void) async {
        let c = configuration
        var backoff = c.backoff
        while !Task.isCancelled {
            do {
                let connection = try await connect()
                let lost: AMQPError? = await withTaskCancellationHandler {
                    do {
                        try await subscribe(connection)
                        backoff.reset()
                        report(.connected(queue: c.queue, broker: c.endpoint.description))
                        for try await message in connection.messages {
                            report(.message(EventDelivery(message: message, connection: connection)))
                        }
                        return Task.isCancelled ? nil : .connectionLost("the connection ended")
                    } catch let error as AMQPError {
                        return error
                    } catch {
                        return .connectionLost(String(describing: error))
                    }
                } onCancel: {
                    Task { await connection.close() }
                }
                await connection.close()
                guard let lost, !Task.isCancelled else { return }
                let delay = backoff.next()
                if lost.isExchangeNotFound {
                    report(.exchangeMissing(exchange: c.exchange, retryIn: delay))
                } else {
                    report(.disconnected(lost, retryIn: delay))
                }
                try await sleep(delay)
            } catch is CancellationError {
                return
            } catch {
                guard !Task.isCancelled else { return }
                let delay = backoff.next()
                report(.disconnected(error as? AMQPError ?? .connectionLost(String(describing: error)), retryIn: delay))
                do { try await sleep(delay) } catch { return }
            }
        }
    }

    /// For `check`: connects, checks the exchange passively, declares and binds the queue, and closes. The answer
    /// counts the queue's messages and consumers (a consumer there while this agent is stopped is another agent
    /// sharing, and so splitting, the queue). A missing exchange throws an error with `isExchangeNotFound`.
    public func checkBinding() async throws -> QueueDeclareOk {
        let c = configuration
        let connection = try await connect()
        do {
            try await connection.declareExchange(ExchangeDeclare(exchange: c.exchange, passive: true))
            let ok = try await connection.declareQueue(c.queueDeclaration)
            try await connection.bindQueue(QueueBind(queue: c.queue, exchange: c.exchange, routingKey: c.routingKey))
            await connection.close()
            return ok
        } catch {
            await connection.close()
            throw error
        }
    }

    private func connect() async throws -> AMQPConnection {
        let c = configuration
        var config = ConnectionConfiguration(username: c.endpoint.username, password: c.password, virtualHost: c.endpoint.virtualHost,
                                             heartbeat: c.endpoint.heartbeat ?? c.heartbeat)
        config.connectionName = "metadata-route-agent \(c.queue)"
        let timeout = TimeAmount.nanoseconds(Int64(c.connectTimeout.components.seconds) * 1_000_000_000
                                             + c.connectTimeout.components.attoseconds / 1_000_000_000)
        return try await AMQPConnection.connect(to: c.endpoint, password: c.password, tls: c.tls, configuration: config,
                                                group: group, connectTimeout: timeout)
    }

    /// Passive exchange check, the agent's queue, its binding, prefetch, consume.
    private func subscribe(_ connection: AMQPConnection) async throws {
        let c = configuration
        try await connection.declareExchange(ExchangeDeclare(exchange: c.exchange, passive: true))
        try await connection.declareQueue(c.queueDeclaration)
        try await connection.bindQueue(QueueBind(queue: c.queue, exchange: c.exchange, routingKey: c.routingKey))
        try await connection.qos(prefetchCount: c.prefetch)
        try await connection.consume(queue: c.queue)
    }
}

/// This host's name (gethostname), for `defaultEventsQueueName`.
public func currentHostname() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
