// oslo.messaging notifications as Neutron publishes them with `driver = messagingv2`:
// `{"oslo.version": "2.0", "oslo.message": "<the notification as a JSON string>"}` (the message is encoded twice),
// and, for the older `messaging` driver, the notification object itself.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a message body is not a notification the agent can read. Never fatal: count it, ack it, drop it.
public enum NotificationDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case notJSON(String)
    case notAnObject(String)
    case unsupportedVersion(String)
    case missingField(String)
    case wrongType(field: String, expected: String)

    public var description: String {
        switch self {
        case .notJSON(let what): return "notification \(what) is not valid JSON"
        case .notAnObject(let what): return "notification \(what) is not a JSON object"
        case .unsupportedVersion(let v): return "unsupported oslo.version '\(v)' (expected 2.x)"
        case .missingField(let f): return "notification has no '\(f)'"
        case .wrongType(let f, let t): return "notification field '\(f)' is not \(t)"
        }
    }
}

/// One Neutron notification: the envelope fields plus a small typed view of the payload.
public struct OsloNotification: Equatable, Sendable {
    public var eventType: String
    public var priority: String
    public var publisherID: String
    public var messageID: String
    /// oslo's UTC timestamp as written ("2026-11-28 10:11:12.123456").
    public var timestampText: String
    /// The timestamp as a point in time, when it parses.
    public var timestamp: Date?
    /// The IDs the agent maps to "router changed" or "resync".
    public var view: NotificationPayload
    /// The notification's JSON text (the inner message), kept so the payload can be had on demand.
    var messageJSON: Data

    /// The payload as JSON bytes (re-serialized, keys sorted), for whoever needs more than `view`. Computed on
    /// demand: re-serializing costs several times the decode itself.
    public func payloadJSON() throws(NotificationDecodingError) -> Data {
        let message = try OsloEnvelope.object(messageJSON, "oslo.message")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let payload = message["payload"], case .object = payload, let data = try? encoder.encode(payload) else {
            throw .wrongType(field: "payload", expected: "an object")
        }
        return data
    }
}

/// What the agent needs from a payload: IDs only; the state itself is always re-read from the API
/// (API workers publish out of order, so payloads are never trusted for state).
public struct NotificationPayload: Equatable, Sendable {
    /// `router.*`: the router's `id`; `router.delete.*`: `router_id`; `router.interface.*`: `router_interface.id`.
    public var routerID: String?
    /// `router.*`: the network of `external_gateway_info`, when set.
    public var routerGatewayNetworkID: String?
    public var interface: RouterInterface?
    public var port: Port?
    /// `subnet.*`: the subnet's `id`, or `subnet_id` (delete).
    public var subnetID: String?
    /// `subnet.*`: the subnet's `network_id`.
    public var subnetNetworkID: String?
    /// `network.*`: the network's `id`, or `network_id` (delete).
    public var networkID: String?
    /// `network.*`: the network's `router:external`, when present.
    public var networkExternal: Bool?

    public struct RouterInterface: Equatable, Sendable {
        public var routerID: String
        public var portID: String?
        public var subnetIDs: [String]
        public var networkID: String?
    }

    public struct Port: Equatable, Sendable {
        public var id: String?
        public var deviceOwner: String
        public var deviceID: String
        public var networkID: String?
        public var subnetIDs: [String]
    }

    public init() {}
}

