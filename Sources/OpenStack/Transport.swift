import AsyncHTTPClient
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL

/// Which API a request goes to (for metrics, logs and error text).
enum Service: String, Sendable {
    case neutron = "Neutron"
    case keystone = "Keystone"

    var counterLabel: String {
        switch self {
        case .neutron: return "mra_neutron_requests_total"
        case .keystone: return "mra_keystone_requests_total"
        }
    }
}

/// A complete HTTP answer.
struct Exchange: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer
    var attempts: Int
    /// The body's `BodyDigest`, taken as its bytes arrived.
    var digest: BodyDigest = BodyDigest()
}

/// A keyed hash of a response body (SipHash-1-3 through `Hasher`, whose key is random per process, so
/// a tenant cannot craft two pages with the same digest) plus its length, fed chunk by chunk as the
/// body arrives: the same bytes give the same digest however the network split them.
struct BodyDigest: Sendable, Hashable {
    var length: Int = 0
    var hash: Int = 0
}

struct RequestTimedOut: Error, CustomStringConvertible {
    var after: Duration
    var description: String { "no complete response within \(after)" }
}

/// One `HTTPClient` (keep-alive pool) plus timeouts, retries with backoff, metrics, logs and statistics.
final class Transport: Sendable {
    let client: HTTPClient
    let options: ClientOptions
    let logger: Logger
    let stats = NIOLockedValueBox(ClientStatistics())
    private let shutDown = NIOLockedValueBox(false)

