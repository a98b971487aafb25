// What the page decoder and the reference types use from NeutronClient.swift (which needs NIO and so is
// not part of the fuzz build): the coding key and the list page of the JSONDecoder path.
import Foundation

let listCollectionKey = CodingUserInfoKey(rawValue: "mra.collection")!

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

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
