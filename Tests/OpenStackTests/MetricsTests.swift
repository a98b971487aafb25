import Foundation
import Metrics
import MetricsTestKit
import Testing
import TestSupport
@testable import OpenStack

/// swift-metrics can be bootstrapped once per process; every test that looks at metrics shares this.
let testMetrics: TestMetrics = {
    let m = TestMetrics()
    MetricsSystem.bootstrap(m)
    return m
}()

@Suite("Metrics", .timeLimit(.minutes(2)))
struct MetricsTests {
    @Test func everyNeutronAttemptIsCountedByStatus() async throws {
        let metrics = testMetrics
        try await withCloud { cloud, client in
            // 507 is used by no other test, so its counter belongs to this one.
            await cloud.state.setOverride { request, _ in request.path == "/v2.0/networks" ? .json("{}", status: 507) : nil }
            await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            let failed = metrics.counters(label: "mra_neutron_requests_total", dimensions: [("status", "507")]).map(\.totalValue).reduce(0, +)
            #expect(failed == Int64(fastOptions.maxRetries + 1))
            #expect(client.statistics.requestsByStatus["507"] == fastOptions.maxRetries + 1)
            let ok = metrics.counters(label: "mra_neutron_requests_total", dimensions: [("status", "200")]).map(\.totalValue).reduce(0, +)
            #expect(ok >= 1)
            let keystone = metrics.counters(label: "mra_keystone_requests_total", dimensions: [("status", "201")]).map(\.totalValue).reduce(0, +)
            #expect(keystone >= 1)
        }
    }
}