public enum OsloEnvelope {
    /// Reads `event_type` without decoding the message: a scan of the body for the first `event_type` key
    /// at the notification's own quoting level (oslo writes `event_type` before `payload`, so no payload
    /// value can come first). Nil when it cannot tell; then `decode` decides. Filtering on this costs a
    /// few microseconds for the instance-port events that make up most of the traffic.
    public static func peekEventType(_ body: some Collection<UInt8>) -> String? {
        let bytes = Array(body)
        let key = Array("event_type".utf8)
        var i = 0
        let n = bytes.count
        while i + key.count < n {
            guard let found = find(key, in: bytes, from: i) else { return nil }
            i = found + key.count
            // The quote before the key, and how many backslashes escape it: 0 (plain JSON) or 1 (inside oslo.message).
            guard found >= 1, bytes[found - 1] == UInt8(ascii: "\"") else { continue }
            var slashes = 0
            var j = found - 2
            while j >= 0 && bytes[j] == UInt8(ascii: "\\") { slashes += 1; j -= 1 }
            guard slashes <= 1 else { continue }
            var k = i
            func quote(_ k: inout Int) -> Bool {
                for _ in 0..<slashes { guard k < n, bytes[k] == UInt8(ascii: "\\") else { return false }; k += 1 }
                guard k < n, bytes[k] == UInt8(ascii: "\"") else { return false }
                k += 1
                return true
            }
            func spaces(_ k: inout Int) { while k < n, bytes[k] == 0x20 || bytes[k] == 0x0A || bytes[k] == 0x0D || bytes[k] == 0x09 { k += 1 } }
            guard quote(&k) else { continue }
            spaces(&k)
            guard k < n, bytes[k] == UInt8(ascii: ":") else { continue }
            k += 1
            spaces(&k)
            guard quote(&k) else { return nil }
            let start = k
            while k < n, isEventTypeByte(bytes[k]) { k += 1 }
            let end = k
            guard end > start, quote(&k) else { return nil }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        return nil
    }

    private static func isEventTypeByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
            || b == UInt8(ascii: "-") || b == UInt8(ascii: ":")
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        let last = hay.count - needle.count
        let first = needle[0]
        while i <= last {
            if hay[i] == first {
                var m = 1
                while m < needle.count && hay[i + m] == needle[m] { m += 1 }
                if m == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// Decodes a message body into a notification, or says precisely why it cannot.
    public static func decode(_ body: some Collection<UInt8>) throws(NotificationDecodingError) -> OsloNotification {
        let outer = try object(Data(body), "body")
        let message: [String: JSONValue]
        let messageJSON: Data
        if let version = outer["oslo.version"] {
            guard let v = version.string else { throw .wrongType(field: "oslo.version", expected: "a string") }
            guard v.hasPrefix("2.") else { throw .unsupportedVersion(v) }
            guard let inner = outer["oslo.message"] else { throw .missingField("oslo.message") }
            guard let text = inner.string else { throw .wrongType(field: "oslo.message", expected: "a string") }
            messageJSON = Data(text.utf8)
            message = try object(messageJSON, "oslo.message")
        } else {
            messageJSON = Data(body)
            message = outer  // the `messaging` (v1) driver: no envelope
        }
        func string(_ key: String) throws(NotificationDecodingError) -> String {
            guard let v = message[key] else { throw .missingField(key) }
            guard let s = v.string else { throw .wrongType(field: key, expected: "a string") }
            return s
        }
        let eventType = try string("event_type")
        let timestampText = message["timestamp"]?.string ?? ""
        guard let payloadAny = message["payload"] else { throw .missingField("payload") }
        guard let payload = payloadAny.object else { throw .wrongType(field: "payload", expected: "an object") }
        return OsloNotification(
            eventType: eventType,
            priority: message["priority"]?.string ?? "",
            publisherID: message["publisher_id"]?.string ?? "",
            messageID: message["message_id"]?.string ?? "",
            timestampText: timestampText,
            timestamp: parseOsloTimestamp(timestampText),
            view: view(of: payload, eventType: eventType),
            messageJSON: messageJSON)
    }

    static func object(_ data: Data, _ what: String) throws(NotificationDecodingError) -> [String: JSONValue] {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw .notJSON(what)
        }
        guard let dict = value.object else { throw .notAnObject(what) }
        return dict
    }

    /// The typed view; fields of the wrong type are left out (the agent then re-reads more, never less).
    static func view(of payload: [String: JSONValue], eventType: String) -> NotificationPayload {
        var v = NotificationPayload()
        let resource = eventType.split(separator: ".").first.map(String.init) ?? ""
        switch resource {
        case "router":
            if let iface = payload["router_interface"]?.object, let rid = iface["id"]?.string {
                var subnets = iface["subnet_ids"]?.array?.compactMap(\.string) ?? []
                if subnets.isEmpty, let s = iface["subnet_id"]?.string { subnets = [s] }
                v.interface = .init(routerID: rid, portID: iface["port_id"]?.string, subnetIDs: subnets,
                                    networkID: iface["network_id"]?.string)
                v.routerID = rid
            }
            if let router = payload["router"]?.object {
                v.routerID = v.routerID ?? router["id"]?.string
                v.routerGatewayNetworkID = router["external_gateway_info"]?.object?["network_id"]?.string
            }
            v.routerID = v.routerID ?? payload["router_id"]?.string ?? payload["id"]?.string
        case "port":
            if let port = payload["port"]?.object {
                let ips = port["fixed_ips"]?.array ?? []
                v.port = .init(id: port["id"]?.string ?? payload["id"]?.string,
                               deviceOwner: port["device_owner"]?.string ?? "",
                               deviceID: port["device_id"]?.string ?? "",
                               networkID: port["network_id"]?.string,
                               subnetIDs: ips.compactMap { $0.object?["subnet_id"]?.string })
            } else if let id = payload["port_id"]?.string {
                // port.delete.end carries only the ID
                v.port = .init(id: id, deviceOwner: "", deviceID: "", networkID: nil, subnetIDs: [])
            }
        case "subnet":
            let subnet = payload["subnet"]?.object
            v.subnetID = subnet?["id"]?.string ?? payload["subnet_id"]?.string ?? payload["id"]?.string
            v.subnetNetworkID = subnet?["network_id"]?.string
        case "network":
            let network = payload["network"]?.object
            v.networkID = network?["id"]?.string ?? payload["network_id"]?.string ?? payload["id"]?.string
            v.networkExternal = network?["router:external"]?.bool
        default:
            break
        }
        return v
    }
}

/// oslo's timestamp format, UTC: "2026-11-28 10:11:12.123456" (also with "T", without the fraction, or with "Z").
public func parseOsloTimestamp(_ text: String) -> Date? {
    let b = Array(text.utf8)
    guard b.count >= 19 else { return nil }
    func num(_ from: Int, _ len: Int) -> Int? {
        var v = 0
        for i in from..<(from + len) {
            guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
            v = v * 10 + Int(b[i] - 0x30)
        }
        return v
    }
    guard let year = num(0, 4), b[4] == UInt8(ascii: "-"), let month = num(5, 2), b[7] == UInt8(ascii: "-"), let day = num(8, 2),
          b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "T"),
          let hour = num(11, 2), b[13] == UInt8(ascii: ":"), let minute = num(14, 2), b[16] == UInt8(ascii: ":"), let second = num(17, 2),
          (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
    var fraction = 0.0
    var i = 19
    if i < b.count && b[i] == UInt8(ascii: ".") {
        i += 1
        var scale = 0.1
        let start = i
        while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
            fraction += Double(b[i] - 0x30) * scale
            scale /= 10
            i += 1
        }
        if i == start { return nil }
    }
    if i < b.count && b[i] == UInt8(ascii: "Z") { i += 1 }
    guard i == b.count else { return nil }
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second) + fraction
    return Date(timeIntervalSince1970: seconds)
}

/// A JSON value as JSONDecoder reads it (FoundationEssentials has no JSONSerialization): enough to walk an
/// oslo message by key and to write a payload back out.
enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let d = try? c.decode(Double.self) { self = .number(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    var string: String? { if case .string(let s) = self { return s } else { return nil } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    var object: [String: JSONValue]? { if case .object(let o) = self { return o } else { return nil } }
}
