#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Model

/// Decodes one Neutron list page (`{"<collection>": [...], "<collection>_links": [...]}`) straight
/// from its bytes into Model's values, one pass, no JSON tree: the field names, which fields are
/// required, and which may be null come from `NeutronWire`.
///
/// It is exactly as strict as the `JSONDecoder` path it replaced (`WireRouter`…, kept as the
/// reference of the differential tests): the same pages are accepted with the same values, the same
/// pages are refused with the same `DecodingError` (so the same message naming the field,
/// `routers[0].admin_state_up has the wrong type`). Like `JSONDecoder`, the first of duplicate keys
/// wins, a page whose structure is broken anywhere is "not JSON" before any field error, and
/// fields of one object fail in the order the reference reads them.
///
/// ```swift
/// let page = try body.withUnsafeReadableBytes { try NeutronPageDecoder.routers($0) }
/// page.items   // [Router]
/// page.next    // the `next` link's href, if any
/// ```
enum NeutronPageDecoder {
    struct Page<Item> {
        var items: [Item]
        var next: String?
    }

    /// One of the four collections: its table and how one item is read.
    struct Kind<Item>: Sendable {
        let resource: NeutronWire.Resource
        /// The reference type, which names the items in error messages (`[WireRouter]`).
        let listType: Any.Type
        let itemType: Any.Type
        let item: @Sendable (inout Reader) throws -> Item
    }

    static let routerKind = Kind<Router>(resource: NeutronWire.routers, listType: [WireRouter].self, itemType: [String: Any].self) { try $0.router() }
    static let portKind = Kind<RouterPort>(resource: NeutronWire.ports, listType: [WirePort].self, itemType: [String: Any].self) { try $0.port() }
    static let subnetKind = Kind<Subnet>(resource: NeutronWire.subnets, listType: [WireSubnet].self, itemType: [String: Any].self) { try $0.subnet() }
    static let networkKind = Kind<Network>(resource: NeutronWire.networks, listType: [WireNetwork].self, itemType: [String: Any].self) { try $0.network() }

    static func routers(_ bytes: UnsafeRawBufferPointer) throws -> Page<Router> { try page(bytes, routerKind) }
    static func ports(_ bytes: UnsafeRawBufferPointer) throws -> Page<RouterPort> { try page(bytes, portKind) }
    static func subnets(_ bytes: UnsafeRawBufferPointer) throws -> Page<Subnet> { try page(bytes, subnetKind) }
    static func networks(_ bytes: UnsafeRawBufferPointer) throws -> Page<Network> { try page(bytes, networkKind) }

    /// One page on its own (a fresh string table).
    static func page<Item>(_ bytes: UnsafeRawBufferPointer, _ kind: Kind<Item>) throws -> Page<Item> {
        var items: [Item] = []
        let next = try decode(bytes, kind, into: &items, strings: StringTable())
        return Page(items: items, next: next)
    }

    /// Decodes the page `bytes` of `kind`, appending its items to `items` (no intermediate array), with
    /// its strings shared through `strings` (one table for every page of a read: equal IDs are one
    /// String storage). Returns the `next` link's href. On a throw, `items` may hold part of the page:
    /// the caller drops the whole read.
    static func decode<Item>(_ bytes: UnsafeRawBufferPointer, _ kind: Kind<Item>, into items: inout [Item],
                             strings: StringTable) throws -> String? {
        var r = Reader(JSONCursor(bytes), strings: strings)
        do {
            let next = try r.page(kind.resource, kind.listType, kind.itemType, into: &items, kind.item)
            try r.c.finish()
            return next
        } catch is JSONSyntaxError {
            throw notJSON
        } catch is JSONCursor.StringError {
            throw notJSON
        } catch let e as DecodingError {
            // Foundation scans the whole document before it decodes: broken structure anywhere wins.
            do { try JSONCursor.validate(bytes) } catch { throw notJSON }
            throw e
        }
    }

