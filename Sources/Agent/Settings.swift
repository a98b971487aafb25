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
import SimpleYAML

/// Every setting of the agent, read as `settings.table`, `settings.interval`, … — one property for each
/// option declared in `SettingTable` (Options.swift), with that option's default until something sets it.
///
/// A YAML configuration file (`--config`) holds any of them under the flag's name without dashes; flags given
/// on the command line win over the file. `key: ~` (or `null`) in the file means "not set": the default applies.
///
/// ```yaml
/// table: 200
/// allowed-prefix: [10.0.0.0/8, fd00::/8]
/// external-network: [public]
/// interval: 15
/// ```
@dynamicMemberLookup
public struct Settings: Sendable, Hashable {
    /// Values that differ from their option's default, by option name.
    private var values: [String: StoredValue] = [:]

    public init() {}

    public subscript<Value>(dynamicMember option: KeyPath<SettingTable, Setting<Value>>) -> Value {
        get { self[SettingTable.shared[keyPath: option]] }
        set { self[SettingTable.shared[keyPath: option]] = newValue }
    }

    public subscript<Value>(option: Setting<Value>) -> Value {
        get { values[option.name].flatMap { $0.value.base as? Value } ?? option.defaultValue }
        set { values[option.name] = newValue == option.defaultValue ? nil : StoredValue(value: AnyHashable(newValue)) }
    }

    /// The deletion brake for these settings (window: 10 minutes).
    public var deletionBrake: DeletionBrake { DeletionBrake(limit: self.maxDelete) }

    /// The planner's policy for these settings.
    public func policy(useNexthopObjects: Bool) -> Policy {
        var p = Policy()
        p.proto = self.proto
        p.table = self.table
        p.allowedPrefixes = self.allowedPrefixes
        p.protectedPrefixes = self.protectedPrefixes
        p.minPrefixLengthV4 = self.minPrefixLengthV4
        p.minPrefixLengthV6 = self.minPrefixLengthV6
        p.externalNetworks = self.externalNetworks
        p.projects = self.projects
        p.routerTags = self.routerTags
        p.requireSNATDisabled = self.requireSNATDisabled
        p.addressScopeMode = self.addressScope
        p.useNexthopObjects = useNexthopObjects
        return p
    }

    /// Checks every value against its option's range and rules (for settings built in code; loading checks each
    /// value as it is read).
    public func validate() throws(ConfigError) {
        for (_, option) in SettingTable.all {
            if let problem = option.problem(in: self) { throw ConfigError(problem) }
        }
    }

    /// The options whose values differ between `self` and `other`.
    public func changedOptions(comparedTo other: Settings) -> [any AnySetting] {
        SettingTable.all.map(\.setting).filter { $0.differs(self, other) }
    }
}

/// A value of any option's type; every option's type is `Sendable` (`SettingValue` requires it).
private struct StoredValue: Hashable, @unchecked Sendable {
    let value: AnyHashable
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

/// The settings given as flags, by option name: only those given, so that a flag left out does not hide the
/// file's value.
public struct SettingsOverrides: Sendable, Hashable {
    public var values: [String: SettingInput] = [:]
    public init() {}
    public subscript(key: String) -> SettingInput? {
        get { values[key] }
        set { values[key] = newValue }
    }
}

extension Settings {
    /// The names of every option, as flags (without dashes) and configuration-file keys.
    public static var keys: [String] { SettingTable.all.map(\.setting.name) }

    /// Settings from an optional YAML file, then the command line's flags on top.
    public static func load(configFile: String?, overrides: SettingsOverrides) throws(ConfigError) -> Settings {
        var s = Settings()
        if let path = configFile {
            for (key, value) in try parseConfigFile(path) {
                guard let option = SettingTable.named(key) else { throw ConfigError("\(path): unknown key '\(key)'") }
                if let value { try option.apply(value, to: &s, source: "\(path): ") } else { option.reset(in: &s) }
            }
        }
        for key in overrides.values.keys.sorted() {
            guard let option = SettingTable.named(key) else { throw ConfigError("unknown setting '\(key)'") }
            try option.apply(overrides.values[key]!, to: &s, source: "--")
        }
        try s.validate()
        return s
    }

    /// Reads a YAML mapping of settings; unknown keys are an error that names them. A `nil` value is a
    /// `~`/`null` in the file: the option is not set.
    static func parseConfigFile(_ path: String) throws(ConfigError) -> [(String, SettingInput?)] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("cannot read configuration file \(path): \(fileErrorText(error, path: path))")
        }
        let node: YAMLNode?
        do {
            node = try YAMLNode.parse(text)
        } catch {
            throw ConfigError("configuration file \(path) is not valid YAML: \(error)")
        }
        guard let node, !node.isNull else { return [] }
        guard case .mapping(let entries) = node else {
            throw ConfigError("configuration file \(path) must be a mapping of setting: value")
        }
        let map = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let keys = Settings.keys
        var out: [(String, SettingInput?)] = []
        for key in map.keys.sorted() {
            guard keys.contains(key) else {
                let hint = keys.first { $0.replacing("-", with: "_") == key || $0.replacing("-", with: "") == key.lowercased() }
                throw ConfigError("configuration file \(path): unknown key '\(key)'" + (hint.map { " (did you mean '\($0)'?)" } ?? "; known keys: \(keys.joined(separator: ", "))"))
            }
            let raw = map[key]!
            switch raw {
            case _ where raw.isNull: out.append((key, nil))   // `key:`, `~` or `null`: not set, the default applies
            case _ where raw.bool != nil: out.append((key, .flag(raw.bool!)))
            case .sequence(let items):
                if SettingTable.named(key)?.isList == false, items.count != 1 || items[0].string == nil {
                    throw ConfigError("configuration file \(path): '\(key)' takes one value, not a list")
                }
                var values: [String] = []
                for (i, item) in items.enumerated() {
                    guard let scalar = item.string else {
                        throw ConfigError("configuration file \(path): '\(key)' item \(i + 1) is \(item.isNull ? "empty (~/null)" : "a list or mapping"); write a flat list of values, e.g. \(key): [a, b]")
                    }
                    values.append(scalar)
                }
                out.append((key, .list(values)))
            case .mapping:
                throw ConfigError("configuration file \(path): '\(key)' must be a value or a list, not a mapping")
            case .scalar(let text, _):
                out.append((key, .text(text)))
            }
        }
        return out
    }
}
