import Events
import Foundation
import Synchronization

/// Where the stand-in's notifications go: RabbitMQ (`AMQPNotifier`), or a recorder in unit tests.
public protocol NotificationPublishing: Sendable {
    /// Publishes the bodies in order; returns once they are written (throws when they cannot be).
    func publish(_ bodies: [[UInt8]]) async throws
}

/// Publishes to a real RabbitMQ as neutron-server's oslo.messaging does with `driver = messagingv2`: exchange
/// `neutron` declared as the kombu driver declares it (type topic, `durable = amqp_durable_queues` = false,
/// `auto_delete = amqp_auto_delete` = false), routing key `notifications.info`, content type
/// `application/json`, delivery mode 2 (persistent) — as in the recorded fixtures. Unlike oslo.messaging it does
/// not also declare the default `notifications.info` queue (nobody would consume it: it would only fill up).
/// Reconnects (and declares the exchange again) once when a publish fails, e.g. after a broker restart.
public actor AMQPNotifier: NotificationPublishing {
    public nonisolated let endpoint: AMQPEndpoint
    public nonisolated let exchange: String
    public nonisolated let routingKey: String
    private let password: String
    private var connection: AMQPConnection?
    public private(set) var published = 0

    public init(url: String, password: String, exchange: String = "neutron", routingKey: String = "notifications.info") throws {
        self.endpoint = try AMQPEndpoint(parsing: url)
        self.password = password
        self.exchange = exchange
        self.routingKey = routingKey
    }

    /// Connects and declares the exchange now (so a wrong URL or password fails at start, not at the first change).
    public func connect() async throws {
        _ = try await connected()
    }

    public func publish(_ bodies: [[UInt8]]) async throws {
        var lastError: Error?
        for _ in 0..<2 {
            do {
                let c = try await connected()
                for body in bodies {
                    try await c.publish(exchange: exchange, routingKey: routingKey, body: body,
                                        properties: BasicProperties(contentType: "application/json", deliveryMode: 2, headers: [:]))
                }
                published += bodies.count
                return
            } catch {
                lastError = error
                if let c = connection { await c.close() }
                connection = nil
            }
        }
        throw lastError ?? AMQPError.notOpen
    }

    public func close() async {
        if let c = connection { await c.close() }
        connection = nil
    }

    private func connected() async throws -> AMQPConnection {
        if let connection { return connection }
        let c = try await AMQPConnection.connect(to: endpoint, password: password)
        try await c.declareExchange(ExchangeDeclare(exchange: exchange, type: "topic", passive: false, durable: false, autoDelete: false))
        connection = c
        return c
    }
}

/// Records what would have been published (unit tests), and lets a test look at the stand-in at that moment.
public final class RecordingPublisher: NotificationPublishing {
    private let bodies = Mutex<[[UInt8]]>([])
    private let onPublish: @Sendable ([[UInt8]]) -> Void

    public init(onPublish: @escaping @Sendable ([[UInt8]]) -> Void = { _ in }) {
        self.onPublish = onPublish
    }

    public func publish(_ bodies: [[UInt8]]) async throws {
        onPublish(bodies)
        self.bodies.withLock { $0.append(contentsOf: bodies) }
    }

    public var published: [[UInt8]] { bodies.withLock { $0 } }
}

/// A lock held across suspension points: one `/_control/change` at a time.
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if !locked {
            locked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty { locked = false } else { waiters.removeFirst().resume() }
    }
}
