import Foundation
import Logging
import Model
import OpenStack
import Testing

// Integration tests against a REAL Keystone 30 and neutron-server 29 (from PyPI) on 127.0.0.1.
//
// The lab is installed and started outside the test process by scripts/openstack-lab/:
//
//     scripts/openstack-lab/with-lab.sh swift test --filter RealCloudIntegrationTests
//
// which runs setup.sh (venv with keystone, neutron, gunicorn), start.sh (both servers on free
// loopback ports, SQLite, the `network` service in the catalog, an application credential, and a
// topology created through Neutron's API), sets MRA_LAB_ENV to the lab's env file, and stop.sh.
//
// Without MRA_LAB_ENV the tests are skipped on a developer machine and FAIL in CI (CI=true):
// CI must run them.

/// What scripts/openstack-lab/lab.py wrote: the lab's env file and its topology.json.
struct OpenStackLab: Sendable {
    /// Every `KEY='value'` of lab.env.
    var values: [String: String]
    var topology: LabTopology

    static let environment = ProcessInfo.processInfo.environment
    static var envFilePath: String? { environment["MRA_LAB_ENV"].flatMap { $0.isEmpty ? nil : $0 } }
    static var isCI: Bool { environment["CI"]?.lowercased() == "true" }
    /// Run when a lab is configured, and always in CI, where a missing lab then fails the test.
    static var shouldRun: Bool { envFilePath != nil || isCI }

    /// Reads the lab's env file and topology.json; throws when there is no lab (CI without MRA_LAB_ENV).
    static func load() throws -> OpenStackLab {
        guard let path = envFilePath else {
            throw LabUnavailable(message: "CI=true but MRA_LAB_ENV is not set: run the tests through scripts/openstack-lab/with-lab.sh so that a real Keystone and Neutron are started")
        }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            var value = String(line[line.index(after: eq)...])
            if value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") { value = String(value.dropFirst().dropLast()) }
            values[String(line[..<eq])] = value
        }
        let topologyPath = values["MRA_LAB_TOPOLOGY"] ?? (path as NSString).deletingLastPathComponent + "/topology.json"
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let topology = try decoder.decode(LabTopology.self, from: Data(contentsOf: URL(fileURLWithPath: topologyPath)))
        return OpenStackLab(values: values, topology: topology)
    }

    func value(_ key: String) throws -> String {
        try #require(values[key], "lab.env has no \(key)")
    }

    /// The `OS_*` variables of the lab (password authentication), nothing from the test process.
    var passwordEnvironment: [String: String] {
        values.filter { $0.key.hasPrefix("OS_") }
    }

    /// Application credential (ID + secret) instead of user and password.
    func applicationCredentialEnvironment() throws -> [String: String] {
        [
            "OS_AUTH_TYPE": "v3applicationcredential",
            "OS_AUTH_URL": try value("OS_AUTH_URL"),
            "OS_APPLICATION_CREDENTIAL_ID": try value("MRA_LAB_APPCRED_ID"),
            "OS_APPLICATION_CREDENTIAL_SECRET": try value("MRA_LAB_APPCRED_SECRET"),
            "OS_REGION_NAME": try value("OS_REGION_NAME"),
            "OS_INTERFACE": "public",
        ]
    }

    /// Pages one list request needs for `count` items when the server pages at `pageLimit` and the
    /// client asks for `clientPageSize`: a full page carries a `next` link (possibly to an empty page).
    func pages(forItems count: Int, clientPageSize: Int) -> Int {
        let serverLimit = topology.pageLimit > 0 ? topology.pageLimit : Int.max
        let perPage = min(serverLimit, clientPageSize)
        return count / perPage + 1
    }
}