    static let notJSON = DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "The given data was not valid JSON."))

    /// A table's field names as bytes, to match keys without making strings.
    struct Keys {
        let fields: [NeutronWire.Field]
        let names: [[UInt8]]
        /// The slots of the required fields.
        let required: [Int]

        init(_ shape: NeutronWire.Shape) {
            fields = shape.fields
            names = shape.fields.map { Array($0.name.utf8) }
            required = shape.fields.indices.filter { shape.fields[$0].required }
        }

        /// The slots of `names`, in that order.
        func slots(_ names: [String]) -> [Int] { names.map(slot) }

        /// The first error of an object in the order its fields are read (`order`: slots).
        static func first(_ errors: [DecodingError?], _ order: [Int]) -> DecodingError? {
            if errors.isEmpty { return nil }
            for i in order { if let e = errors[i] { return e } }
            return nil
        }

        /// The table position of `name` (a programming error if the table lacks it).
        func slot(_ name: String) -> Int {
            guard let i = fields.firstIndex(where: { $0.name == name }) else { preconditionFailure("no field \(name) in NeutronWire") }
            return i
        }

        func match(_ bytes: UnsafeRawBufferPointer) -> Int? {
            for (i, n) in names.enumerated() where n.count == bytes.count && n.elementsEqual(bytes) { return i }
            return nil
        }

        func match(_ text: String) -> Int? {
            fields.firstIndex { $0.name == text }
        }
    }

    static let routerKeys = Keys(NeutronWire.routers.shape)
    static let portKeys = Keys(NeutronWire.ports.shape)
    static let subnetKeys = Keys(NeutronWire.subnets.shape)
    static let networkKeys = Keys(NeutronWire.networks.shape)
    static let gatewayKeys = Keys(NeutronWire.gateway)
    static let fixedIPKeys = Keys(NeutronWire.fixedIP)
    // Each shape's slots in the order the reference (WireRouter…) reads them: errors surface in this order.
    static let fixedIPOrder = fixedIPKeys.slots(["subnet_id", "ip_address"])
    static let gatewayOrder = gatewayKeys.slots(["external_fixed_ips", "network_id", "enable_snat"])
    static let routerOrder = routerKeys.slots(["external_gateway_info", "external_gateways", "id", "name", "project_id", "admin_state_up", "tags"])
    static let portOrder = portKeys.slots(["fixed_ips", "id", "device_id", "device_owner"])
    static let subnetOrder = subnetKeys.slots(["id", "network_id", "cidr", "project_id", "created_at", "subnetpool_id"])
    static let networkOrder = networkKeys.slots(["id", "name", "router:external", "ipv4_address_scope", "ipv6_address_scope"])

    /// The cursor plus the coding path of the value under it (for error messages only).
    struct Reader {
        var c: JSONCursor
        var path: [AnyKey] = []
        let table: StringTable

        init(_ c: JSONCursor, strings: StringTable) {
            self.c = c
            self.table = strings
            path.reserveCapacity(8)
        }

        func error(mismatch type: Any.Type, found: String) -> DecodingError {
            .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected to decode \(type) but found \(found) instead."))
        }

        func error(null type: Any.Type) -> DecodingError {
            .valueNotFound(type, .init(codingPath: path, debugDescription: "Cannot get value of type \(type) -- found null value instead"))
        }

        /// Reads the members of the object under the cursor: `member` gets each key's table slot (the
        /// first of duplicates only) and reads its value; a value that fails is skipped, its error
        /// kept in `errors[slot]`. Unknown members are skipped. Throws if the value is not an object.
        mutating func object(_ keys: Keys, _ type: Any.Type, _ errors: inout [DecodingError?],
                             _ member: (inout Reader, Int) throws -> Void) throws {
            if try c.readNull() { throw error(null: [String: Any].self) }
            guard c.beginObject() else { throw error(mismatch: [String: Any].self, found: try c.kindAhead()) }
            var first = true
            var seen: UInt32 = 0
            var keyError: DecodingError?
            while let raw = try c.nextKey(&first) {
                let slot: Int?
                let rawBytes = UnsafeRawBufferPointer(rebasing: c.bytes[raw])
                if rawBytes.allSatisfy({ $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\\") }) {
                    slot = keys.match(rawBytes)
                } else {
                    do {
                        slot = keys.match(try JSONCursor.decodeString(c.bytes, raw))
                    } catch {
                        if keyError == nil { keyError = DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "The given data was not valid JSON.")) }
                        slot = nil
                    }
                }
                guard let slot, seen & (1 << slot) == 0 else {
                    try c.skipValue()
                    continue
                }
                seen |= 1 << slot
                let start = c.i
                let depth = path.count
                path.append(AnyKey(keys.fields[slot].name))
                do {
                    try member(&self, slot)
                } catch let e as DecodingError {
                    if errors.isEmpty { errors = Array(repeating: nil, count: keys.fields.count) }
                    errors[slot] = e
                    c.i = start
                    try c.skipValue()
                } catch is JSONCursor.StringError {
                    if errors.isEmpty { errors = Array(repeating: nil, count: keys.fields.count) }
                    errors[slot] = notJSON
                    c.i = start
                    try c.skipValue()
                }
                while path.count > depth { path.removeLast() }
            }
            if let keyError { throw keyError }
            // Missing required fields: the caller reads the slots in the reference's order.
            for i in keys.required where seen & (1 << i) == 0 {
                if errors.isEmpty { errors = Array(repeating: nil, count: keys.fields.count) }
                let f = keys.fields[i]
                errors[i] = .keyNotFound(AnyKey(f.name), .init(codingPath: path, debugDescription: "No value associated with key \(f.name)."))
            }
        }

        /// Each element of the array under the cursor (nil when the value is null and `nullable`).
        mutating func array<T>(_ type: Any.Type, elementType: Any.Type, into out: inout [T], _ element: (inout Reader) throws -> T) throws {
            if try c.readNull() { throw error(null: [Any].self) }
            guard c.beginArray() else { throw error(mismatch: [Any].self, found: try c.kindAhead()) }
            var first = true
            var index = 0
            while try c.nextElement(&first) {
                path.append(AnyKey(intValue: index)!)
                if try c.readNull() { throw error(null: elementType) }
                out.append(try element(&self))
                path.removeLast()
                index += 1
            }
        }

        /// An optional field: nil for null.
        /// An optional field: nil for null. `unique`: a value no other field of the read repeats (a
        /// port's own ID), not worth a slot in the string table.
        mutating func optionalString(unique: Bool = false) throws -> String? {
            if try c.readNull() { return nil }
            return try string(unique: unique)
        }

        mutating func string(unique: Bool = false) throws -> String {
            guard c.peek() == UInt8(ascii: "\"") else {
                if try c.readNull() { throw error(null: String.self) }
                throw error(mismatch: String.self, found: try c.kindAhead())
            }
            let raw = try c.skipString()
            if !unique, let s = try table.intern(c.bytes, raw) { return s }
            return try JSONCursor.decodeString(c.bytes, raw)
        }

        mutating func bool() throws -> Bool {
            if let b = try c.readBool() { return b }
            if try c.readNull() { throw error(mismatch: Bool.self, found: "null") }
            throw error(mismatch: Bool.self, found: try c.kindAhead())
        }

        mutating func strings() throws -> [String] {
            var out: [String] = []
            try array([String].self, elementType: String.self, into: &out) { try $0.string() }
            return out
        }

        /// The raw bytes of a string value without escapes (cursor on it; consumed), or nil with the
        /// cursor left on it (not a string, or one with an escape: read it with `string()`).
        mutating func plainStringBytes() throws -> UnsafeRawBufferPointer? {
            guard c.peek() == UInt8(ascii: "\"") else { return nil }
            let start = c.i
            let raw = try c.skipString()
            let bytes = UnsafeRawBufferPointer(rebasing: c.bytes[raw])
            if bytes.contains(UInt8(ascii: "\\")) {
                c.i = start
                return nil
            }
            return bytes
        }

        mutating func address() throws -> IPAddress {
            // Parsed from the page's bytes (an address is ASCII: nothing to validate first); the
            // String is made only for an escape or for the error message.
            let start = c.i
            if let raw = try plainStringBytes() {
                if let a = IPAddress(utf8: raw) { return a }
                c.i = start
            }
            let s = try string()
            guard let a = IPAddress(s) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "not an IP address: \(s.prefix(64))"))
            }
            return a
        }

        mutating func prefix() throws -> IPPrefix {
            let start = c.i
            if let raw = try plainStringBytes() {
                if let p = IPPrefix(lenientUTF8: raw) { return p }
                c.i = start
            }
            let s = try string()
            guard let p = IPPrefix(lenient: s) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "not a CIDR prefix: \(s.prefix(64))"))
            }
            return p
        }

        // MARK: The page

        mutating func page<Item>(_ resource: NeutronWire.Resource, _ listType: Any.Type, _ itemType: Any.Type,
                                 into out: inout [Item], _ item: (inout Reader) throws -> Item) throws -> String? {
            guard c.beginObject() else {
                if c.peek() == nil { throw JSONSyntaxError() }
                _ = try c.kindAhead()
                try c.skipValue()
                try c.finish()
                throw error(mismatch: [String: Any].self, found: "another value")
            }
            let itemsKey = Array(resource.collection.utf8)
            let linksKey = Array((resource.collection + "_links").utf8)
            var itemsSeen = false
            var itemsError: DecodingError?
            var next: String??
            var linksError: DecodingError?
            var first = true
            while let raw = try c.nextKey(&first) {
                var key = Array(UnsafeRawBufferPointer(rebasing: c.bytes[raw]))
                if key.contains(where: { $0 < 0x20 || $0 >= 0x80 || $0 == UInt8(ascii: "\\") }) {
                    guard let text = try? JSONCursor.decodeString(c.bytes, raw) else { throw notJSON }
                    key = Array(text.utf8)
                }
                if key == itemsKey, !itemsSeen, itemsError == nil {
                    path = [AnyKey(resource.collection)]
                    let start = c.i
                    do {
                        try array(listType, elementType: itemType, into: &out) { try item(&$0) }
                        itemsSeen = true
                    } catch let e as DecodingError {
                        itemsError = e
                        c.i = start
                        try c.skipValue()
                    }
                    path = []
                } else if key == linksKey, next == nil, linksError == nil {
                    path = [AnyKey(resource.collection + "_links")]
                    let start = c.i
                    do {
                        next = .some(try links())
                    } catch let e as DecodingError {
                        linksError = e
                        c.i = start
                        try c.skipValue()
                    }
                    path = []
                } else {
                    try c.skipValue()
                }
            }
            if let itemsError { throw itemsError }
            guard itemsSeen else {
                throw DecodingError.keyNotFound(AnyKey(resource.collection), .init(codingPath: [], debugDescription: "No value associated with key \(resource.collection)."))
            }
            if let linksError { throw linksError }
            return next ?? nil
        }

        /// `[{"rel": "next", "href": "…"}, …]`: the first `next` href. Null is no links.
        mutating func links() throws -> String? {
            if try c.readNull() { return nil }
            var links: [(String, String)] = []
            try array([ListPage<WireRouter>.Link].self, elementType: [String: Any].self, into: &links) { r in
                guard r.c.beginObject() else { throw r.error(mismatch: [String: Any].self, found: try r.c.kindAhead()) }
                var first = true
                var rel: Result<String, DecodingError>?
                var href: Result<String, DecodingError>?
                while let raw = try r.c.nextKey(&first) {
                    let name = try? JSONCursor.decodeString(r.c.bytes, raw)
                    guard let name else { throw notJSON }
                    guard name == "rel" && rel == nil || name == "href" && href == nil else {
                        try r.c.skipValue()
                        continue
                    }
                    r.path.append(AnyKey(name))
                    let start = r.c.i
                    let value: Result<String, DecodingError>
                    do {
                        value = .success(try r.string())
                    } catch let e as DecodingError {
                        value = .failure(e)
                        r.c.i = start
                        try r.c.skipValue()
                    } catch is JSONCursor.StringError {
                        value = .failure(notJSON)
                        r.c.i = start
                        try r.c.skipValue()
                    }
                    r.path.removeLast()
                    if name == "rel" { rel = value } else { href = value }
                }
                func get(_ v: Result<String, DecodingError>?, _ key: String) throws -> String {
                    guard let v else { throw DecodingError.keyNotFound(AnyKey(key), .init(codingPath: r.path, debugDescription: "No value associated with key \(key).")) }
                    return try v.get()
                }
                let relValue = try get(rel, "rel")
                return (relValue, try get(href, "href"))
            }
            return links.first { $0.0 == "next" }?.1
        }

        // MARK: The four shapes, read in the reference's order (WireRouter…)

        mutating func fixedIP() throws -> FixedIP {
            let k = NeutronPageDecoder.fixedIPKeys
            let o = NeutronPageDecoder.fixedIPOrder
            var errors: [DecodingError?] = []
            var subnet: String?, ip: IPAddress?
            try object(k, WireFixedIP.self, &errors) { r, slot in
                switch slot {
                case o[0]: subnet = try r.string()
                case o[1]: ip = try r.address()
                default: try r.c.skipValue()
                }
            }
            if let e = Keys.first(errors, o) { throw e }
            return FixedIP(subnetID: subnet!, ipAddress: ip!)
        }

        mutating func fixedIPs() throws -> [FixedIP] {
            var out: [FixedIP] = []
            try array([WireFixedIP].self, elementType: [String: Any].self, into: &out) { try $0.fixedIP() }
            return out
        }

        mutating func gateway() throws -> ExternalGateway {
            let k = NeutronPageDecoder.gatewayKeys
            let o = NeutronPageDecoder.gatewayOrder
            var errors: [DecodingError?] = []
            var network: String?, snat: Bool?, ips: [FixedIP]?
            try object(k, WireGateway.self, &errors) { r, slot in
                switch slot {
                case o[1]: network = try r.string()
                case o[0]: ips = try r.fixedIPs()
                case o[2]: snat = try r.c.readNull() ? nil : try r.bool()
                default: try r.c.skipValue()
                }
            }
            if let e = Keys.first(errors, o) { throw e }
            return ExternalGateway(networkID: network!, enableSNAT: snat, fixedIPs: ips!)
        }

        mutating func router() throws -> Router {
            let k = NeutronPageDecoder.routerKeys
            let o = NeutronPageDecoder.routerOrder
            var errors: [DecodingError?] = []
            var id: String?, name: String?, project: String?, up: Bool?, tags: [String]?
            var info: ExternalGateway?, list: [ExternalGateway]?
            try object(k, WireRouter.self, &errors) { r, slot in
                switch slot {
                case o[2]: id = try r.string()
                case o[3]: name = try r.optionalString()
                case o[4]: project = try r.optionalString()
                case o[5]: up = try r.bool()
                case o[6]: tags = try r.c.readNull() ? nil : try r.strings()
                case o[0]: info = try r.c.readNull() ? nil : try r.gateway()
                case o[1]:
                    if try !r.c.readNull() {
                        var out: [ExternalGateway] = []
                        try r.array([WireGateway].self, elementType: [String: Any].self, into: &out) { try $0.gateway() }
                        list = out
                    }
                default: try r.c.skipValue()
                }
            }
            if let e = Keys.first(errors, o) { throw e }
            return Router(id: id!, name: name ?? "", projectID: project ?? "", adminStateUp: up!, tags: tags ?? [],
                          gateways: NeutronWire.foldGateways(info: info, list: list ?? []))
        }

        mutating func port() throws -> RouterPort {
            let k = NeutronPageDecoder.portKeys
            let o = NeutronPageDecoder.portOrder
            var errors: [DecodingError?] = []
            var id: String?, device: String?, owner: String?, ips: [FixedIP]?
            try object(k, WirePort.self, &errors) { r, slot in
                switch slot {
                case o[1]: id = try r.optionalString(unique: true)
                case o[2]: device = try r.string()
                case o[3]: owner = try r.string()
                case o[0]: ips = try r.fixedIPs()
                default: try r.c.skipValue()
                }
            }
            if let e = Keys.first(errors, o) { throw e }
            return RouterPort(id: id ?? "", deviceID: device!, deviceOwner: owner!, fixedIPs: ips!)
        }

        mutating func subnet() throws -> Subnet {
            let k = NeutronPageDecoder.subnetKeys
            let o = NeutronPageDecoder.subnetOrder
            var errors: [DecodingError?] = []
            var id: String?, network: String?, cidr: IPPrefix?, project: String?, created: String?, pool: String?
            try object(k, WireSubnet.self, &errors) { r, slot in
                switch slot {
                case o[0]: id = try r.string()
                case o[1]: network = try r.optionalString()
                case o[2]: cidr = try r.prefix()
                case o[3]: project = try r.optionalString()
                case o[4]: created = try r.optionalString()
                case o[5]: pool = try r.optionalString()
                default: try r.c.skipValue()
                }
            }
            if let e = Keys.first(errors, o) { throw e }
            return Subnet(id: id!, networkID: network ?? "", cidr: cidr!, projectID: project ?? "", createdAt: created ?? "",
                          subnetpoolID: pool)
        }

        mutating func network() throws -> Network {
            let k = NeutronPageDecoder.networkKeys
            let o = NeutronPageDecoder.networkOrder
            var errors: [DecodingError?] = []
            var id: String?, name: String?, external: Bool?, v4: String?, v6: String?
            try object(k, WireNetwork.self, &errors) { r, slot in
                switch slot {
                case o[0]: id = try r.string()
                case o[1]: name = try r.optionalString()
                case o[2]: external = try r.c.readNull() ? nil : try r.bool()
                case o[3]: v4 = try r.optionalString()
                case o[4]: v6 = try r.optionalString()
                default: try r.c.skipValue()
                }
            }
            if let e = Keys.first(errors, o) { throw e }
            return Network(id: id!, name: name ?? "", isExternal: external ?? false, ipv4AddressScope: v4, ipv6AddressScope: v6)
        }
    }
}
