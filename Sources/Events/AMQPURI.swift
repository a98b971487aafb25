// `amqp[s]://USER@HOST:PORT/VHOST`, read with RabbitMQ's URI rules (https://www.rabbitmq.com/docs/uri-spec):
// percent-escapes in every part, the vhost is one path segment (`%2F` for a slash), `amqp://host` and
// `amqp://host/` both mean the default vhost `/`, default ports 5672 (amqp) and 5671 (amqps).
// The password is never part of the URI for this agent: it comes from a password file.

/// Why an AMQP URI was refused.
public enum AMQPURIError: Error, Equatable, Sendable, CustomStringConvertible {
    case unsupportedScheme(String)
    case inlinePassword
    case missingHost
    case invalidPort(String)
    case invalidEscape(String)
    case vhostWithSlash(String)
    case unsupportedQuery(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unsupportedScheme(let s):
            return "events URL scheme '\(s)' is not supported: use amqp://USER@HOST:PORT/VHOST or amqps://… for TLS"
        case .inlinePassword:
            return "events URL contains a password: remove it (amqp://USER@HOST/…) and put the password in the events password file, so it never shows on a command line or in logs"
        case .missingHost: return "events URL has no host: use amqp://USER@HOST:PORT/VHOST"
        case .invalidPort(let p): return "events URL port '\(p)' is not a number from 1 to 65535"
        case .invalidEscape(let part): return "events URL has an invalid percent-escape in '\(part)'"
        case .vhostWithSlash(let path):
            return "events URL path '\(path)' has more than one segment: the vhost is one segment; write a '/' inside it as %2F (amqp://host/%2F is the vhost '/')"
        case .unsupportedQuery(let q): return "events URL query '\(q)' is not supported (only heartbeat=SECONDS); use the agent's options instead"
        case .invalid(let why): return "events URL is invalid: \(why)"
        }
    }
}

/// Where and as whom to connect to the broker, parsed from an `amqp://` or `amqps://` URI.
///
/// ```swift
/// let endpoint = try AMQPEndpoint(parsing: "amqps://mra@rabbit.example.org/openstack")
/// // endpoint.port == 5671, endpoint.virtualHost == "openstack", endpoint.tls == true
/// ```
public struct AMQPEndpoint: Equatable, Sendable, CustomStringConvertible {
    public var tls: Bool
    public var host: String
    public var port: Int
    /// RabbitMQ's default user when the URI names none.
    public var username: String
    public var virtualHost: String
    /// `?heartbeat=N` when given.
    public var heartbeat: UInt16?

    public init(tls: Bool = false, host: String, port: Int? = nil, username: String = "guest", virtualHost: String = "/", heartbeat: UInt16? = nil) {
        self.tls = tls
        self.host = host
        self.port = port ?? (tls ? 5671 : 5672)
        self.username = username
        self.virtualHost = virtualHost
        self.heartbeat = heartbeat
    }

    public init(parsing uri: String) throws(AMQPURIError) {
        guard let schemeEnd = uri.firstRange(of: "://") else { throw .invalid("expected amqp://USER@HOST:PORT/VHOST") }
        let scheme = uri[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "amqp": tls = false
        case "amqps": tls = true
        default: throw .unsupportedScheme(String(scheme))
        }
        var rest = Substring(uri[schemeEnd.upperBound...])
        if rest.contains("#") { throw .invalid("a fragment (#…) has no meaning here") }
        var query: Substring?
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        let authority: Substring
        let path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        } else {
            authority = rest
            path = nil
        }
        var hostPort = authority
        username = "guest"
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if userinfo.contains(":") { throw .inlinePassword }
            username = try Self.unescape(userinfo)
            if username.isEmpty { throw .invalid("empty user name before '@'") }
        }
        // Host: a bracketed IPv6 literal or a name / IPv4, then an optional port.
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw .invalid("unterminated IPv6 literal '\(hostPort)'") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalid("unexpected '\(after)' after the IPv6 literal") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.firstIndex(of: ":") {
            host = try Self.unescape(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = try Self.unescape(hostPort)
        }
        if host.isEmpty { throw .missingHost }
        if let portText, !portText.isEmpty {
            guard portText.allSatisfy(\.isASCII), let p = Int(portText), (1...65535).contains(p) else { throw .invalidPort(String(portText)) }
            port = p
        } else if portText != nil {
            throw .invalidPort("")
        } else {
            port = tls ? 5671 : 5672
        }
        if let path, !path.isEmpty {
            if path.contains("/") { throw .vhostWithSlash(String(path)) }
            virtualHost = try Self.unescape(path)
        } else {
            virtualHost = "/"
        }
        heartbeat = nil
        if let query, !query.isEmpty {
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, kv[0] == "heartbeat", let h = UInt16(kv[1]) else { throw .unsupportedQuery(String(pair)) }
                heartbeat = h
            }
        }
    }

    /// The URI without any secret, vhost escaped as RabbitMQ writes it.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(tls ? "amqps" : "amqp")://\(Self.escape(username))@\(hostPart):\(port)/\(Self.escape(virtualHost))"
    }

    static func unescape(_ s: Substring) throws(AMQPURIError) -> String {
        guard s.contains("%") else { return String(s) }
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let hi = hexValue(it[it.startIndex]), let lo = hexValue(it[it.startIndex + 1]) else {
                    throw .invalidEscape(String(s))
                }
                out.append(hi << 4 | lo)
                it = it.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else { throw .invalidEscape(String(s)) }
        return text
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(Unicode.Scalar(b))
            if b < 0x80, c.isLetter || c.isNumber || "-._~".contains(c) {
                out.append(c)
            } else {
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// The agent's own queue name: `metadata-route-agent.<hostname>.<table>.<protocol>`, so two agents on one host
/// (different tables or protocols) never share, and so split, one queue. Hostnames too long for AMQP's
/// 255-byte names are cut.
public func defaultEventsQueueName(hostname: String, table: UInt32, protocol proto: UInt8) -> String {
    let suffix = ".\(table).\(proto)"
    let prefix = "metadata-route-agent."
    let room = 255 - prefix.utf8.count - suffix.utf8.count
    var host = hostname.isEmpty ? "localhost" : hostname
    while host.utf8.count > room { host.removeLast() }
    return prefix + host + suffix
}