struct LabUnavailable: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// topology.json (see create_topology in scripts/openstack-lab/lab.py).
struct LabTopology: Decodable, Sendable {
    struct ExternalNetwork: Decodable, Sendable { var id: String; var name: String; var subnetIds: [String] }
    struct Net: Decodable, Sendable { var id: String; var name: String; var projectId: String }
    struct LabSubnet: Decodable, Sendable {
        var id: String; var name: String; var networkId: String; var cidr: String
        var ipVersion: Int; var gatewayIp: String?; var projectId: String
    }
    struct LabRouter: Decodable, Sendable {
        var id: String; var name: String; var projectId: String
        var externalNetworkId: String?; var enableSnat: Bool?
        var gatewayIps: [String]; var interfacePortIds: [String]; var interfaceSubnetIds: [String]
    }
    struct LabFixedIP: Decodable, Sendable { var subnetId: String; var ipAddress: String }
    struct LabPort: Decodable, Sendable { var id: String; var deviceId: String; var deviceOwner: String; var fixedIps: [LabFixedIP] }
    struct Route: Decodable, Sendable {
        var routerId: String; var routerName: String; var subnetId: String; var destination: String; var via: String?
    }

    var externalNetwork: ExternalNetwork
    var networks: [Net]
    var subnets: [LabSubnet]
    var routers: [LabRouter]
    var ports: [LabPort]
    var expectedRoutes: [Route]
    var expectedRefused: [Route]
    var pageLimit: Int
}

@Suite(
    "Real Keystone 30 + neutron-server 29 (scripts/openstack-lab)",
    .enabled(if: OpenStackLab.shouldRun, "no lab: set MRA_LAB_ENV (scripts/openstack-lab/with-lab.sh runs the tests with a real Keystone and Neutron)"),
    .serialized
)
struct RealCloudIntegrationTests {
    let logger = Logger(label: "mra.test.real-cloud")

