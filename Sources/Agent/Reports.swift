#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Model
import RoutePlanner

/// The stable JSON document of `plan --format json`: every list sorted, keys sorted.
public struct PlanDocument: Codable, Sendable, Hashable {
    public struct Entry: Codable, Sendable, Hashable {
        public var destination: String
        public var nextHop: String?
        public var previousNextHop: String?
        public var router: String?
        public var subnet: String?
        enum CodingKeys: String, CodingKey {
            case destination, router, subnet
            case nextHop = "next_hop"
            case previousNextHop = "previous_next_hop"
        }
    }
    public struct Refused: Codable, Sendable, Hashable {
        public var destination: String?
        public var nextHop: String?
        public var router: String
        public var subnet: String?
        public var project: String
        public var reason: String
        public var message: String
        public var lostToSubnet: String?
        public var lostToRouter: String?
        enum CodingKeys: String, CodingKey {
            case destination, router, subnet, project, reason, message
            case nextHop = "next_hop"
            case lostToSubnet = "lost_to_subnet"
            case lostToRouter = "lost_to_router"
        }
    }
    public var table: UInt32
    public var proto: UInt8
    public var nexthopObjects: Bool
    public var desired: Int
    public var add: [Entry]
    public var replace: [Entry]
    public var delete: [Entry]
    /// Deletions the deletion brake holds (`--max-delete`); carried out by `sync --force-delete`.
    public var held: [Entry] = []
    public var refused: [Refused]

    enum CodingKeys: String, CodingKey {
        case table, desired, add, replace, delete, refused
        case held = "held_deletions"
        case proto = "protocol"
        case nexthopObjects = "nexthop_objects"
    }

    public init(plan: RoutePlan, settings: Settings, nexthopObjects: Bool, held: [PlannedChange] = []) {
        table = settings.table
        proto = settings.proto
        self.nexthopObjects = nexthopObjects
        desired = plan.desired.count
        func entries(_ a: PlannedChange.Action) -> [Entry] {
            plan.changes.filter { $0.action == a }.map {
                // A delete names the next hop being removed.
                Entry(destination: "\($0.destination)", nextHop: ($0.nextHop ?? ($0.action == .delete ? $0.previousNextHop : nil)).map { "\($0)" },
                      previousNextHop: $0.previousNextHop.map { "\($0)" }, router: $0.routerID, subnet: $0.subnetID)
            }
        }
        add = entries(.add)
        replace = entries(.replace)
        delete = entries(.delete)
        self.held = held.map {
            Entry(destination: "\($0.destination)", nextHop: $0.previousNextHop.map { "\($0)" }, previousNextHop: $0.previousNextHop.map { "\($0)" },
                  router: nil, subnet: nil)
        }
        refused = plan.refused.map {
            Refused(destination: $0.destination.map { "\($0)" }, nextHop: $0.nextHop.map { "\($0)" }, router: $0.routerID,
                    subnet: $0.subnetID, project: $0.projectID, reason: $0.reason.rawValue, message: $0.message,
                    lostToSubnet: $0.lostTo?.subnetID, lostToRouter: $0.lostTo?.routerID)
        }
    }

    public func json() -> String { encodeJSONString(self) }
}

/// One owned route as `routes` shows it.
public struct OwnedRoute: Codable, Sendable, Hashable {
    public var destination: String
    public var nextHop: String?
    public var nexthopID: UInt32?
    public var table: UInt32
    public var proto: UInt8
    public var metric: UInt32?
    enum CodingKeys: String, CodingKey {
        case destination, table, metric
        case nextHop = "next_hop"
        case nexthopID = "nexthop_id"
        case proto = "protocol"
    }

    /// The owned routes of a kernel view, with nexthop objects resolved to their gateways.
    public static func list(in view: KernelView, ownership: Ownership) -> [OwnedRoute] {
        let gateways = Dictionary(view.nexthops.filter(ownership.owns(nexthop:)).map { ($0.id, $0.gateway) }, uniquingKeysWith: { a, _ in a })
        return view.routes.filter(ownership.owns(route:)).sorted().map { r in
            let gw = r.gateway ?? r.nexthopID.flatMap { gateways[$0] ?? nil }
            return OwnedRoute(destination: "\(r.destination)", nextHop: gw.map { "\($0)" }, nexthopID: r.nexthopID,
                              table: r.table, proto: r.proto, metric: r.metric)
        }
    }
}

public func encodeJSONString<T: Encodable>(_ value: T) -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    guard let data = try? e.encode(value) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}

/// Plain-text renderings for a terminal.
public enum TextReport {
    /// `text` with every control character (and Unicode line separator) written as an escape (`\n`, `\u{1b}`):
    /// names and IDs come from tenants and a snapshot, and must not forge lines or drive the operator's terminal.
    public static func visible(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for u in text.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: if isControl(u) { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }

    static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (0x7f...0x9f).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
    }

    public static func tableName(_ t: UInt32) -> String { t == KernelRoute.mainTable ? "main" : "\(t)" }

    public static func plan(_ doc: PlanDocument) -> String {
        var out = "Plan for table \(tableName(doc.table)), protocol \(doc.proto), \(doc.nexthopObjects ? "nexthop objects" : "classic via routes"): "
        out += "\(doc.add.count) to add, \(doc.replace.count) to replace, \(doc.delete.count) to delete, \(doc.refused.count) refused or skipped; \(doc.desired) routes wanted\n"
        if !doc.held.isEmpty {
            out += "\(doc.held.count) deletion(s) HELD by the deletion brake (--max-delete); 'sync --force-delete' carries them out\n"
        }
        var rows: [[String]] = []
        for (action, list) in [("add", doc.add), ("replace", doc.replace), ("delete", doc.delete), ("held-delete", doc.held)] {
            for e in list {
                var via = e.nextHop.map { "via \($0)" } ?? ""
                if let old = e.previousNextHop, action == "replace" { via += " (was \(old))" }
                rows.append([action, e.destination, via, e.router.map { "router \(visible($0))" } ?? "", e.subnet.map { "subnet \(visible($0))" } ?? ""])
            }
        }
        if rows.isEmpty { out += "  nothing to change: the kernel matches Neutron\n" } else { out += columns(rows, indent: "  ") }
        if !doc.refused.isEmpty {
            out += "Refused or skipped:\n"
            for r in doc.refused {
                let what = r.destination ?? "router \(visible(r.router))"
                out += "  \(what)  [\(r.reason)]  \(visible(r.message))\n"
            }
        }
        return out
    }

    public static func routes(_ routes: [OwnedRoute], table: UInt32, proto: UInt8) -> String {
        if routes.isEmpty { return "No routes owned by protocol \(proto) in table \(tableName(table)).\n" }
        var rows = [["DESTINATION", "NEXT HOP", "NEXTHOP ID", "TABLE", "PROTO"]]
        for r in routes {
            rows.append([r.destination, r.nextHop ?? "-", r.nexthopID.map { "\($0)" } ?? "-", tableName(r.table), "\(r.proto)"])
        }
        return columns(rows, indent: "") + "\(routes.count) route\(routes.count == 1 ? "" : "s")\n"
    }

    static func columns(_ rows: [[String]], indent: String) -> String {
        guard let n = rows.map(\.count).max() else { return "" }
        var widths = [Int](repeating: 0, count: n)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            var line = indent + r.enumerated().map { i, c in i == r.count - 1 ? c : c + String(repeating: " ", count: max(0, widths[i] - c.count)) }
                .joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n") + "\n"
    }
}

extension Duration {
    /// Whole milliseconds.
    public var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
