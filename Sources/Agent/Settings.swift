import Foundation
import Model
import RoutePlanner
import Yams

/// How routes reach their next hop in the kernel.
public enum NexthopMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// Nexthop objects when the kernel supports them (5.3+), classic `via` routes otherwise.
    case auto
    /// Always nexthop objects; fail when the kernel lacks them.
    case objects
    /// Always classic `via` routes.
    case classic
}

public enum LogFormat: String, Sendable, Hashable, CaseIterable, Codable { case logfmt, json }

/// Every setting of the agent. A YAML configuration file (`--config`) holds any of them under the flag's
/// name without dashes; flags given on the command line win over the file.
///
/// ```yaml
/// table: 200
/// allowed-prefix: [10.0.0.0/8, fd00::/8]
/// external-network: [public]
/// interval: 15
/// ```
public struct Settings: Sendable, Hashable {
    public var osCloud: String?
    public var snapshot: String?
    public var table: UInt32 = KernelRoute.mainTable
    public var proto: UInt8 = 200
    public var allowedPrefixes: [IPPrefix]? = nil
    public var protectedPrefixes: [IPPrefix] = []
    public var minPrefixLengthV4 = 16
    public var minPrefixLengthV6 = 48
    public var externalNetworks: [String] = []
    public var projects: [String] = []
    public var routerTags: [String] = []
    public var requireSNATDisabled = false
    public var addressScope = false
    public var nexthopMode: NexthopMode = .auto
    public var netns: String?
    public var interval: Double = 10
    public var maxBackoff: Double = 300
    public var metricsAddress: String?
    public var cleanupOnExit = false
    public var logFormat: LogFormat = .logfmt
    public var logLevel: String = "info"
    public var pageSize = 1000
    public var requestTimeout: Double = 30
    /// Seconds one whole read of Neutron may take, retries included.
    public var readTimeout: Double = 90
    /// The deletion brake (`--max-delete`: `10%`, a count, or `off`).
    public var maxDelete: DeletionBrake.Limit = .percent(10)
    /// Held deletions are carried out after reads wanted them this long (`--delete-confirm-after`; nil: never).
    public var deleteConfirmAfter: Duration? = nil
    /// `run --dry-run`: read, plan, log, write nothing.
    public var dryRun = false

    public init() {}

    /// The deletion brake for these settings (window: 10 minutes).
    public var deletionBrake: DeletionBrake { DeletionBrake(limit: maxDelete) }

    /// The planner's policy for these settings.
    public func policy(useNexthopObjects: Bool) -> Policy {
        var p = Policy()
        p.proto = proto
        p.table = table
        if let allowed = allowedPrefixes { p.allowedPrefixes = allowed }
        p.protectedPrefixes = protectedPrefixes
        p.minPrefixLengthV4 = minPrefixLengthV4
        p.minPrefixLengthV6 = minPrefixLengthV6
        p.externalNetworks = externalNetworks
        p.projects = projects
        p.routerTags = routerTags
        p.requireSNATDisabled = requireSNATDisabled
        p.addressScopeMode = addressScope
        p.useNexthopObjects = useNexthopObjects
        return p
    }

    /// Checks values that a type alone cannot: ranges and combinations.
    public func validate() throws(ConfigError) {
        if proto < 5 || proto == 255 {
            throw ConfigError("protocol \(proto) is reserved by the kernel (0-4, 255); pick a number such as 200")
        }
        if table == 0 || table == 255 || table == 253 {
            throw ConfigError("table \(table) is reserved (0 unspec, 253 default, 255 local); use 254 (main) or a table of its own such as 200")
        }
        if !(1...32).contains(minPrefixLengthV4) { throw ConfigError("min-prefix-length-v4 must be 1-32, not \(minPrefixLengthV4)") }
        if !(1...128).contains(minPrefixLengthV6) { throw ConfigError("min-prefix-length-v6 must be 1-128, not \(minPrefixLengthV6)") }
        if !(interval >= 1 && interval <= 86_400) { throw ConfigError("interval must be between 1 and 86400 seconds, not \(interval)") }
        if !(maxBackoff >= 1) { throw ConfigError("max-backoff must be at least 1 second") }
        if let allowed = allowedPrefixes, allowed.isEmpty { throw ConfigError("allowed-prefix needs at least one prefix") }
        if let address = metricsAddress { _ = try HostPort.parse(address) }
        if !(1...100_000).contains(pageSize) { throw ConfigError("page-size must be 1-100000") }
        if !(requestTimeout > 0) { throw ConfigError("request-timeout must be more than 0 seconds") }
        if !(readTimeout > 0) { throw ConfigError("read-timeout must be more than 0 seconds") }
    }
}