    /// Reads one snapshot with a fresh client; the client is shut down whatever happens.
    func read(_ config: CloudConfig, times: Int = 1, options: ClientOptions = .init())
        async throws -> (snapshots: [CloudSnapshot], statistics: ClientStatistics)
    {
        let client = try NeutronClient(config: config, options: options, logger: logger)
        do {
            var snapshots: [CloudSnapshot] = []
            for _ in 0..<times { snapshots.append(try await client.readSnapshot()) }
            let statistics = client.statistics
            try await client.shutdown()
            return (snapshots, statistics)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Everything the lab created is in the snapshot, with the addresses Neutron gave it.
    func expectTopology(_ snapshot: CloudSnapshot, _ topology: LabTopology) throws {
        let routers = Dictionary(snapshot.routers.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for expected in topology.routers {
            let router = try #require(routers[expected.id], "router \(expected.name) missing from the snapshot")
            #expect(router.name == expected.name)
            #expect(router.projectID == expected.projectId)
            #expect(router.adminStateUp)
            if let network = expected.externalNetworkId {
                let gateway = try #require(router.gateways.first, "router \(expected.name) lost its gateway")
                #expect(router.gateways.count == 1)
                #expect(gateway.networkID == network)
                #expect(gateway.enableSNAT == expected.enableSnat)
                #expect(Set(gateway.fixedIPs.map(\.ipAddress)) == Set(expected.gatewayIps.compactMap { IPAddress($0) }),
                        "gateway IPs of \(expected.name)")
                #expect(gateway.fixedIPs.allSatisfy { topology.externalNetwork.subnetIds.contains($0.subnetID) })
            } else {
                #expect(router.gateways.isEmpty, "router \(expected.name) has no gateway in Neutron")
            }
        }

        for expected in topology.ports {
            let port = try #require(snapshot.ports.first { $0.deviceID == expected.deviceId && Set($0.fixedIPs.map(\.subnetID)) == Set(expected.fixedIps.map(\.subnetId)) },
                                    "interface port \(expected.id) of router \(expected.deviceId) missing from the snapshot")
            #expect(port.deviceOwner == expected.deviceOwner)
            #expect(port.id == expected.id)
            #expect(Set(port.fixedIPs.map(\.ipAddress)) == Set(expected.fixedIps.compactMap { IPAddress($0.ipAddress) }))
        }
        #expect(snapshot.ports.allSatisfy { RouterPort.interfaceOwners.contains($0.deviceOwner) },
                "only router interface ports are read")

        let subnets = Dictionary(snapshot.subnets.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for expected in topology.subnets {
            let subnet = try #require(subnets[expected.id], "subnet \(expected.name) (\(expected.cidr)) missing from the snapshot")
            #expect(subnet.cidr == IPPrefix(expected.cidr), "cidr of \(expected.name)")
            #expect(subnet.networkID == expected.networkId)
            #expect(!subnet.createdAt.isEmpty, "created_at decides overlaps, it must be read")
        }

        let external = try #require(snapshot.networks.first { $0.id == topology.externalNetwork.id }, "external network missing")
        #expect(external.isExternal)
        #expect(external.name == topology.externalNetwork.name)

        // The routes an agent derives: subnet of an interface port → gateway IP of the same family.
        for route in topology.expectedRoutes + topology.expectedRefused {
            let router = try #require(routers[route.routerId])
            let destination = try #require(IPPrefix(route.destination))
            let via = try #require(route.via.flatMap { IPAddress($0) }, "route \(route.destination) has a next hop")
            #expect(router.gateways.flatMap(\.fixedIPs).contains { $0.ipAddress == via && $0.ipAddress.family == destination.family })
            #expect(snapshot.ports.contains { $0.deviceID == route.routerId && $0.fixedIPs.contains { $0.subnetID == route.subnetId } })
            #expect(subnets[route.subnetId]?.cidr == destination)
        }
    }

    /// Neutron requests of one read: the four lists (routers, interface ports, subnets, external
    /// networks), each as many pages as the server's page limit makes of it.
    func expectedRequests(_ snapshot: CloudSnapshot, _ lab: OpenStackLab, options: ClientOptions) -> Int {
        [snapshot.routers.count, snapshot.ports.count, snapshot.subnets.count, snapshot.networks.count]
            .map { lab.pages(forItems: $0, clientPageSize: options.pageSize) }
            .reduce(0, +)
    }

    @Test func passwordFromOSEnvironmentReadsTheWholeTopologyWithConstantRequests() async throws {
        let lab = try OpenStackLab.load()
        let config = try CloudConfig.resolve(cloud: nil, environment: lab.passwordEnvironment, searchPaths: [])
        #expect(config.authType == .password || config.authType == .v3password)

        let options = ClientOptions()
        let (snapshots, statistics) = try await read(config, times: 2, options: options)
        let snapshot = try #require(snapshots.first)
        try expectTopology(snapshot, lab.topology)
        #expect(snapshots[1] == snapshot, "a second read of an unchanged cloud gives the same snapshot")

        let perRead = expectedRequests(snapshot, lab, options: options)
        #expect(perRead >= 4)
        #expect(statistics.requests == 2 * perRead, "Neutron requests for two reads (page limit \(lab.topology.pageLimit))")
        #expect(statistics.keystoneRequests == 1, "the token is reused for the second read")
        #expect(statistics.tokensIssued == 1)
        #expect(statistics.retries == 0)
        #expect(statistics.reauths == 0)
        #expect(statistics.requestsByStatus["200"] == statistics.requests)
        print("real cloud: one read = \(perRead) Neutron requests (+1 Keystone token request for the first), "
              + "\(snapshot.routers.count) routers, \(snapshot.ports.count) ports, \(snapshot.subnets.count) subnets, "
              + "\(snapshot.networks.count) networks, Neutron page limit \(lab.topology.pageLimit)")
    }

    @Test func applicationCredentialReadsTheSameTopology() async throws {
        let lab = try OpenStackLab.load()
        let config = try CloudConfig.resolve(cloud: nil, environment: try lab.applicationCredentialEnvironment(), searchPaths: [])
        #expect(config.authType == .v3applicationcredential)

        let options = ClientOptions()
        let (snapshots, statistics) = try await read(config, options: options)
        let snapshot = try #require(snapshots.first)
        try expectTopology(snapshot, lab.topology)
        #expect(statistics.requests == expectedRequests(snapshot, lab, options: options))
        #expect(statistics.keystoneRequests == 1)
    }

    @Test func cloudsYAMLWithSecureYAMLReadsTheTopologyThroughTheInternalEndpoint() async throws {
        let lab = try OpenStackLab.load()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mra-lab-clouds-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: dir) }

