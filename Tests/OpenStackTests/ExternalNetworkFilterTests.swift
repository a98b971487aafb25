import Foundation
import Model
import Testing
import TestSupport
@testable import OpenStack

/// Only the external networks are listed (`router:external=True`, issue 14's measurement: all networks
/// cost thousands of objects per read), checked again on the client; address-scope mode lists all.
@Suite struct ExternalNetworkFilterTests {
    static let mixed = #"{"networks": [{"id": "e1", "name": "public", "router:external": true}, {"id": "t1", "name": "tenant", "router:external": false}]}"#

    @Test func networksAreListedWithTheExternalFilterAndCheckedAgain() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOverride { request, _ in
                guard request.path == "/v2.0/networks" else { return nil }
                // A Neutron that ignored the filter: the client drops the tenant network itself.
                return request.queryValues("router:external") == ["True"] ? .json(Self.mixed) : .json(#"{"networks": []}"#)
            }
            // The answer leaves out the cloud's own gateway network on purpose: no consistency re-read.
            let s = try await client.readSnapshot(consistent: false)
            #expect(s.networks.map(\.id) == ["e1"])
        }
    }

    @Test func theStandInAnswersTheFilterWithTheExternalNetworkOnly() async throws {
        try await withCloud(neutron: NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 5))) { _, client in
            let s = try await client.readSnapshot()
            #expect(s.networks.count == 1)
            #expect(s.networks.allSatisfy { $0.isExternal })
        }
    }

    @Test func addressScopeModeListsEveryNetworkWithoutTheFilter() async throws {
        var options = fastOptions
        options.externalNetworksOnly = false
        try await withCloud(options: options) { cloud, client in
            await cloud.state.setOverride { request, _ in
                guard request.path == "/v2.0/networks" else { return nil }
                return request.queryValues("router:external").isEmpty ? .json(Self.mixed) : .json(#"{"networks": []}"#)
            }
            let s = try await client.readSnapshot(consistent: false)
            #expect(s.networks.map(\.id) == ["e1", "t1"])
        }
    }
}
