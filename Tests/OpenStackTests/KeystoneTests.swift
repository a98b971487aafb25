import Foundation
import Testing
import TestSupport
@testable import OpenStack

/// The JSON of the n-th token request the fake Keystone received.
func identityBody(_ cloud: FakeCloud, _ index: Int = 0) async throws -> [String: Any] {
    let bodies = await cloud.state.identityBodies
    let text = try #require(bodies.count > index ? bodies[index] : nil)
    let obj = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    return try #require(obj?["auth"] as? [String: Any])
}

@Suite("Keystone v3 authentication and the catalog", .timeLimit(.minutes(2)))
struct KeystoneTests {
    @Test(arguments: [AuthType.password, .v3password])
    func passwordByNameSendsUserDomainAndProjectScope(type: AuthType) async throws {
        try await withCloud(auth: type) { cloud, client in
            _ = try await client.readSnapshot()
            let auth = try await identityBody(cloud)
            let identity = try #require(auth["identity"] as? [String: Any])
            #expect(identity["methods"] as? [String] == ["password"])
            let user = try #require((identity["password"] as? [String: Any])?["user"] as? [String: Any])
            #expect(user["name"] as? String == "admin")
            #expect((user["domain"] as? [String: Any])?["id"] as? String == "default")
            #expect(user["password"] as? String == FakeCloud.password)
            let project = try #require((auth["scope"] as? [String: Any])?["project"] as? [String: Any])
            #expect(project["name"] as? String == "admin")
            #expect((project["domain"] as? [String: Any])?["id"] as? String == "default")
        }
    }

    @Test func passwordByUserIDNeedsNoDomain() async throws {
        try await withCloud(configure: { c in
            c.username = nil; c.userDomainID = nil; c.userID = "d7d8724d890549a4912d42c06de24d2a"
        }) { cloud, client in
            _ = try await client.readSnapshot()
            let auth = try await identityBody(cloud)
            let user = try #require(((auth["identity"] as? [String: Any])?["password"] as? [String: Any])?["user"] as? [String: Any])
            #expect(user["id"] as? String == "d7d8724d890549a4912d42c06de24d2a")
            #expect(user["domain"] == nil)
        }
    }

    @Test func applicationCredentialByIDIsUnscoped() async throws {
        try await withCloud(auth: .v3applicationcredential) { cloud, client in
            let snapshot = try await client.readSnapshot()
            #expect(snapshot.routers.count == 3)
            let auth = try await identityBody(cloud)
            let identity = try #require(auth["identity"] as? [String: Any])
            #expect(identity["methods"] as? [String] == ["application_credential"])
            let ac = try #require(identity["application_credential"] as? [String: Any])
            #expect(ac["id"] as? String == "70fe8fa6217348cba62db7f3b7c0bd29")
            #expect(ac["secret"] as? String == FakeCloud.password)
            #expect(auth["scope"] == nil)
        }
    }

    @Test func applicationCredentialByNameNamesItsUser() async throws {
        try await withCloud(auth: .v3applicationcredential, configure: { c in
            c.applicationCredentialID = nil; c.applicationCredentialName = "route-agent"
            c.username = "admin"; c.userDomainName = "Default"
        }) { cloud, client in
            _ = try await client.readSnapshot()
            let ac = try #require(((try await identityBody(cloud))["identity"] as? [String: Any])?["application_credential"] as? [String: Any])
            #expect(ac["name"] as? String == "route-agent")
            let user = try #require(ac["user"] as? [String: Any])
            #expect(user["name"] as? String == "admin")
            #expect((user["domain"] as? [String: Any])?["name"] as? String == "Default")
        }
    }

    @Test(arguments: [AuthType.token, .v3token])
    func tokenAuthExchangesTheTokenForAProjectScopedOne(type: AuthType) async throws {
        try await withCloud(auth: type) { cloud, client in
            _ = try await client.readSnapshot()
            let auth = try await identityBody(cloud)
            let identity = try #require(auth["identity"] as? [String: Any])
            #expect(identity["methods"] as? [String] == ["token"])
            #expect((identity["token"] as? [String: Any])?["id"] as? String == FakeCloud.userToken)
            #expect(((auth["scope"] as? [String: Any])?["project"] as? [String: Any])?["id"] as? String == "379a66975a3840c1b37225a1d5195700")
            // Neutron got the issued token, not the user's token.
            let neutronTokens = Set(await cloud.server.requests().filter { $0.path.contains("/v2.0/") }.compactMap { $0.header("X-Auth-Token") })
            #expect(neutronTokens.count == 1 && !neutronTokens.contains(FakeCloud.userToken))
        }
    }

    @Test func domainScopeWithoutProject() async throws {
        try await withCloud(configure: { c in
            c.projectName = nil; c.projectDomainID = nil; c.domainName = "Default"
        }) { cloud, client in
            _ = try await client.readSnapshot()
            let scope = try #require((try await identityBody(cloud))["scope"] as? [String: Any])
            #expect((scope["domain"] as? [String: Any])?["name"] as? String == "Default")
        }
    }

