import Events
import Foundation
import Logging
import Model
import OpenStack
import Synchronization
import Testing
@testable import Agent

/// The daemon following notifications, on a test clock: targeted re-reads, coalescing, the storm limit, the
/// full reads of the safety net, polling while the broker is away, and the read-load floor. Every wait is for
/// the loop or for a sleeper on the test clock, never for wall time.
@Suite struct DaemonEventTests {
    struct Rig {
        let kernel: InMemoryKernel
        let source: ScriptedSource
        let daemon: Daemon
        let follower: EventFollower
        let logs: LogCapture
        let metrics: AgentMetrics
        let clock: TestClock
    }

    /// DaemonTests' rig (interval 10 s, resync interval 300 s), with a notification follower on the same clock.
    func rig(_ configure: (inout Settings) -> Void = { _ in }) throws -> Rig {
        let r = try DaemonTests().rig(configure)
        let follower = EventFollower(daemon: r.daemon, logger: r.daemon.logger, metrics: r.metrics, clock: r.clock)
        return Rig(kernel: r.kernel, source: r.source, daemon: r.daemon, follower: follower, logs: r.logs, metrics: r.metrics, clock: r.clock)
    }

    /// router-b gets a second interface, on 10.2.0.0/24.
    func withNewInterface(_ s: CloudSnapshot) -> CloudSnapshot {
        var c = s
        c.subnets.append(Subnet(id: "sub-b2", networkID: "net-b2", cidr: IPPrefix("10.2.0.0/24")!, projectID: "proj-b", createdAt: "2026-01-04T00:00:00Z"))
        c.ports.append(RouterPort(id: "p4", deviceID: "router-b", fixedIPs: [FixedIP(subnetID: "sub-b2", ipAddress: IPAddress("10.2.0.1")!)]))
        return c
    }

