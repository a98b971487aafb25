#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Model
import OpenStack

/// Where a reconcile reads Neutron's state: the API, or a snapshot file.
public protocol SnapshotSource: Sendable {
    /// A complete snapshot, or an error; never a partial one.
    func read() async throws -> CloudSnapshot
    /// A one-line description for logs and `check` (no secrets).
    var label: String { get }
    /// Releases connections (the API client); the source is not used afterwards.
    func close() async
    /// The project the credential is scoped to, for the scope check (nil: unknown or no Keystone).
    func credentialProject() async -> String?
    /// A targeted re-read of a few routers (a notification said they changed): the routers, their interface
    /// ports, and the subnets those name that `knownSubnets` does not know. Throws like `read`.
    func readRouters(_ ids: Set<String>, knownSubnets: @escaping @Sendable (String) -> Bool) async throws -> RoutersRead
    /// Like `read`, but nil when Neutron's answer is byte-identical to this source's previous read (then
    /// nothing changed, and decode and plan can be skipped).
    func readIfChanged() async throws -> CloudSnapshot?
}

extension SnapshotSource {
    public func close() async {}
    public func credentialProject() async -> String? { nil }
    /// Sources that cannot read less read everything and pick the routers out.
    public func readRouters(_ ids: Set<String>, knownSubnets: @escaping @Sendable (String) -> Bool) async throws -> RoutersRead {
        RoutersRead.extract(ids, from: try await read(), knownSubnets: knownSubnets)
    }
    public func readIfChanged() async throws -> CloudSnapshot? { try await read() }
}

/// Neutron's REST API through Keystone.
public struct NeutronAPISource: SnapshotSource {
    public let client: NeutronClient
    public let label: String

    public init(client: NeutronClient, label: String) {
        self.client = client
        self.label = label
    }

    public func read() async throws -> CloudSnapshot { try await client.readSnapshot() }

    public func readIfChanged() async throws -> CloudSnapshot? { try await client.readSnapshotIfChanged() }

    public func readRouters(_ ids: Set<String>, knownSubnets: @escaping @Sendable (String) -> Bool) async throws -> RoutersRead {
        try await client.readRouters(ids, knownSubnets: knownSubnets)
    }

    public func close() async { try? await client.shutdown() }

    public func credentialProject() async -> String? { try? await client.credentialProjectID() }
}

/// A snapshot file (`--snapshot FILE`): read anew on every reconcile, so editing it is like changing Neutron.
public struct SnapshotFileSource: SnapshotSource {
    public let path: String
    public var label: String { "snapshot file \(path)" }

    public init(path: String) { self.path = path }

    public func read() async throws -> CloudSnapshot {
        do {
            return try SnapshotFile.load(from: path)
        } catch let e as DecodingError {
            throw SourceError("snapshot file \(path) is not a valid snapshot: \(describe(e))")
        } catch {
            throw SourceError("cannot read snapshot file \(path): \(fileErrorText(error, path: path))")
        }
    }
}

/// Bounds a whole read (every request, retry and backoff of it): a Neutron that accepts connections but
/// never answers cannot hold a `sync` or a daemon cycle for minutes. On expiry the read is cancelled and
/// fails like any other read, so the kernel stays as it is.
public struct DeadlineSource: SnapshotSource {
    public let inner: any SnapshotSource
    public let timeout: Duration
    public let clock: any AgentClock
    public var label: String { inner.label }

    public init(_ inner: any SnapshotSource, timeout: Duration, clock: any AgentClock = SystemClock()) {
        self.inner = inner
        self.timeout = timeout
        self.clock = clock
    }

    public func read() async throws -> CloudSnapshot {
        let inner = self.inner
        return try await bounded { try await inner.read() }
    }

    public func readRouters(_ ids: Set<String>, knownSubnets: @escaping @Sendable (String) -> Bool) async throws -> RoutersRead {
        let inner = self.inner
        return try await bounded { try await inner.readRouters(ids, knownSubnets: knownSubnets) }
    }

    public func readIfChanged() async throws -> CloudSnapshot? {
        let inner = self.inner
        return try await bounded { try await inner.readIfChanged() }
    }

    /// Runs `work` within the read timeout.
    private func bounded<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = self.timeout, clock = self.clock
        let deadline = clock.now + timeout
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await clock.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw SourceError("no complete read of Neutron within \(humanDuration(timeout)) (read-timeout); the read was abandoned")
            }
            return value
        }
    }

    public func close() async { await inner.close() }

    public func credentialProject() async -> String? { await inner.credentialProject() }
}

/// A read of Neutron's state failed.
public struct SourceError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A decoding error as one line: the path to the bad field and what was wrong.
func describe(_ error: DecodingError) -> String {
    func path(_ c: DecodingError.Context) -> String {
        let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return p.isEmpty ? "top level" : String(p.drop(while: { $0 == "." }))
    }
    // Foundation's sentences end in a full stop; these messages go on ("…; nothing was changed").
    func words(_ c: DecodingError.Context) -> String {
        c.debugDescription.hasSuffix(".") ? String(c.debugDescription.dropLast()) : c.debugDescription
    }
    switch error {
    case .keyNotFound(let key, let c): return "missing key '\(key.stringValue)' at \(path(c))"
    case .typeMismatch(_, let c): return "wrong type at \(path(c)): \(words(c))"
    case .valueNotFound(_, let c): return "null value at \(path(c))"
    case .dataCorrupted(let c) where c.codingPath.isEmpty && words(c) == "The given data was not valid JSON":
        // The decoder says no more, whether the file is empty, cut short, or holds a number too large for its field.
        return "not valid JSON (empty, cut short, not JSON at all, or a number too large for its field)"
    case .dataCorrupted(let c): return "\(words(c)) at \(path(c))"
    @unknown default: return "\(error)"
    }
}
