#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Model

/// What Neutron says now about a few routers: the routers that still exist, all their interface ports, and the
/// subnets those ports name that the caller did not already know.
public struct RoutersRead: Sendable, Hashable {
    /// The routers asked for that exist.
    public var routers: [Router]
    /// Every interface port (`RouterPort.interfaceOwners`) of those routers.
    public var ports: [RouterPort]
    /// The subnets the ports name, less those the caller said it knows.
    public var subnets: [Subnet]
    /// Routers asked for that Neutron no longer lists (deleted).
    public var gone: Set<String>
    /// Requests this read took.
    public var requests: Int

    public init(routers: [Router] = [], ports: [RouterPort] = [], subnets: [Subnet] = [], gone: Set<String> = [], requests: Int = 0) {
        self.routers = routers
        self.ports = ports
        self.subnets = subnets
        self.gone = gone
        self.requests = requests
    }

    /// The same read, answered from a whole snapshot (a snapshot file, or a test), with no request.
    public static func extract(_ ids: Set<String>, from snapshot: CloudSnapshot, knownSubnets: (String) -> Bool) -> RoutersRead {
        var read = RoutersRead()
        for r in snapshot.routers where ids.contains(r.id) { read.routers.append(r) }
        read.gone = ids.subtracting(read.routers.map(\.id))
        let present = Set(read.routers.map(\.id))
        read.ports = snapshot.ports.filter { present.contains($0.deviceID) && RouterPort.interfaceOwners.contains($0.deviceOwner) }
        let named = Set(read.ports.flatMap { $0.fixedIPs.map(\.subnetID) }).filter { !knownSubnets($0) }
        read.subnets = snapshot.subnets.filter { named.contains($0.id) }
        return read
    }
}

extension NeutronClient {
    /// A targeted re-read of `ids` (a notification said they changed): `GET /routers?id=…`, then their interface
    /// ports by `device_id`, then the subnets those ports name that `knownSubnets` does not know (subnets' CIDRs
    /// and creation times never change) — three requests for up to `idsPerRequest` routers, whatever the cloud's
    /// size. The payloads of notifications are never trusted for state (API workers publish out of order): this
    /// is what Neutron says now.
    ///
    /// - Throws: `OpenStackError` when a request or decoding fails, `InconsistentReadError` when the answers
    ///   contradict each other (a duplicate router, a port naming a subnet Neutron does not list): the caller then
    ///   does a full read, which mends or fails as a whole.
    public func readRouters(_ ids: Set<String>, knownSubnets: @Sendable (String) -> Bool) async throws -> RoutersRead {
        guard !ids.isEmpty else { return RoutersRead() }
        let before = statistics.requests
        let auth = try await currentAuth()
        let sorted = ids.sorted()
        var read = RoutersRead()
        var seen = Set<String>()
        for batch in Self.batches(sorted) {
            for r in try await list(NeutronWire.routers, NeutronPageDecoder.routerKind, filters: batch.map { ("id", $0) }, auth: auth).items
            where ids.contains(r.id) {
                guard seen.insert(r.id).inserted else { throw InconsistentReadError(detail: "duplicate IDs in one read: router \(r.id)") }
                read.routers.append(r)
            }
        }
        read.gone = ids.subtracting(seen)
        let present = read.routers.map(\.id).sorted()
        var portIDs = Set<String>()
        for batch in Self.batches(present) {
            let wanted = Set(batch)
            for p in try await list(NeutronWire.ports, NeutronPageDecoder.portKind, filters: batch.map { ("device_id", $0) }, auth: auth).items
            where wanted.contains(p.deviceID) && RouterPort.interfaceOwners.contains(p.deviceOwner) {
                if !p.id.isEmpty, !portIDs.insert(p.id).inserted { throw InconsistentReadError(detail: "duplicate IDs in one read: port \(p.id)") }
                read.ports.append(p)
            }
        }
        let named = Set(read.ports.flatMap { $0.fixedIPs.map(\.subnetID) }).filter { !knownSubnets($0) }.sorted()
        var found = Set<String>()
        for batch in Self.batches(named) {
            let wanted = Set(batch)
            for s in try await list(NeutronWire.subnets, NeutronPageDecoder.subnetKind, filters: batch.map { ("id", $0) }, auth: auth).items
            where wanted.contains(s.id) && found.insert(s.id).inserted {
                read.subnets.append(s)
            }
        }
        if found.count < named.count {
            let missing = named.filter { !found.contains($0) }
            throw InconsistentReadError(detail: "interface ports name \(missing.count) subnet(s) Neutron did not list (\(missing.prefix(3).joined(separator: ", ")))")
        }
        read.requests = statistics.requests - before
        return read
    }
}
