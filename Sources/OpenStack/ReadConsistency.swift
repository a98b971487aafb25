#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Model

/// The four lists of one read are taken at slightly different moments, so on a busy cloud they can
/// disagree: a port of a router created after the router list was read, a subnet deleted between the
/// port list and the subnet list. `ReadConsistency` finds those gaps, has the missing objects read
/// again by ID, and either mends the snapshot or declares the read failed.
///
/// Rules (`examine` is pure; `NeutronClient.makeConsistent` does the re-reads):
/// - duplicate IDs (routers, subnets, networks, ports with an ID) are never explained: failed read;
/// - an interface port naming an unlisted router, a fixed IP naming an unlisted subnet, a gateway on an
///   unlisted network: re-read by ID; what exists joins the snapshot, what Neutron says is gone (absent
///   from an `id=` list and 404 on a GET by ID) drops the references to it;
/// - whatever is still missing after that is a failed read.
public struct ReadConsistency: Sendable, Hashable {
    public var missingRouters: Set<String> = []
    public var missingSubnets: Set<String> = []
    public var missingNetworks: Set<String> = []
    public var duplicates: [String] = []

    public var isConsistent: Bool { missingRouters.isEmpty && missingSubnets.isEmpty && missingNetworks.isEmpty && duplicates.isEmpty }

    /// What is missing or duplicated in `snapshot`.
    public static func examine(_ snapshot: CloudSnapshot) -> ReadConsistency {
        var r = ReadConsistency()
        // One set per kind, built once: it finds the duplicates and answers the lookups below.
        func ids<Item>(_ items: [Item], _ id: (Item) -> String, _ kind: String) -> Set<String> {
            var seen = Set<String>(minimumCapacity: items.count)
            var reported = Set<String>()
            for item in items {
                let v = id(item)
                if !seen.insert(v).inserted, !v.isEmpty, reported.insert(v).inserted { r.duplicates.append("\(kind) \(v)") }
            }
            return seen
        }
        let routers = ids(snapshot.routers, \.id, "router")
        let subnets = ids(snapshot.subnets, \.id, "subnet")
        let networks = ids(snapshot.networks, \.id, "network")
        _ = ids(snapshot.ports, \.id, "port")
        let owners = RouterPort.interfaceOwners
        for p in snapshot.ports where owners.contains(p.deviceOwner) {
            if !routers.contains(p.deviceID) { r.missingRouters.insert(p.deviceID) }
            for ip in p.fixedIPs where !subnets.contains(ip.subnetID) { r.missingSubnets.insert(ip.subnetID) }
        }
        for router in snapshot.routers {
            for g in router.gateways {
                if !networks.contains(g.networkID) { r.missingNetworks.insert(g.networkID) }
                for ip in g.fixedIPs where !subnets.contains(ip.subnetID) { r.missingSubnets.insert(ip.subnetID) }
            }
        }
        return r
    }

    /// One line naming the inconsistency (at most a few IDs of each kind).
    public var summary: String {
        func some(_ s: Set<String>) -> String {
            let sorted = s.sorted()
            return sorted.prefix(3).joined(separator: ", ") + (sorted.count > 3 ? " and \(sorted.count - 3) more" : "")
        }
        var parts: [String] = []
        if !duplicates.isEmpty {
            parts.append("duplicate IDs in one read: " + duplicates.prefix(3).joined(separator: ", ") + (duplicates.count > 3 ? " and \(duplicates.count - 3) more" : ""))
        }
        if !missingRouters.isEmpty { parts.append("interface ports name \(missingRouters.count) router(s) Neutron did not list (\(some(missingRouters)))") }
        if !missingSubnets.isEmpty { parts.append("\(missingSubnets.count) referenced subnet(s) missing (\(some(missingSubnets)))") }
        if !missingNetworks.isEmpty { parts.append("\(missingNetworks.count) gateway network(s) missing (\(some(missingNetworks)))") }
        return parts.joined(separator: "; ")
    }

    /// The snapshot without references to objects Neutron says are gone: ports of gone routers,
    /// fixed IPs on gone subnets, gateways on gone networks.
    public static func dropping(routers goneRouters: Set<String>, subnets goneSubnets: Set<String>, networks goneNetworks: Set<String>,
                                from snapshot: CloudSnapshot) -> CloudSnapshot {
        var s = snapshot
        s.ports = s.ports.compactMap { p in
            if goneRouters.contains(p.deviceID) { return nil }
            var q = p
            q.fixedIPs.removeAll { goneSubnets.contains($0.subnetID) }
            // A port left without addresses contributes nothing; keep it only if it had none to begin with.
            return q.fixedIPs.isEmpty && !p.fixedIPs.isEmpty ? nil : q
        }
        s.routers = s.routers.map { r in
            var router = r
            router.gateways = r.gateways.compactMap { g in
                if goneNetworks.contains(g.networkID) { return nil }
                var gw = g
                gw.fixedIPs.removeAll { goneSubnets.contains($0.subnetID) }
                return gw
            }
            return router
        }
        return s
    }
}

/// A read whose parts contradict each other even after the missing objects were read again.
public struct InconsistentReadError: Error, Sendable, CustomStringConvertible, Equatable {
    public let detail: String
    public init(detail: String) { self.detail = detail }
    public var description: String {
        "Neutron's answers contradict each other: \(detail); treated as a failed read (routes stay as they are); if it persists, check Neutron's database and API workers"
    }
}

extension NeutronClient {
    /// Up to this many IDs per `id=` filtered list request.
    static let idsPerRequest = 50

    /// `ids` in runs of at most `idsPerRequest` (one filtered list request each).
    static func batches(_ ids: [String]) -> [ArraySlice<String>] {
        stride(from: 0, to: ids.count, by: idsPerRequest).map { ids[$0..<min($0 + idsPerRequest, ids.count)] }
    }

