#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The envelope of a Neutron list page for Foundation's JSONDecoder: `{"<collection>": [...], "<collection>_links": …}`.
// The JSONDecoder path is the reference the streaming page decoder is checked
// against (NeutronPageDifferentialTests, scripts/fuzz-neutron.sh, which compiles this file as it is).

let listCollectionKey = CodingUserInfoKey(rawValue: "mra.collection")!

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

/// `{"<collection>": [...], "<collection>_links": [{"rel": "next", "href": ...}]}`
struct ListPage<Item: Decodable>: Decodable {
    var items: [Item]
    var next: String?

    struct Link: Decodable {
        let rel: String
        let href: String
    }

    init(from decoder: any Decoder) throws {
        let name = decoder.userInfo[listCollectionKey] as? String ?? ""
        let c = try decoder.container(keyedBy: AnyKey.self)
        items = try c.decode([Item].self, forKey: AnyKey(name))
        let links = try c.decodeIfPresent([Link].self, forKey: AnyKey(name + "_links")) ?? []
        next = links.first(where: { $0.rel == "next" })?.href
    }
}
