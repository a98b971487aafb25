#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Model

/// Reads a snapshot file (`--snapshot FILE`): Model's snapshot format (`CloudSnapshot`'s JSON), in
/// which a router may also be written in Neutron's own shape — `external_gateway_info` and
/// `external_gateways` instead of `gateways` — so that routers copied from Neutron's API are a
/// snapshot too. Such a router's gateways are folded as `NeutronClient` folds them
/// (`NeutronWire.foldGateways`); a router with a `gateways` key is read as the snapshot format says.
///
/// ```swift
/// let snapshot = try SnapshotFile.load(from: "examples/demo-snapshot.json")
/// ```
public enum SnapshotFile {
    /// Reads and decodes the file.
    /// - Throws: the file system's error, or `DecodingError` when the content is not a snapshot.
    public static func load(from path: String) throws -> CloudSnapshot {
        try decode(Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Decodes a snapshot file's content.
    public static func decode(_ data: Data) throws -> CloudSnapshot {
        let decoder = JSONDecoder()
        var snapshot = try decoder.decode(CloudSnapshot.self, from: data)
        // A file without Neutron's gateway keys (the usual case) is read once.
        guard contains(data, "external_gateway") else { return snapshot }
        let shapes = try decoder.decode(RouterShapes.self, from: data)
        for (i, router) in shapes.routers.enumerated() where i < snapshot.routers.count {
            if let gateways = router.neutronGateways { snapshot.routers[i].gateways = gateways }
        }
        return snapshot
    }
}

/// Whether `needle` occurs in `data` (FoundationEssentials' `Data` has no `range(of:)`).
private func contains(_ data: Data, _ needle: String) -> Bool {
    let n = Array(needle.utf8)
    guard let first = n.first, data.count >= n.count else { return false }
    return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Bool in
        let bytes = raw.bindMemory(to: UInt8.self)
        var i = 0
        while i + n.count <= bytes.count {
            if bytes[i] == first, bytes[i..<i + n.count].elementsEqual(n) { return true }
            i += 1
        }
        return false
    }
}

/// The routers of a snapshot file, read only for their gateways in Neutron's shape.
private struct RouterShapes: Decodable {
    var routers: [NeutronShapedGateways]
}

private struct NeutronShapedGateways: Decodable {
    /// nil when the router is in the snapshot format (it has `gateways`).
    var neutronGateways: [ExternalGateway]?

    init(from decoder: any Decoder) throws {
        guard try !decoder.container(keyedBy: AnyKey.self).contains(AnyKey("gateways")) else { return }
        let read = try WireReader(NeutronWire.routers.shape, decoder)
        let info: WireGateway? = try read("external_gateway_info")
        let list: [WireGateway] = try read("external_gateways") ?? []
        neutronGateways = NeutronWire.foldGateways(info: info?.model, list: list.map(\.model))
    }
}