/// A configuration or usage error: one line that says what is wrong and what to do.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Hashable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `host:port` with an IPv6 host in brackets (`[::1]:9100`).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static func parse(_ text: String) throws(ConfigError) -> HostPort {
        var host: Substring, port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ConfigError("metrics-address '\(text)' needs a port: [HOST]:PORT") }
            port = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            throw ConfigError("metrics-address '\(text)' is not HOST:PORT (for example 127.0.0.1:9100 or [::1]:9100)")
        }
        guard let p = Int(port), (0...65535).contains(p) else {
            throw ConfigError("metrics-address '\(text)' has no valid port (0-65535)")
        }
        if host.isEmpty { host = "0.0.0.0" }
        return HostPort(host: String(host), port: p)
    }
}

/// The settings given as flags: every field optional, so that a flag left out does not hide the file's value.
public struct SettingsOverrides: Sendable, Hashable {
    public var values: [String: ConfigValue] = [:]
    public init() {}
    public subscript(key: String) -> ConfigValue? {
        get { values[key] }
        set { values[key] = newValue }
    }
}

/// One setting's value as written in a file or on the command line.
public enum ConfigValue: Sendable, Hashable {
    case string(String)
    case list([String])
    case flag(Bool)
}

extension Settings {
    /// The names of every setting, as flags (without dashes) and configuration-file keys.
    public static let keys: [String] = [
        "os-cloud", "snapshot", "table", "protocol", "allowed-prefix", "protected-prefix",
        "min-prefix-length-v4", "min-prefix-length-v6", "external-network", "project", "router-tag",
        "require-snat-disabled", "address-scope", "nexthop-mode", "netns", "interval", "max-backoff",
        "metrics-address", "cleanup-on-exit", "log-format", "log-level", "page-size", "request-timeout", "read-timeout",
        "max-delete", "delete-confirm-after", "dry-run",
    ]

    /// Settings from an optional YAML file, then the command line's flags on top.
    public static func load(configFile: String?, overrides: SettingsOverrides) throws(ConfigError) -> Settings {
        var s = Settings()
        if let path = configFile {
            for (key, value) in try parseConfigFile(path) { try s.set(key, value, source: "\(path): ") }
        }
        for key in overrides.values.keys.sorted() { try s.set(key, overrides.values[key]!, source: "--") }
        try s.validate()
        return s
    }

