#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Events
import Logging
import Model
import Synchronization

/// Reads the notification settings: the broker, the password (first line of `--events-password-file`), the
/// queue. Nil without `--events-url`. The password is never logged and never part of an error text.
public func eventStreamConfiguration(_ settings: Settings, hostname: String = currentHostname()) throws(ConfigError) -> EventStreamConfiguration? {
    guard let url = settings.eventsURL else {
        if settings.eventsPasswordFile != nil || settings.eventsCAFile != nil || settings.eventsQueue != nil {
            throw ConfigError("--events-password-file, --events-ca-file and --events-queue need --events-url")
        }
        return nil
    }
    let endpoint: AMQPEndpoint
    do { endpoint = try AMQPEndpoint(parsing: url) } catch { throw ConfigError("events-url: \(error)") }
    var password = ""
    if let file = settings.eventsPasswordFile {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError("cannot read events-password-file \(file) (check that it exists and that this user may read it)")
        }
        let text = String(decoding: data, as: UTF8.self)
        password = String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if password.hasSuffix("\r") { password.removeLast() }
        if password.isEmpty { throw ConfigError("events-password-file \(file) is empty; its first line must be the broker password") }
    } else if endpoint.username != "guest" {
        throw ConfigError("--events-url names user \(endpoint.username) but no --events-password-file gives the password")
    }
    if endpoint.tls == false, settings.eventsCAFile != nil {
        throw ConfigError("--events-ca-file is for amqps:// URLs; \(endpoint) is plain amqp")
    }
    let queue = settings.eventsQueue ?? defaultEventsQueueName(hostname: hostname, table: settings.table, protocol: settings.proto)
    return EventStreamConfiguration(endpoint: endpoint, password: password, queue: queue,
                                    tls: AMQPTLSOptions(caFile: settings.eventsCAFile),
                                    exchange: settings.eventsExchange, routingKey: settings.eventsRoutingKey)
}

/// Follows Neutron's notifications for the daemon: each one is filtered on its event type, decoded, mapped
/// (`EventMapping`) against the daemon's last snapshot and acked; router changes go to `Daemon.routersChanged`,
/// external network changes to a full read, and the stream's state to `Daemon.eventsStateChanged` (which falls
/// back to polling while the broker is away, and reads everything when it answers again).
///
/// A malformed or unexpected message is counted, logged without its payload, acked and dropped: it never stops
/// the consumer.
public final class EventFollower: Sendable {
    let daemon: Daemon
    let logger: Logger
    let metrics: AgentMetrics?
    let clock: any AgentClock
    private let outage = Mutex<(since: Duration?, attempts: Int)>((nil, 0))

    public init(daemon: Daemon, logger: Logger, metrics: AgentMetrics?, clock: any AgentClock = SystemClock()) {
        self.daemon = daemon
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
    }

    /// Runs until cancelled.
    public func run(_ stream: EventStream) async {
        daemon.eventsStateChanged(.connecting)
        await stream.run { event in self.handle(event) }
    }

    /// One event of the stream (public for tests that feed events without a broker).
    public func handle(_ event: EventStreamEvent) {
        switch event {
        case .connected(let queue, let broker):
            let was = outage.withLock { o -> (Duration?, Int) in defer { o = (nil, 0) }; return (o.since, o.attempts) }
            var m: Logger.Metadata = ["queue": "\(queue)", "broker": "\(broker)"]
            if let since = was.0 { m["outage"] = "\(humanDuration(clock.now - since))" }
            logger.notice("following Neutron notifications", metadata: m)
            daemon.eventsStateChanged(.connected)
        case .disconnected(let error, let retryIn):
            down(.down, message: "broker unreachable; polling Neutron meanwhile", metadata: ["error": "\(error)", "retry_in": "\(humanDuration(retryIn))"])
        case .exchangeMissing(let exchange, let retryIn):
            down(.exchangeMissing, message: "Neutron's exchange is not on the broker; polling Neutron meanwhile", metadata: [
                "exchange": "\(exchange)", "retry_in": "\(humanDuration(retryIn))",
                "hint": "notifications are probably off in Neutron ([oslo_messaging_notifications] driver = messagingv2), or Neutron has not published since the broker restarted",
            ])
        case .message(let delivery):
            handle(delivery.message.body, peeked: delivery.peekedEventType, messageID: delivery.message.properties.messageID)
            delivery.ack()
        }
    }

    /// One message body: filter, decode, map, post. Never throws.
    public func handle(_ body: [UInt8], peeked: String?, messageID: String? = nil) {
        if let t = peeked, !EventMapping.isHandled(t) {
            metrics?.recordEvent(type: "other", outcome: "ignored")
            return
        }
        let notification: OsloNotification
        do {
            notification = try OsloEnvelope.decode(body)
        } catch {
            metrics?.recordEvent(type: EventMapping.label(peeked), outcome: "malformed")
            logger.warning("dropped a malformed notification", metadata: [
                "error": "\(error)", "bytes": "\(body.count)", "message_id": "\(messageID ?? "-")",
            ])
            return
        }
        let label = EventMapping.label(notification.eventType)
        if let t = notification.timestamp {
            metrics?.recordEventLag(seconds: clock.wallTime.timeIntervalSince(t))
        }
        let effect = EventMapping.effect(of: notification, context: daemon.eventContext)
        switch effect {
        case .ignore:
            metrics?.recordEvent(type: label, outcome: "ignored")
        case .routers(let ids):
            metrics?.recordEvent(type: label, outcome: "handled")
            logger.debug("notification", metadata: ["event_type": "\(notification.eventType)", "routers": "\(ids.sorted().joined(separator: ","))"])
            daemon.routersChanged(ids)
        case .fullRead(let reason):
            metrics?.recordEvent(type: label, outcome: "handled")
            logger.info("notification asks for a full read", metadata: ["event_type": "\(notification.eventType)", "reason": "\(reason)"])
            daemon.requestFullRead(reason: "external_change")
        }
    }

    private func down(_ state: EventsState, message: String, metadata: Logger.Metadata) {
        let (first, attempts) = outage.withLock { o -> (Bool, Int) in
            let first = o.since == nil
            if first { o.since = clock.now }
            o.attempts += 1
            return (first, o.attempts)
        }
        var m = metadata
        m["attempt"] = "\(attempts)"
        // Once per outage at warning, then every 60th attempt (the stream retries every few seconds).
        if first || attempts % 60 == 0 { logger.warning("\(message)", metadata: m) } else { logger.debug("\(message)", metadata: m) }
        daemon.eventsStateChanged(state)
    }
}