    @Test func authTypeNoneSendsNoTokenAndAsksNoKeystone() async throws {
        let server = try await NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 2)).start()
        defer { Task { await server.shutdown() } }
        var config = CloudConfig(authType: .none)
        config.networkEndpointOverride = server.baseURL
        let client = try NeutronClient(config: config, options: fastOptions, logger: CapturedLogs().logger)
        let snapshot = try await client.readSnapshot()
        try await client.shutdown()
        let requests = await server.requests()
        #expect(snapshot.routers.count == 2)
        #expect(requests.count == 4)
        #expect(requests.allSatisfy { $0.header("X-Auth-Token") == nil && $0.path.hasPrefix("/v2.0/") })
        #expect(client.statistics.keystoneRequests == 0)
    }

    @Test(arguments: [("public", "RegionOne"), ("internal", "RegionOne"), ("admin", "RegionOne"), ("internal", "RegionTwo")])
    func theCatalogEndpointFollowsRegionAndInterface(interface: String, region: String) async throws {
        try await withCloud(configure: { c in c.interface = interface; c.regionName = region }) { cloud, client in
            await cloud.state.setCatalogPrefix("/net")
            await cloud.state.setExtraEndpoints(["public", "internal", "admin"].map { iface in
                ["id": "r2-\(iface)", "interface": iface, "region_id": "RegionTwo", "region": "RegionTwo", "url": "{base}/net2/\(iface)/v2.0/"]
            })
            _ = try await client.readSnapshot()
            let prefix = region == "RegionOne" ? "/net/\(interface)/v2.0/" : "/net2/\(interface)/v2.0/"
            let neutron = await cloud.server.requests().filter { !$0.path.hasPrefix("/identity") }
            #expect(neutron.count == 4)
            #expect(neutron.allSatisfy { $0.path.hasPrefix(prefix) })
        }
    }

    @Test func anUnknownRegionIsAnErrorListingWhatTheCatalogHas() async throws {
        try await withCloud(configure: { c in c.regionName = "Atlantis" }) { _, client in
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            #expect(error?.description.contains("Atlantis") == true)
            #expect(error?.description.contains("RegionOne/public") == true)
        }
    }

    @Test func aCatalogWithoutNetworkServiceIsAnError() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setOmitNetworkService(true)
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            #expect(error?.description.contains("network_endpoint_override") == true)
        }
    }

    @Test func networkEndpointOverrideBeatsTheCatalog() async throws {
        try await withCloud(configure: { c in c.networkEndpointOverride = nil }) { cloud, _ in
            var config = cloud.config(.password)
            config.networkEndpointOverride = cloud.server.baseURL + "/override/"
            await cloud.state.setCatalogPrefix("/net")
            let client = try NeutronClient(config: config, options: fastOptions, logger: CapturedLogs().logger)
            _ = try await client.readSnapshot()
            try await client.shutdown()
            let neutron = await cloud.server.requests().filter { !$0.path.hasPrefix("/identity") }
            #expect(neutron.count == 4 && neutron.allSatisfy { $0.path.hasPrefix("/override/v2.0/") })
        }
    }

    @Test func rejectedCredentialsAreAnAuthenticationErrorWithoutTheSecret() async throws {
        let logs = CapturedLogs()
        try await withCloud(logs: logs) { cloud, client in
            await cloud.state.setKeystoneStatus(401)
            let error = await #expect(throws: OpenStackError.self) { try await client.readSnapshot() }
            guard case .authentication(let status, _)? = error else {
                Issue.record("expected an authentication error, got \(String(describing: error))")
                return
            }
            #expect(status == 401)
            #expect(error?.description.contains("user admin") == true)
            #expect(error?.description.contains(FakeCloud.password) == false)
            #expect(!logs.text.contains(FakeCloud.password))
            #expect(client.statistics.keystoneRequests == 1)   // a 401 is not retried
        }
    }

    @Test func aTokenNearExpiryIsRenewedBeforeTheNextRead() async throws {
        try await withCloud { cloud, client in
            await cloud.state.setTokenLifetime(-60)     // already expired when issued
            _ = try await client.readSnapshot()
            _ = try await client.readSnapshot()
            #expect(client.statistics.keystoneRequests == 2)
            await cloud.state.setTokenLifetime(3600)
            _ = try await client.readSnapshot()
            _ = try await client.readSnapshot()
            #expect(client.statistics.keystoneRequests == 3)
            #expect(client.statistics.reauths == 0)
        }
    }

    @Test(arguments: [
        ("http://k:5000", "http://k:5000/v3/auth/tokens"),
        ("http://k:5000/", "http://k:5000/v3/auth/tokens"),
        ("http://k:5000/v3", "http://k:5000/v3/auth/tokens"),
        ("https://k/identity/v3/", "https://k/identity/v3/auth/tokens"),
    ])
    func theTokensURLIsFoundFromAnyAuthURLForm(authURL: String, expected: String) throws {
        #expect(try KeystoneAuthenticator.tokensURL(authURL) == expected)
    }

    @Test func keystoneTimestampsWithMicrosecondsParse() throws {
        let d = try #require(parseKeystoneDate("2026-11-25T00:17:31.000000Z"))
        #expect(d.timeIntervalSince1970 == 1_795_565_851)
    }

    @Test func checkAuthenticationSaysWhoAndWhereWithoutSecrets() async throws {
        try await withCloud { _, client in
            let text = try await client.checkAuthentication()
            #expect(text.contains("project 'admin'"))
            #expect(text.contains("/v2.0"))
            #expect(!text.contains(FakeCloud.password) && !text.contains("gAAAA"))
        }
    }
}