    /// Reads a YAML mapping of settings; unknown keys are an error that names them.
    static func parseConfigFile(_ path: String) throws(ConfigError) -> [(String, ConfigValue)] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("cannot read configuration file \(path): \(error.localizedDescription)")
        }
        let node: Any?
        do {
            node = try Yams.load(yaml: text)
        } catch {
            throw ConfigError("configuration file \(path) is not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        if node == nil { return [] }
        guard let map = node as? [String: Any] else {
            throw ConfigError("configuration file \(path) must be a mapping of setting: value")
        }
        var out: [(String, ConfigValue)] = []
        for key in map.keys.sorted() {
            guard keys.contains(key) else {
                let hint = keys.first { $0.replacingOccurrences(of: "-", with: "_") == key || $0.replacingOccurrences(of: "-", with: "") == key.lowercased() }
                throw ConfigError("configuration file \(path): unknown key '\(key)'" + (hint.map { " (did you mean '\($0)'?)" } ?? "; known keys: \(keys.joined(separator: ", "))"))
            }
            let raw = map[key]!
            switch raw {
            case let b as Bool: out.append((key, .flag(b)))
            case let list as [Any]: out.append((key, .list(list.map { "\($0)" })))
            case is [String: Any]: throw ConfigError("configuration file \(path): '\(key)' must be a value or a list, not a mapping")
            default: out.append((key, .string("\(raw)")))
            }
        }
        return out
    }

    mutating func set(_ key: String, _ value: ConfigValue, source: String) throws(ConfigError) {
        func text() throws(ConfigError) -> String {
            switch value {
            case .string(let s): return s
            case .flag(let b): return b ? "true" : "false"
            case .list(let l) where l.count == 1: return l[0]
            case .list: throw ConfigError("\(source)\(key) takes one value, not a list")
            }
        }
        func list() -> [String] {
            switch value {
            case .string(let s): return [s]
            case .list(let l): return l
            case .flag(let b): return [b ? "true" : "false"]
            }
        }
        func int<T: FixedWidthInteger>(_: T.Type) throws(ConfigError) -> T {
            let t = try text()
            guard let v = T(t) else { throw ConfigError("\(source)\(key): '\(t)' is not a number in \(T.min)...\(T.max)") }
            return v
        }
        func double() throws(ConfigError) -> Double {
            let t = try text()
            guard let v = Double(t), v.isFinite else { throw ConfigError("\(source)\(key): '\(t)' is not a number of seconds") }
            return v
        }
        func bool() throws(ConfigError) -> Bool {
            if case .flag(let b) = value { return b }
            switch try text().lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            case let t: throw ConfigError("\(source)\(key): '\(t)' is not true or false")
            }
        }
        func prefixes() throws(ConfigError) -> [IPPrefix] {
            var out: [IPPrefix] = []
            for t in list() {
                guard let p = IPPrefix(t) else {
                    throw ConfigError("\(source)\(key): '\(t)' is not a CIDR prefix with its host bits clear (for example 10.0.0.0/8)")
                }
                out.append(p)
            }
            return out
        }
        switch key {
        case "os-cloud": osCloud = try text()
        case "snapshot": snapshot = try text()
        case "table": table = try int(UInt32.self)
        case "protocol": proto = try int(UInt8.self)
        case "allowed-prefix": allowedPrefixes = try prefixes()
        case "protected-prefix": protectedPrefixes = try prefixes()
        case "min-prefix-length-v4": minPrefixLengthV4 = try int(Int.self)
        case "min-prefix-length-v6": minPrefixLengthV6 = try int(Int.self)
        case "external-network": externalNetworks = list()
        case "project": projects = list()
        case "router-tag": routerTags = list()
        case "require-snat-disabled": requireSNATDisabled = try bool()
        case "address-scope": addressScope = try bool()
        case "nexthop-mode":
            let t = try text()
            guard let m = NexthopMode(rawValue: t) else { throw ConfigError("\(source)\(key): '\(t)' is not one of auto, objects, classic") }
            nexthopMode = m
        case "netns": netns = try text()
        case "interval": interval = try double()
        case "max-backoff": maxBackoff = try double()
        case "metrics-address": metricsAddress = try text()
        case "cleanup-on-exit": cleanupOnExit = try bool()
        case "log-format":
            let t = try text()
            guard let f = LogFormat(rawValue: t) else { throw ConfigError("\(source)\(key): '\(t)' is not logfmt or json") }
            logFormat = f
        case "log-level":
            let t = try text()
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(t) else {
                throw ConfigError("\(source)\(key): '\(t)' is not one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = t
        case "page-size": pageSize = try int(Int.self)
        case "request-timeout": requestTimeout = try double()
        case "read-timeout": readTimeout = try double()
        case "max-delete":
            let t = try text()
            guard let l = DeletionBrake.parseLimit(t) else {
                throw ConfigError("\(source)\(key): '\(t)' is not a percentage of the owned routes (10%), a number of routes (25) or off")
            }
            maxDelete = l
        case "delete-confirm-after":
            let t = try text()
            if ["never", "off", "none"].contains(t.lowercased()) { deleteConfirmAfter = nil; break }
            guard let d = Duration.parseHuman(t) else {
                throw ConfigError("\(source)\(key): '\(t)' is not a duration (90s, 10m, 1h, up to a year) or never")
            }
            deleteConfirmAfter = d
        case "dry-run": dryRun = try bool()
        default: throw ConfigError("unknown setting '\(key)'")
        }
    }
}