        let clouds = """
        clouds:
          mra-lab:
            auth:
              auth_url: \(try lab.value("OS_AUTH_URL"))
              username: \(try lab.value("OS_USERNAME"))
              project_name: \(try lab.value("OS_PROJECT_NAME"))
              user_domain_name: \(try lab.value("OS_USER_DOMAIN_NAME"))
              project_domain_name: \(try lab.value("OS_PROJECT_DOMAIN_NAME"))
            region_name: \(try lab.value("OS_REGION_NAME"))
            interface: internal
            identity_api_version: 3
          mra-lab-appcred:
            auth_type: v3applicationcredential
            auth:
              auth_url: \(try lab.value("OS_AUTH_URL"))
              application_credential_name: \(try lab.value("MRA_LAB_APPCRED_NAME"))
              username: \(try lab.value("OS_USERNAME"))
              user_domain_name: \(try lab.value("OS_USER_DOMAIN_NAME"))
            region_name: \(try lab.value("OS_REGION_NAME"))

        """
        // Secrets in secure.yaml, merged over clouds.yaml; single-quoted YAML scalars.
        let secure = """
        clouds:
          mra-lab:
            auth:
              password: '\(try lab.value("OS_PASSWORD"))'
          mra-lab-appcred:
            auth:
              application_credential_secret: '\(try lab.value("MRA_LAB_APPCRED_SECRET"))'

        """
        try write(clouds, to: dir.appendingPathComponent("clouds.yaml"))
        try write(secure, to: dir.appendingPathComponent("secure.yaml"))

        // Process variables must not leak in: only HOME, and an OS_PASSWORD that would be wrong.
        let environment = ["HOME": dir.path, "OS_PASSWORD": "not-the-password"]
        for cloud in ["mra-lab", "mra-lab-appcred"] {
            let config = try CloudConfig.resolve(cloud: cloud, environment: environment, searchPaths: [dir.path])
            #expect(config.secretFilesReadableByOthers.isEmpty)
            let options = ClientOptions()
            let (snapshots, statistics) = try await read(config, options: options)
            let snapshot = try #require(snapshots.first)
            try expectTopology(snapshot, lab.topology)
            #expect(statistics.requests == expectedRequests(snapshot, lab, options: options), "requests of cloud \(cloud)")
        }
    }

    @Test func wrongPasswordFailsWithoutRevealingIt() async throws {
        let lab = try OpenStackLab.load()
        let wrong = "mra-wrong-\(UInt64.random(in: 0...UInt64.max))"
        var environment = lab.passwordEnvironment
        environment["OS_PASSWORD"] = wrong
        let config = try CloudConfig.resolve(cloud: nil, environment: environment, searchPaths: [])
        let client = try NeutronClient(config: config, options: ClientOptions(maxRetries: 0), logger: logger)
        let outcome: Result<CloudSnapshot, any Error>
        do {
            outcome = .success(try await client.readSnapshot())
        } catch {
            outcome = .failure(error)
        }
        try await client.shutdown()
        guard case .failure(let error) = outcome else {
            Issue.record("a wrong password must not give a snapshot")
            return
        }
        let text = "\(error) \(String(reflecting: error))"
        #expect(!text.contains(wrong), "the error text must not contain the password")
        #expect(!text.contains(try lab.value("OS_PASSWORD")))
        if case OpenStackError.authentication(let status, _) = error {
            #expect(status == 401)
        } else {
            Issue.record("expected an authentication error, got: \(error)")
        }
        #expect(client.statistics.requests == 0, "no Neutron request without a token")
    }

    private func write(_ text: String, to url: URL) throws {
        try Data(text.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }
}

/// Makes a CI run without the lab fail loudly instead of passing with nothing tested.
@Test(.enabled(if: OpenStackLab.isCI && OpenStackLab.envFilePath == nil))
func realCloudLabIsConfiguredInCI() {
    Issue.record("CI=true but MRA_LAB_ENV is not set: run `swift test` through scripts/openstack-lab/with-lab.sh so the real Keystone/Neutron integration tests run")
}