    init(config: CloudConfig, options: ClientOptions, logger: Logger) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if config.insecure {
            tls.certificateVerification = .none
        } else if let ca = config.cacert {
            tls.trustRoots = .file(ca)
        }
        var conf = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,   // never carry a token to wherever a redirect points
            timeout: .init(connect: Self.timeAmount(options.connectTimeout), read: Self.timeAmount(options.requestTimeout)),
            decompression: .disabled
        )
        conf.connectionPool = .init(idleTimeout: .seconds(60))
        // A refused or timed-out connection fails the attempt at once; this client's own retries
        // (bounded, with jittered backoff) decide what happens next, not the pool's endless ones.
        conf.connectionPool.retryConnectionEstablishment = false
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: conf)
        self.options = options
        self.logger = logger
    }

    /// Closes the connection pool; a second call does nothing.
    func shutdown() async throws {
        let first = shutDown.withLockedValue { done in
            defer { done = true }
            return !done
        }
        if first { try await client.shutdown() }
    }

    deinit {
        // Dropped without shutdown(): close the pool in the background rather than leak it
        // (AsyncHTTPClient traps on a client that is deinitialised while running, in debug builds).
        if !shutDown.withLockedValue({ $0 }) {
            client.shutdown { _ in }
        }
    }

    /// `d` in NIO's nanoseconds, saturating instead of trapping (Int64 nanoseconds end after 292 years).
    static func timeAmount(_ d: Duration) -> TimeAmount {
        let (s, atto) = d.components
        let limit = Int64.max / 1_000_000_000 - 1
        if s >= limit { return .nanoseconds(Int64.max) }
        if s <= -limit { return .nanoseconds(Int64.min) }
        return .nanoseconds(s * 1_000_000_000 + atto / 1_000_000_000)
    }

    /// Sends a request, retrying connection errors, timeouts, 5xx and 429 with backoff.
    ///
    /// Returns the last answer, whatever its status (the caller decides what a status means);
    /// throws `OpenStackError.transport` when no answer came after all attempts.
    func send(_ service: Service, method: HTTPMethod, url: String, headers: HTTPHeaders, body: [UInt8]? = nil,
              logPath: String) async throws -> Exchange {
        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            let start = ContinuousClock.now
            do {
                let (status, respHeaders, respBody, digest) = try await once(method: method, url: url, headers: headers, body: body)
                let elapsed = ContinuousClock.now - start
                record(service, status: String(status), bytes: respBody.readableBytes)
                logger.debug("\(service.rawValue) request", metadata: [
                    "method": "\(method.rawValue)", "path": "\(logPath)", "status": "\(status)",
                    "duration_ms": "\(Self.milliseconds(elapsed))", "attempt": "\(attempt)", "bytes": "\(respBody.readableBytes)",
                ])
                if status >= 500 || status == 429, attempt <= options.maxRetries {
                    let retryAfter = (status == 429 || status == 503) ? Self.retryAfter(respHeaders) : nil
                    let delay = retryAfter.map { min($0, options.retryAfterCap) } ?? backoff(attempt: attempt)
                    stats.withLockedValue { $0.retries += 1 }
                    logger.debug("\(service.rawValue) retry", metadata: ["path": "\(logPath)", "status": "\(status)", "delay_ms": "\(Self.milliseconds(delay))"])
                    try await Task.sleep(for: delay)
                    continue
                }
                return Exchange(status: status, headers: respHeaders, body: respBody, attempts: attempt, digest: digest)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                let elapsed = ContinuousClock.now - start
                record(service, status: "error", bytes: 0)
                let detail = Self.describe(error)
                logger.debug("\(service.rawValue) request failed", metadata: [
                    "method": "\(method.rawValue)", "path": "\(logPath)", "error": "\(detail)",
                    "duration_ms": "\(Self.milliseconds(elapsed))", "attempt": "\(attempt)",
                ])
                if Self.isRetryable(error), attempt <= options.maxRetries {
                    stats.withLockedValue { $0.retries += 1 }
                    try await Task.sleep(for: backoff(attempt: attempt))
                    continue
                }
                let path = logPath.split(separator: "?", maxSplits: 1).first.map(String.init) ?? logPath
                throw OpenStackError.transport(service: service.rawValue, method: method.rawValue, path: path, detail: detail, attempts: attempt)
            }
        }
    }

    private func once(method: HTTPMethod, url: String, headers: HTTPHeaders, body: [UInt8]?) async throws -> (Int, HTTPHeaders, ByteBuffer, BodyDigest) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let timeout = options.requestTimeout
        let maxBytes = options.maxResponseBytes
        let client = self.client
        let req = request
        return try await withThrowingTaskGroup(of: (Int, HTTPHeaders, ByteBuffer, BodyDigest).self) { group in
            group.addTask {
                let response = try await client.execute(req, deadline: .now() + Self.timeAmount(timeout))
                let (collected, digest) = try await Self.collect(response, upTo: maxBytes)
                return (Int(response.status.code), response.headers, collected, digest)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw RequestTimedOut(after: timeout)
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw RequestTimedOut(after: timeout) }
            return first
        }
    }

    /// The body, hashed as its chunks arrive, in one buffer sized from `Content-Length` (no doubling
    /// reallocations; a single-chunk body is kept as it came).
    static func collect(_ response: HTTPClientResponse, upTo maxBytes: Int) async throws -> (ByteBuffer, BodyDigest) {
        let declared = response.headers.first(name: "Content-Length").flatMap { Int($0) }
        if let declared, declared > maxBytes { throw NIOTooManyBytesError(maxBytes: maxBytes) }
        var hasher = Hasher()
        var collected: ByteBuffer?
        var length = 0
        for try await chunk in response.body {
            length += chunk.readableBytes
            guard length <= maxBytes else { throw NIOTooManyBytesError(maxBytes: maxBytes) }
            chunk.withUnsafeReadableBytes { hasher.combine(bytes: $0) }
            if collected == nil, declared == nil || declared == chunk.readableBytes {
                collected = chunk
            } else {
                if collected == nil {
                    collected = ByteBuffer()
                    collected!.reserveCapacity(max(declared ?? 0, chunk.readableBytes))
                } else if collected!.writableBytes < chunk.readableBytes, let declared, declared >= length {
                    collected!.reserveCapacity(declared)
                }
                collected!.writeImmutableBuffer(chunk)
            }
        }
        return (collected ?? ByteBuffer(), BodyDigest(length: length, hash: hasher.finalize()))
    }

    private func record(_ service: Service, status: String, bytes: Int) {
        Counter(label: service.counterLabel, dimensions: [("status", status)]).increment()
        stats.withLockedValue { s in
            s.bytesRead += bytes
            switch service {
            case .neutron:
                s.requests += 1
                s.requestsByStatus[status, default: 0] += 1
            case .keystone:
                s.keystoneRequests += 1
            }
        }
    }

    /// Full jitter: uniform in [0, min(cap, base·2^(attempt-1))].
    func backoff(attempt: Int) -> Duration {
        let base = Double(Self.timeAmount(options.backoffBase).nanoseconds)
        let cap = Double(Self.timeAmount(options.backoffCap).nanoseconds)
        let ceiling = min(cap, base * pow(2, Double(max(0, attempt - 1))))
        guard ceiling > 0 else { return .zero }
        return .nanoseconds(Int64(Double.random(in: 0...ceiling)))
    }

    /// `Retry-After` in seconds (the HTTP-date form is ignored; backoff is used then).
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let v = headers.first(name: "Retry-After")?.trimmingWhitespace, let s = Double(v), s >= 0, s.isFinite else {
            return nil
        }
        return .milliseconds(Int64(s * 1000))
    }

    static func isRetryable(_ error: any Error) -> Bool {
        if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError { return false }
        if error is NIOTooManyBytesError { return false }
        if let e = error as? HTTPClientError {
            let fatal: [HTTPClientError] = [.invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown, .cancelled]
            return !fatal.contains(where: { $0 == e }) && !String(describing: e).contains("unsupportedScheme")
        }
        return true
    }

    static func describe(_ error: any Error) -> String {
        if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError {
            return "TLS failed (\(String(describing: error).prefix(160))); check cacert/OS_CACERT or the server certificate"
        }
        if error is NIOTooManyBytesError {
            return "the response is larger than ClientOptions.maxResponseBytes"
        }
        if let e = error as? HTTPClientError, e == .connectTimeout {
            return "connect timed out"
        }
        if let e = error as? HTTPClientError, e == .remoteConnectionClosed {
            return "the server closed the connection without an answer"
        }
        if let e = error as? IOError {
            // NIO's own text for a refused connection reads "connection reset (error set): Connection refused)".
            let words = String(cString: strerror(e.errnoCode))
            return "\(words.prefix(1).lowercased() + words.dropFirst()) (errno \(e.errnoCode))"
        }
        if let e = error as? HTTPClientError, e == .deadlineExceeded || e == .readTimeout {
            return "no complete response in time"
        }
        return String(String(describing: error).prefix(200))
    }

    static func milliseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1000 + atto / 1_000_000_000_000_000
    }
}