    /// Mends `snapshot` by re-reading what its parts name but do not contain, or throws
    /// `InconsistentReadError`. Two rounds: a router that joins can name subnets not read yet.
    /// `reread`: whether objects had to be read again by ID.
    func makeConsistent(_ snapshot: CloudSnapshot, auth: AuthState) async throws -> (snapshot: CloudSnapshot, reread: Bool) {
        var s = snapshot
        for round in 1...3 {
            let check = ReadConsistency.examine(s)
            if !check.duplicates.isEmpty { throw InconsistentReadError(detail: check.summary) }
            if check.isConsistent { return (s, round > 1) }
            guard round < 3 else { break }
            logger.notice("Neutron read has gaps; reading the missing objects by ID", metadata: ["gaps": "\(check.summary)"])
            let routers = try await fetch(ids: check.missingRouters, NeutronWire.routers, NeutronPageDecoder.routerKind,
                                          single: WireRouter.self, model: \.model, id: \.id, auth: auth)
            let subnets = try await fetch(ids: check.missingSubnets, NeutronWire.subnets, NeutronPageDecoder.subnetKind,
                                          single: WireSubnet.self, model: \.model, id: \.id, auth: auth)
            let networks = try await fetch(ids: check.missingNetworks, NeutronWire.networks, NeutronPageDecoder.networkKind,
                                           single: WireNetwork.self, model: \.model, id: \.id, auth: auth)
            s.routers += routers.found
            s.subnets += subnets.found
            s.networks += networks.found
            s = ReadConsistency.dropping(routers: routers.gone, subnets: subnets.gone, networks: networks.gone, from: s)
            if !(routers.gone.isEmpty && subnets.gone.isEmpty && networks.gone.isEmpty) {
                logger.info("objects deleted during the read; their references are dropped", metadata: [
                    "routers": "\(routers.gone.sorted())", "subnets": "\(subnets.gone.sorted())", "networks": "\(networks.gone.sorted())",
                ])
            }
        }
        throw InconsistentReadError(detail: ReadConsistency.examine(s).summary)
    }

    /// Objects by ID: `id=` filtered lists of up to `idsPerRequest` IDs; the first `idsPerRequest` IDs still
    /// missing are asked for alone, where 404 means gone. Beyond that, absence from an `id=` list Neutron
    /// answered counts as gone too (so an empty router list costs at most 50 single GETs per kind, not one
    /// per router; the deletion brake guards what follows).
    func fetch<Item: Sendable, Wire: Decodable & Sendable>(
        ids: Set<String>, _ resource: NeutronWire.Resource, _ kind: NeutronPageDecoder.Kind<Item>,
        single: Wire.Type, model: (Wire) -> Item, id: KeyPath<Item, String>, auth: AuthState
    ) async throws -> (found: [Item], gone: Set<String>) {
        guard !ids.isEmpty else { return ([], []) }
        let sorted = ids.sorted()
        var found: [String: Item] = [:]
        for batch in Self.batches(sorted) {
            let items = try await list(resource, kind, filters: batch.map { ("id", $0) }, auth: auth).items
            let wanted = Set(batch)
            for item in items where wanted.contains(item[keyPath: id]) { found[item[keyPath: id]] = item }
        }
        var gone = Set<String>()
        for (n, missing) in sorted.filter({ found[$0] == nil }).enumerated() {
            guard n < Self.idsPerRequest else {
                gone.insert(missing)
                continue
            }
            if let item = try await getOne(resource, id: missing, type: single, auth: auth) {
                found[missing] = model(item)
            } else {
                gone.insert(missing)
            }
        }
        return (sorted.compactMap { found[$0] }, gone)
    }

    /// An ID as one path segment: everything but RFC 3986's unreserved characters is percent-encoded, so no
    /// `/`, `?` or `#` in a hostile ID can change the request's path.
    static func percentEncodePathSegment(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let h = String(b, radix: 16, uppercase: true)
                out += "%" + (h.count < 2 ? "0" : "") + h
            }
        }
        return out
    }

    /// `GET /v2.0/<collection>/<id>`: the object, or nil on 404.
    func getOne<Item: Decodable & Sendable>(_ resource: NeutronWire.Resource, id: String, type: Item.Type,
                                            auth: AuthState) async throws -> Item? {
        let collection = resource.collection, singular = resource.member, fields = resource.requestedFields
        let escaped = Self.percentEncodePathSegment(id)
        do {
            let (body, _) = try await get(collection: collection + "/" + escaped, query: Self.encodeQuery(fields.map { ("fields", $0) }), auth: auth)
            let decoder = JSONDecoder()
            decoder.userInfo[listCollectionKey] = singular
            return try decoder.decode(SingleObject<Item>.self, from: Data(body.body.readableBytesView)).item
        } catch OpenStackError.httpStatus(_, _, _, 404, _, _) {
            return nil
        } catch let e as DecodingError {
            throw OpenStackError.invalidResponse(service: "Neutron", path: "/v2.0/\(collection)/\(id.prefix(64))",
                                                 detail: describeDecodingError(e, contentType: nil, bytes: 0))
        }
    }

    /// The project of the token (nil without Keystone or with a domain-scoped token).
    public func credentialProjectID() async throws -> String? {
        try await currentAuth().projectID
    }
}

/// `{"<singular>": {...}}`
struct SingleObject<Item: Decodable>: Decodable {
    var item: Item
    init(from decoder: any Decoder) throws {
        let name = decoder.userInfo[listCollectionKey] as? String ?? ""
        let c = try decoder.container(keyedBy: AnyKey.self)
        item = try c.decode(Item.self, forKey: AnyKey(name))
    }
}
