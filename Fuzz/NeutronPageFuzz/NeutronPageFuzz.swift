// libFuzzer entry for the streaming Neutron page decoder. Built by scripts/fuzz-neutron.sh together with
// Sources/OpenStack/{StreamingJSON,NeutronPageDecoder,NeutronWire}.swift and Sources/Model, as one module.
//
// Every input is decoded as each of the four collections, by the streaming decoder and by Foundation's
// JSONDecoder through the reference types (WireRouter…): any trap is a finding, and so is any input the
// two judge differently (one accepts, the other refuses, or they accept with different values).
import Foundation

func reference<Wire: Decodable, Item>(_ bytes: [UInt8], _ collection: String, _: Wire.Type, _ model: (Wire) -> Item) -> ([Item], String?)? {
    let decoder = JSONDecoder()
    decoder.userInfo[listCollectionKey] = collection
    guard let page = try? decoder.decode(ListPage<Wire>.self, from: Data(bytes)) else { return nil }
    return (page.items.map(model), page.next)
}

func streaming<Item>(_ bytes: [UInt8], _ decode: (UnsafeRawBufferPointer) throws -> NeutronPageDecoder.Page<Item>) -> ([Item], String?)? {
    guard let page = try? bytes.withUnsafeBytes({ try decode($0) }) else { return nil }
    return (page.items, page.next)
}

func same<Item: Equatable>(_ a: ([Item], String?)?, _ b: ([Item], String?)?, _ what: String, _ bytes: [UInt8]) {
    switch (a, b) {
    case (nil, nil): return
    case let (x?, y?) where x.0 == y.0 && x.1 == y.1: return
    default:
        fatalError("\(what): JSONDecoder \(a == nil ? "refused" : "accepted"), the streaming decoder \(b == nil ? "refused" : "accepted")"
                   + (a != nil && b != nil ? " with other values" : "") + ": \(String(decoding: bytes.prefix(300), as: UTF8.self))")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func neutronPageFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    same(reference(bytes, "routers", WireRouter.self, \.model), streaming(bytes, NeutronPageDecoder.routers), "routers", bytes)
    same(reference(bytes, "ports", WirePort.self, \.model), streaming(bytes, NeutronPageDecoder.ports), "ports", bytes)
    same(reference(bytes, "subnets", WireSubnet.self, \.model), streaming(bytes, NeutronPageDecoder.subnets), "subnets", bytes)
    same(reference(bytes, "networks", WireNetwork.self, \.model), streaming(bytes, NeutronPageDecoder.networks), "networks", bytes)
    return 0
}
