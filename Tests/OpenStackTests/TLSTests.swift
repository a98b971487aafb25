import Foundation
import Testing
import TestSupport
@testable import OpenStack

@Suite("TLS: verification on by default, custom CA, insecure", .timeLimit(.minutes(2)))
struct TLSTests {
    /// Runs one read against an HTTPS Neutron with a fresh self-signed certificate.
    func read(_ configure: (inout CloudConfig, TestCertificate) -> Void) async throws -> Result<Int, OpenStackError> {
        let cert = try await TestCertificate.generate()
        defer { cert.remove() }
        let neutron = NeutronStandIn(snapshot: NeutronStandIn.simpleCloud(routers: 2))
        let server = try await ScriptedHTTPServer.start(tls: try cert.serverContext()) { request in
            neutron.respond(to: request)
        }
        neutron.setLinkBase(server.baseURL)
        var config = CloudConfig(authType: .none)
        config.networkEndpointOverride = server.baseURL
        configure(&config, cert)
        let client = try NeutronClient(config: config, options: fastOptions, logger: CapturedLogs().logger)
        let result: Result<Int, OpenStackError>
        do {
            result = .success(try await client.readSnapshot().routers.count)
        } catch let e as OpenStackError {
            result = .failure(e)
        }
        try await client.shutdown()
        await server.shutdown()
        return result
    }

    @Test func anUntrustedCertificateIsRefusedWithoutRetrying() async throws {
        let result = try await read { _, _ in }
        guard case .failure(.transport(_, _, _, let detail, let attempts)) = result else {
            Issue.record("expected a TLS transport error, got \(result)")
            return
        }
        #expect(detail.contains("TLS"))
        #expect(detail.contains("OS_CACERT"))
        #expect(attempts == 1)
    }

    @Test func aCustomCAMakesTheServerTrusted() async throws {
        let result = try await read { config, cert in config.cacert = cert.certificatePath }
        #expect(try result.get() == 2)
    }

    @Test func insecureSkipsVerification() async throws {
        let result = try await read { config, _ in config.insecure = true }
        #expect(try result.get() == 2)
    }
}
