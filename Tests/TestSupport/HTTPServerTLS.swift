import Foundation
import NIOSSL

/// A self-signed certificate for 127.0.0.1 made with the `openssl` command, in a temporary
/// directory, for serving HTTPS from `ScriptedHTTPServer` (`tls:`) in tests.
public struct TestCertificate: Sendable {
    public let directory: String
    /// PEM certificate (also usable as the CA file a client trusts).
    public let certificatePath: String
    public let privateKeyPath: String

    /// Creates a fresh key and certificate (CN and subjectAltName 127.0.0.1, valid one day).
    /// Waits for `openssl` without blocking a thread of the concurrency pool.
    public static func generate() async throws -> TestCertificate {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mra-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let cert = dir + "/cert.pem", key = dir + "/key.pem"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            p.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
            do { try p.run() } catch { continuation.resume(throwing: error) }
        }
        guard status == 0 else { throw TestCertificateError.opensslFailed(status) }
        return TestCertificate(directory: dir, certificatePath: cert, privateKeyPath: key)
    }

    /// The server-side TLS context for this certificate.
    public func serverContext() throws -> NIOSSLContext {
        let config = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(file: certificatePath, format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)))
        return try NIOSSLContext(configuration: config)
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

public enum TestCertificateError: Error {
    case opensslFailed(Int32)
}
