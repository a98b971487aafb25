import Foundation
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
}

extension SnapshotSource {
    public func close() async {}
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

    public func close() async { try? await client.shutdown() }
}

/// A snapshot file (`--snapshot FILE`): read anew on every reconcile, so editing it is like changing Neutron.
public struct SnapshotFileSource: SnapshotSource {
    public let path: String
    public var label: String { "snapshot file \(path)" }

    public init(path: String) { self.path = path }

    public func read() async throws -> CloudSnapshot {
        do {
            return try CloudSnapshot.load(from: path)
        } catch let e as DecodingError {
            throw SourceError("snapshot file \(path) is not a valid snapshot: \(describe(e))")
        } catch {
            throw SourceError("cannot read snapshot file \(path): \(error.localizedDescription)")
        }
    }
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
    switch error {
    case .keyNotFound(let key, let c): return "missing key '\(key.stringValue)' at \(path(c))"
    case .typeMismatch(_, let c): return "wrong type at \(path(c)): \(c.debugDescription)"
    case .valueNotFound(_, let c): return "null value at \(path(c))"
    case .dataCorrupted(let c): return "\(c.debugDescription) at \(path(c))"
    @unknown default: return "\(error)"
    }
}