    /// An oslo messagingv2 body of `router.interface.create` for `router`.
    func interfaceCreated(_ router: String, timestamp: String = "2027-01-15 08:00:00.000000") -> [UInt8] {
        let inner = #"{"message_id": "m1", "publisher_id": "network.ctl", "event_type": "router.interface.create", "priority": "INFO", "payload": {"router_interface": {"id": "\#(router)", "port_id": "p4", "subnet_id": "sub-b2", "subnet_ids": ["sub-b2"], "network_id": "net-b2", "project_id": "proj-b"}}, "timestamp": "\#(timestamp)"}"#
        let escaped = inner.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return Array(#"{"oslo.version": "2.0", "oslo.message": "\#(escaped)"}"#.utf8)
    }

    /// Lets the coalescing window that `post` opens pass, and waits for the loop's `cycle`-th cycle.
    func coalesce(_ r: Rig, until cycle: Int, _ post: () -> Void) async {
        let start = r.clock.now
        post()
        await r.clock.sleeping(until: start + Daemon.coalesceTime)
        r.clock.advance(to: start + Daemon.coalesceTime)
        await r.daemon.waitForCycles(cycle)
    }

    /// Starts the loop, lets the first full read finish, and says the broker is bound.
    func startConnected(_ r: Rig) async -> Task<Void, any Error> {
        let task = Task { try await r.daemon.loop() }
        await r.daemon.waitForCycles(1)
        r.daemon.eventsStateChanged(.connecting)   // what EventFollower.run says first
        r.follower.handle(.connected(queue: "q", broker: "amqp://mra@127.0.0.1:5672/"))
        return task
    }

    @Test func aNotificationReReadsOnlyTheChangedRouterAndReachesTheKernelWithoutAFullRead() async throws {
        let r = try rig()
        let task = await startConnected(r)
        await r.daemon.waitForCycles(2)   // the full read once the binding exists
        #expect(r.source.reads == 2)
        #expect(r.metrics.exposition().contains(#"mra_full_reads_total{reason="binding"} 1"#))
        r.source.set(withNewInterface(sampleCloud()))
        let dumpsBefore = r.kernel.dumps
        await coalesce(r, until: 3) { r.follower.handle(interfaceCreated("router-b"), peeked: "router.interface.create") }
        #expect(ownedRoutes(r.kernel).contains("10.2.0.0/24 via 203.0.113.11"))
        #expect(r.source.reads == 2, "no full read for a notification")
        #expect(r.logs.contains("delta applied"), "planned by the incremental planner, not a whole plan")
        #expect(r.kernel.dumps == dumpsBefore, "a delta trusts the planner's kernel state: no dump")
        #expect(r.source.targeted.withLock { $0 } == [["router-b"]])
        #expect(r.metrics.exposition().contains(#"mra_events_received_total{event_type="router.interface.create",outcome="handled"} 1"#))
        #expect(r.logs.contains("trigger=notification"))
        r.daemon.stop()
        try await task.value
    }

    @Test func notificationsWithinTheCoalescingWindowShareOneReRead() async throws {
        let r = try rig()
        let task = await startConnected(r)
        await r.daemon.waitForCycles(2)
        let start = r.clock.now
        r.daemon.routersChanged(["router-a"])
        await r.clock.sleeping(until: start + Daemon.coalesceTime)
        r.daemon.routersChanged(["router-b"])
        r.daemon.routersChanged(["router-a"])
        r.clock.advance(to: start + Daemon.coalesceTime)
        await r.daemon.waitForCycles(3)
        #expect(r.source.targeted.withLock { $0 } == [["router-a", "router-b"]])
        r.daemon.stop()
        try await task.value
    }

    @Test func aStormOfChangedRoutersIsOneFullReadInstead() async throws {
        let r = try rig()
        let task = await startConnected(r)
        await r.daemon.waitForCycles(2)
        await coalesce(r, until: 4) { r.daemon.routersChanged(Set((0...Daemon.stormThreshold).map { "router-\($0)" })) }
        #expect(r.source.targeted.withLock { $0 }.isEmpty)
        #expect(r.source.reads == 3)
        #expect(r.metrics.exposition().contains(#"mra_full_reads_total{reason="storm"} 1"#))
        r.daemon.stop()
        try await task.value
    }

    @Test func whileNotificationsFlowTheFullReadComesOnlyEveryResyncInterval() async throws {
        let r = try rig()
        let task = await startConnected(r)
        await r.daemon.waitForCycles(2)
        let bound = r.clock.now
        // Not at the 10 s interval: the safety net is 300 s.
        await r.clock.sleeping(until: bound + .seconds(300))
        #expect(r.clock.deadlines.contains(bound + .seconds(300)))
        #expect(!r.clock.deadlines.contains(bound + .seconds(10)))
        r.clock.advance(to: bound + .seconds(300))
        await r.daemon.waitForCycles(3)
        #expect(r.source.reads == 3)
        #expect(r.metrics.exposition().contains(#"mra_full_reads_total{reason="safety_net"} 1"#))
        #expect(r.metrics.exposition().contains("mra_events_broker_connected 1"))
        r.daemon.stop()
        try await task.value
    }

    @Test func whenTheBrokerGoesAwayTheDaemonPollsAndReadsEverythingWhenItAnswersAgain() async throws {
        let r = try rig()
        let task = await startConnected(r)
        await r.daemon.waitForCycles(2)
        let bound = r.clock.now
        r.follower.handle(.disconnected(.connectionLost("test"), retryIn: .seconds(1)))
        await r.daemon.waitForCycles(3)   // rescheduled
        #expect(r.metrics.exposition().contains("mra_events_broker_connected 0"))
        #expect(r.logs.contains("broker unreachable; polling Neutron meanwhile"))
        #expect(r.daemon.readiness().1.contains("broker unreachable, polling Neutron every 10 s"))
        await r.clock.sleeping(until: bound + .seconds(10))
        r.clock.advance(to: bound + .seconds(10))
        await r.daemon.waitForCycles(4)
        #expect(r.metrics.exposition().contains(#"mra_full_reads_total{reason="poll"} 1"#))
        // A second failure report in the same outage is not another warning.
        r.follower.handle(.disconnected(.connectionLost("test"), retryIn: .seconds(2)))
        #expect(r.logs.all.filter { $0.contains("broker unreachable") && $0.contains("warning") }.count == 1)
        r.follower.handle(.connected(queue: "q", broker: "b"))
        await r.daemon.waitForCycles(5)
        #expect(r.metrics.exposition().contains(#"mra_full_reads_total{reason="reconnect"} 1"#))
        #expect(r.metrics.exposition().contains("mra_events_broker_connected 1"))
        r.daemon.stop()
        try await task.value
    }

    @Test func aSlowNeutronStretchesTheIntervalToTenTimesTheReadDuration() async throws {
        let r = try rig()
        r.source.delay.withLock { $0 = .seconds(3) }
        let task = Task { try await r.daemon.loop() }
        await r.clock.sleeping(until: .seconds(3))
        r.clock.advance(to: .seconds(3))
        await r.daemon.waitForCycles(1)
        // The read took 3 s: the next one starts no sooner than 30 s after the first began, not at 3 + 10 s.
        await r.clock.sleeping(until: .seconds(30))
        #expect(!r.clock.deadlines.contains(.seconds(13)))
        #expect(r.logs.contains("Neutron reads are slow; the next full read waits"))
        r.daemon.stop()
        try await task.value
    }

    @Test func aScheduledReadOfAnUnchangedNeutronSkipsThePlanUnlessSomethingWasPlannedSince() async throws {
        let r = try rig()
        r.daemon.kernelEventsWatched.store(true, ordering: .relaxed)
        let task = Task { try await r.daemon.loop() }
        await r.daemon.waitForCycles(1)
        _ = try await r.source.readIfChanged()   // what the start read saw (the scripted source has no memory of read())
        let dumps = r.kernel.dumps
        await r.clock.sleeping(until: .seconds(10))
        r.clock.advance(to: .seconds(10))
        await r.daemon.waitForCycles(2)
        #expect(r.source.unchangedReads.withLock { $0 } == 1)
        #expect(r.kernel.dumps == dumps, "nothing planned: no kernel dump")
        #expect(r.metrics.exposition().contains(#"mra_reconciles_total{result="unchanged"} 1"#))
        #expect(r.daemon.readiness().0)
        // A notification's delta since: the next scheduled read plans in full even though Neutron did not change.
        await coalesce(r, until: 3) { r.daemon.routersChanged(["router-a"]) }
        await r.clock.sleeping(until: .seconds(20))
        r.clock.advance(to: .seconds(20))
        await r.daemon.waitForCycles(4)
        #expect(r.kernel.dumps == dumps + 1)
        #expect(r.metrics.exposition().contains(#"mra_reconciles_total{result="unchanged"} 1"#))
        r.daemon.stop()
        try await task.value
    }

    @Test func aBindingReadDeferredByTheReadLoadFloorKeepsItsReason() async throws {
        let r = try rig()
        r.source.delay.withLock { $0 = .seconds(3) }
        let task = Task { try await r.daemon.loop() }
        await r.clock.sleeping(until: .seconds(3))
        r.clock.advance(to: .seconds(3))
        await r.daemon.waitForCycles(1)
        r.daemon.eventsStateChanged(.connecting)
        r.follower.handle(.connected(queue: "q", broker: "b"))
        await r.daemon.waitForCycles(2)   // deferred: the first read began at 0 and took 3 s
        await r.clock.sleeping(until: .seconds(30))
        r.clock.advance(to: .seconds(30))
        await r.clock.sleeping(until: .seconds(33))
        r.clock.advance(to: .seconds(33))
        await r.daemon.waitForCycles(3)
        #expect(r.metrics.exposition().contains(#"mra_full_reads_total{reason="binding"} 1"#))
        #expect(!r.metrics.exposition().contains(#"reason="safety_net""#))
        r.daemon.stop()
        try await task.value
    }

    @Test func aSafetyNetReadCountsChangesNoNotificationAnnounced() async throws {
        let r = try rig()
        let task = await startConnected(r)
        await r.daemon.waitForCycles(2)
        let bound = r.clock.now
        r.source.set(withNewInterface(sampleCloud()))   // changed in Neutron, never announced
        await r.clock.sleeping(until: bound + .seconds(300))
        r.clock.advance(to: bound + .seconds(300))
        await r.daemon.waitForCycles(3)
        #expect(ownedRoutes(r.kernel).contains("10.2.0.0/24 via 203.0.113.11"))
        #expect(r.metrics.exposition().contains("mra_events_unannounced_changes_total 1"))
        #expect(r.logs.contains("found router changes that no notification announced"))
        r.daemon.stop()
        try await task.value
    }

    @Test func aChangedGatewayOnAnUnknownNetworkIsAFullRead() async throws {
        let r = try rig()
        let task = await startConnected(r)
        await r.daemon.waitForCycles(2)
        var c = sampleCloud()
        c.networks.append(Network(id: "ext2", name: "public2", isExternal: true))
        c.subnets.append(Subnet(id: "ext2-v4", networkID: "ext2", cidr: IPPrefix("198.51.100.0/25")!))
        c.routers[1].gateways = [ExternalGateway(networkID: "ext2", fixedIPs: [FixedIP(subnetID: "ext2-v4", ipAddress: IPAddress("198.51.100.20")!)])]
        r.source.set(c)
        await coalesce(r, until: 4) { r.daemon.routersChanged(["router-b"]) }
        #expect(r.metrics.exposition().contains(#"mra_full_reads_total{reason="new_external_network"} 1"#))
        #expect(r.source.reads == 3)
        r.daemon.stop()
        try await task.value
    }

    @Test func aFailedReReadKeepsTheKernelAndFallsBackToAFullReadAfterTheBackoff() async throws {
        let r = try rig()
        let task = await startConnected(r)
        await r.daemon.waitForCycles(2)
        let installed = r.kernel.current
        r.source.fail("connection refused")
        await coalesce(r, until: 3) { r.daemon.routersChanged(["router-a"]) }
        #expect(r.kernel.current == installed)
        #expect(r.metrics.exposition().contains(#"mra_targeted_reads_total{result="failed"} 1"#))
        #expect(r.logs.contains("re-reading changed routers failed; a full read follows"))
        r.daemon.stop()
        try await task.value
    }

    @Test func eventsThatCannotMatterCostNoDecodeAndMalformedOnesAreCountedAndDropped() throws {
        let r = try rig()
        // Not JSON at all, but its peeked type is not handled: never decoded, so no malformed count.
        r.follower.handle(Array("garbage".utf8), peeked: "floatingip.update.end")
        r.follower.handle(Array(#"{"oslo.version": "2.0", "oslo.message": "{not json"}"#.utf8), peeked: "port.update.end", messageID: "m9")
        let text = r.metrics.exposition()
        #expect(text.contains(#"mra_events_received_total{event_type="other",outcome="ignored"} 1"#))
        #expect(text.contains(#"mra_events_received_total{event_type="port.update.end",outcome="malformed"} 1"#))
        #expect(r.logs.contains("dropped a malformed notification"))
        #expect(!r.logs.contains("{not json"), "the payload is never logged")
    }

    @Test func theLagIsNowMinusTheNotificationsTimestamp() throws {
        let r = try rig()
        // The test clock's wall time is 1,800,000,000 s (2027-01-15 08:00:00 UTC); the message is 3 s older.
        r.follower.handle(interfaceCreated("router-b", timestamp: "2027-01-15 07:59:57.000000"), peeked: "router.interface.create")
        let text = r.metrics.exposition()
        #expect(text.contains(#"mra_events_lag_seconds_bucket{le="2.0"} 0"#) || text.contains(#"mra_events_lag_seconds_bucket{le="2"} 0"#), "\(text)")
        #expect(text.contains(#"mra_events_lag_seconds_bucket{le="5.0"} 1"#) || text.contains(#"mra_events_lag_seconds_bucket{le="5"} 1"#), "\(text)")
    }
}
