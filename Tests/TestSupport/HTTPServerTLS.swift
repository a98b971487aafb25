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
    public static func generate() throws -> TestCertificate {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mra-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let cert = dir + "/cert.pem", key = dir + "/key.pem"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestCertificateError.opensslFailed(p.terminationStatus) }
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
