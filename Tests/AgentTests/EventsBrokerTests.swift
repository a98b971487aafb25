import Events
import Foundation
import Logging
import Model
import OpenStack
import Synchronization
import Testing
@testable import Agent

/// The daemon and its notification follower against the real RabbitMQ that scripts/rabbitmq/start.sh runs on
/// 127.0.0.1 (scripts/run-tests.sh exports MRA_RABBITMQ_URL; in CI a missing broker fails EventsTests'
/// guard). Oslo-shaped messages are published to an exchange declared as Neutron declares its own; the kernel is
/// the in-memory one, the clock the real one (these tests wait for the broker, bounded, and never time anything).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["MRA_RABBITMQ_URL"] != nil, "needs scripts/rabbitmq/start.sh"))
struct EventsBrokerTests {
    let env = ProcessInfo.processInfo.environment

    func endpoint() throws -> AMQPEndpoint { try AMQPEndpoint(parsing: env["MRA_RABBITMQ_URL"]!) }
    var password: String { env["MRA_RABBITMQ_PASSWORD"] ?? "guest" }

    func oslo(_ eventType: String, payload: String) -> [UInt8] {
        let stamp = "2027-01-15 08:00:00.000000"
        let inner = #"{"message_id": "\#(UUID().uuidString)", "publisher_id": "network.ctl", "event_type": "\#(eventType)", "priority": "INFO", "payload": \#(payload), "timestamp": "\#(stamp)"}"#
        let escaped = inner.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return Array(#"{"oslo.version": "2.0", "oslo.message": "\#(escaped)"}"#.utf8)
    }

    /// Polls `condition` every 20 ms for at most `seconds`.
    func eventually(_ seconds: Double = 20, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test func aPublishedInterfaceNotificationReachesTheKernelThroughATargetedReRead() async throws {
        let exchange = "mra-test.neutron.\(UUID().uuidString.prefix(8))"
        let queue = "mra-test.agent.\(UUID().uuidString.prefix(8))"
        // Topic, like Neutron's; durable here (unlike Neutron's) so that EventsTests' broker restart, which may run
        // at the same time, cannot take it away mid-test: the agent's durable queue and binding survive it too.
        let endpoint = try endpoint(), password = self.password
        let first = try await AMQPConnection.connect(to: endpoint, password: password)
        try await first.declareExchange(ExchangeDeclare(exchange: exchange, type: "topic", passive: false, durable: true))
        await first.close()
        /// Publishes on a fresh connection, again after a broker restart.
        func publish(_ body: [UInt8]) async throws {
            for attempt in 1...20 {
                do {
                    let c = try await AMQPConnection.connect(to: endpoint, password: password)
                    try await c.publish(exchange: exchange, routingKey: "notifications.info", body: body)
                    await c.close()
                    return
                } catch where attempt < 20 {
                    try await Task.sleep(for: .milliseconds(500))
                }
            }
        }

        var settings = Settings()
        settings.interval = 3600
        settings.resyncInterval = 3600
        let kernel = hostKernel()
        let source = ScriptedSource(sampleCloud())
        let logs = LogCapture()
        let logger = logs.logger()
        let metrics = AgentMetrics()
        let fixed = settings
        let daemon = try Daemon(settings: settings, logger: logger, metrics: metrics, reloadSettings: { fixed }) { s in
            (source, try Reconciler(kernel: kernel, settings: s, logger: logger, metrics: metrics))
        }
        let loop = Task { try await daemon.loop() }
        let config = EventStreamConfiguration(endpoint: endpoint, password: password, queue: queue,
                                              exchange: exchange, routingKey: "notifications.info", queueExpires: .seconds(120))
        let follower = EventFollower(daemon: daemon, logger: logger, metrics: metrics)
        let following = Task { await follower.run(EventStream(configuration: config)) }
        defer {
            following.cancel()
            daemon.stop()
        }
        #expect(try await eventually { daemon.eventsState == .connected && source.reads >= 2 }, "bound, and the full read after binding")
        let readsAfterBinding = source.reads

        // Noise first: an instance port, a .start event, a malformed body; then the change that matters.
        var c = sampleCloud()
        c.subnets.append(Subnet(id: "sub-b2", networkID: "net-b2", cidr: IPPrefix("10.2.0.0/24")!, projectID: "proj-b", createdAt: "2026-01-04T00:00:00Z"))
        c.ports.append(RouterPort(id: "p4", deviceID: "router-b", fixedIPs: [FixedIP(subnetID: "sub-b2", ipAddress: IPAddress("10.2.0.1")!)]))
        source.set(c)
        try await publish(oslo("port.update.end", payload: #"{"port": {"id": "vm1", "device_owner": "compute:nova", "device_id": "i-1", "fixed_ips": []}}"#))
        try await publish(oslo("router.update.start", payload: #"{"id": "router-b"}"#))
        try await publish(Array(#"{"oslo.version": "2.0", "oslo.message": "{cut"#.utf8))
        try await publish(oslo("router.interface.create", payload: #"{"router_interface": {"id": "router-b", "port_id": "p4", "subnet_id": "sub-b2", "subnet_ids": ["sub-b2"], "network_id": "net-b2", "project_id": "proj-b"}}"#))
        #expect(try await eventually { ownedRoutes(kernel).contains("10.2.0.0/24 via 203.0.113.11") })
        #expect(source.targeted.withLock { $0 }.contains(["router-b"]))
        #expect(source.reads == readsAfterBinding, "a notification costs a targeted re-read, never a full read")
        let text = metrics.exposition()
        #expect(text.contains(#"mra_events_received_total{event_type="port.update.end",outcome="ignored"} 1"#))
        #expect(text.contains(#"mra_events_received_total{event_type="other",outcome="ignored"} 1"#))
        #expect(text.contains(#"outcome="malformed"} 1"#))
        #expect(text.contains(#"mra_events_received_total{event_type="router.interface.create",outcome="handled"} 1"#))
        #expect(text.contains("mra_events_broker_connected 1"))
    }
}
