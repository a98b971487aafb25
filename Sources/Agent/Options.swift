#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Events
import Model
import RoutePlanner

// Every option of the agent is declared once, as one `Setting` in `SettingTable` below. That declaration
// gives the flag (`--name`), the configuration-file key (`name:`), the default, the validation (with the
// allowed range in its error), the help text and whether SIGHUP can change it while the daemon runs.
// YAML parsing, validation, reload and the command line's `--help` are all driven by this table.
//
// Adding an option: one `public let` here (its property name is how code reads it: `settings.maxDelete`),
// then its use. On the command line, the command that takes it declares `@Option(.maxDelete) var maxDelete`
// (or `@Flag(.name)`, `@Option(list: .name)`); `OptionTableTests` fails when a setting is missing from `--help`
// or from the configuration file.

/// The table of every option. Its stored properties, in declaration order, are the options.
public struct SettingTable: Sendable {
    public static let shared = SettingTable()

    /// Every option with the property name that reads it, in declaration order.
    public static let all: [(property: String, setting: any AnySetting)] = Mirror(reflecting: shared).children.compactMap { child in
        guard let label = child.label, let setting = child.value as? any AnySetting else { return nil }
        return (label, setting)
    }

    /// The option named `name` (flag without dashes, configuration-file key).
    public static func named(_ name: String) -> (any AnySetting)? { byName[name] }
    private static let byName: [String: any AnySetting] = Dictionary(uniqueKeysWithValues: all.map { ($0.setting.name, $0.setting) })

    // MARK: where Neutron's state comes from

    public let osCloud = Setting<String?>(
        "os-cloud", default: nil, valueName: "name",
        help: "Cloud in clouds.yaml (default: $OS_CLOUD, else the OS_* variables).")
    public let snapshot = Setting<String?>(
        "snapshot", default: nil, valueName: "file",
        help: "Read Neutron's state from this JSON snapshot instead of the API.")

    // MARK: ownership (what the agent writes, and where)

    public let table = Setting<UInt32>(
        "table", default: KernelRoute.mainTable, valueName: "n", defaultText: "254, main", restart: true,
        help: "Kernel routing table the agent writes.",
        range: 1...UInt32.max,
        check: { [0, 253, 255].contains($0) ? "table \($0) is reserved (0 unspec, 253 default, 255 local); use 254 (main) or a table of its own such as 200" : nil })
    public let proto = Setting<UInt8>(
        "protocol", default: 200, valueName: "n", restart: true,
        help: "Route protocol number that marks the agent's routes.",
        range: 5...254,
        check: { $0 < 5 || $0 == 255 ? "protocol \($0) is reserved by the kernel (0-4, 255); pick a number such as 200" : nil })
    public let netns = Setting<String?>(
        "netns", default: nil, valueName: "name", restart: true,
        help: "Work inside this named network namespace (/var/run/netns/NAME; needs CAP_SYS_ADMIN).")

    // MARK: the policy

    public let allowedPrefixes = Setting<[IPPrefix]>(
        "allowed-prefix", default: Policy.defaultAllowedPrefixes, valueName: "cidr",
        help: "Tenant prefixes may only lie inside these; repeatable, replaces the default list.",
        check: { $0.isEmpty ? "allowed-prefix needs at least one prefix" : nil })
    public let protectedPrefixes = Setting<[IPPrefix]>(
        "protected-prefix", default: [], valueName: "cidr",
        help: "Never route a tenant prefix that overlaps this; repeatable, adds to the connected and external networks.")
    public let minPrefixLengthV4 = Setting<Int>(
        "min-prefix-length-v4", default: 16, valueName: "n",
        help: "Refuse IPv4 tenant prefixes shorter than this.", range: 1...32)
    public let minPrefixLengthV6 = Setting<Int>(
        "min-prefix-length-v6", default: 48, valueName: "n",
        help: "Refuse IPv6 tenant prefixes shorter than this.", range: 1...128)
    public let externalNetworks = Setting<[String]>(
        "external-network", default: [], valueName: "id|name",
        help: "Only routers whose gateway is on this external network, by ID or name; repeatable.")
    public let projects = Setting<[String]>(
        "project", default: [], valueName: "id",
        help: "Only routers of this project ID; repeatable.")
    public let routerTags = Setting<[String]>(
        "router-tag", default: [], valueName: "tag",
        help: "Only routers carrying this Neutron tag; repeatable, any of them.")
    public let requireSNATDisabled = Setting<Bool>(
        "require-snat-disabled", default: false,
        help: "Only routers with SNAT disabled on their gateway.")
    public let addressScope = Setting<Bool>(
        "address-scope", default: false,
        help: "Only subnets in the same address scope as the router's external network.")
    public let nexthopMode = Setting<NexthopMode>(
        "nexthop-mode", default: .auto, valueName: "mode",
        help: "auto (nexthop objects when the kernel has them), objects, or classic.")

    // MARK: reading Neutron

    public let pageSize = Setting<Int>(
        "page-size", default: 1000, valueName: "n",
        help: "Items per Neutron list page.", range: 1...100_000)
    public let requestTimeout = Setting<Double>(
        "request-timeout", default: 30, valueName: "s",
        help: "Seconds a Neutron or Keystone request may take.", seconds: 0.001...3600)
    public let readTimeout = Setting<Double>(
        "read-timeout", default: 90, valueName: "s",
        help: "Seconds one whole read of Neutron may take, retries included.", seconds: 0.001...86_400)

    // MARK: logging

    public let logFormat = Setting<LogFormat>(
        "log-format", default: .logfmt, valueName: "format", restart: true,
        help: "Log line format on stderr: logfmt or json.")
    public let logLevel = Setting<LogLevel>(
        "log-level", default: .info, valueName: "level", restart: true,
        help: "Least severe level logged: trace, debug, info, notice, warning, error, critical.")

    // MARK: the daemon (run)

    public let interval = Setting<Double>(
        "interval", default: 10, valueName: "s",
        help: "Seconds between reconciles (±10% jitter).", seconds: 1...86_400)
    public let maxBackoff = Setting<Double>(
        "max-backoff", default: 300, valueName: "s",
        help: "Longest wait between retries while Neutron is unreachable.", seconds: 1...86_400)
    public let metricsAddress = Setting<String?>(
        "metrics-address", default: nil, valueName: "host:port", restart: true,
        help: "Serve /metrics, /healthz and /readyz on this address.",
        check: { address in
            guard let address else { return nil }
            do { _ = try HostPort.parse(address); return nil } catch { return "\(error)" }
        })
    public let cleanupOnExit = Setting<Bool>(
        "cleanup-on-exit", default: false,
        help: "Delete the owned routes when stopping.")
    public let dryRun = Setting<Bool>(
        "dry-run", default: false,
        help: "Shadow mode (run): read, plan and log what would change, with the same metrics; write nothing, take no lock.")

    // MARK: Neutron's notifications (RabbitMQ)

    public let eventsURL = Setting<String?>(
        "events-url", default: nil, valueName: "amqp[s]://user@host:port/vhost", restart: true,
        help: "Follow Neutron's notifications on this RabbitMQ broker and re-read only what changed (no password in the URL: use --events-password-file).",
        check: { url in
            guard let url else { return nil }
            do { _ = try AMQPEndpoint(parsing: url); return nil } catch { return "events-url: \(error)" }
        })
    public let eventsPasswordFile = Setting<String?>(
        "events-password-file", default: nil, valueName: "file", restart: true,
        help: "File whose first line is the broker password (never on the command line, never logged).")
    public let eventsExchange = Setting<String>(
        "events-exchange", default: "neutron", valueName: "name", restart: true,
        help: "Neutron's notification exchange (declared passively: its settings stay Neutron's).")
    public let eventsRoutingKey = Setting<String>(
        "events-routing-key", default: "notifications.info", valueName: "key", restart: true,
        help: "Routing key of Neutron's notifications (the topic in oslo_messaging_notifications, plus .info).")
    public let eventsQueue = Setting<String?>(
        "events-queue", default: nil, valueName: "name", defaultText: "metadata-route-agent.<hostname>.<table>.<protocol>", restart: true,
        help: "The agent's own queue (durable, expires an hour after its last use, at most 10,000 messages); give each agent its own.")
    public let eventsCAFile = Setting<String?>(
        "events-ca-file", default: nil, valueName: "file", restart: true,
        help: "CA bundle that verifies the broker's certificate (amqps://).")
    public let resyncInterval = Setting<Double>(
        "resync-interval", default: 300, valueName: "s",
        help: "Seconds between safety-net full reads while notifications flow (with --events-url).", seconds: 10...86_400)

    // MARK: the deletion brake

    public let maxDelete = Setting<DeletionBrake.Limit>(
        "max-delete", default: .percent(10), valueName: "n%|n|off",
        help: "Deletion brake: most owned routes deleted per 10 minutes, as a percentage of the owned routes (never fewer than 5 routes), a number, or off; deletions beyond it are held until confirmed (sync --force-delete).")
    public let deleteConfirmAfter = Setting<DeleteConfirmation>(
        "delete-confirm-after", default: .never, valueName: "duration",
        help: "Carry out held deletions once reads have kept wanting the same deletions this long (90s, 10m, 1h), or never (only sync --force-delete confirms).")
}

/// When held deletions are carried out without an operator (`--delete-confirm-after`).
public enum DeleteConfirmation: ScalarSettingValue {
    /// Only `sync --force-delete` confirms.
    case never
    /// Once reads have kept wanting the same deletions this long.
    case after(Duration)

    public var delay: Duration? {
        if case .after(let d) = self { return d }
        return nil
    }
    public static func parse(_ text: String) -> DeleteConfirmation? {
        if ["never", "off", "none"].contains(text.lowercased()) { return .never }
        return Duration.parseHuman(text).map { .after($0) }
    }
    public static var expected: String { "a duration (90s, 10m, 1h; at most a year) or never" }
    public var settingText: String? {
        switch self {
        case .never: return "never"
        case .after(let d): return humanDuration(d)
        }
    }
}

extension DeletionBrake.Limit: ScalarSettingValue {
    public static func parse(_ text: String) -> DeletionBrake.Limit? { DeletionBrake.parseLimit(text) }
    public static var expected: String { "a percentage of the owned routes (10%), a number of routes (25) or off" }
    public var settingText: String? { DeletionBrake(limit: self).description }
}

/// How routes reach their next hop in the kernel.
public enum NexthopMode: String, Sendable, Hashable, CaseIterable, Codable, SettingEnum {
    /// Nexthop objects when the kernel supports them (5.3+), classic `via` routes otherwise.
    case auto
    /// Always nexthop objects; fail when the kernel lacks them.
    case objects
    /// Always classic `via` routes.
    case classic
}

public enum LogFormat: String, Sendable, Hashable, CaseIterable, Codable, SettingEnum { case logfmt, json }

/// The least severe log level written (swift-log's levels).
public enum LogLevel: String, Sendable, Hashable, CaseIterable, Codable, SettingEnum {
    case trace, debug, info, notice, warning, error, critical
}

// MARK: - The machinery

/// One setting's value as written on the command line or in the configuration file, before it is parsed.
public enum SettingInput: Sendable, Hashable {
    case text(String)
    case list([String])
    case flag(Bool)
}

/// A kind of value an option can hold.
public protocol SettingValue: Sendable, Hashable {
    /// Parses an input; the error is the part of a sentence after the option's name ("'x' is not a number").
    static func read(_ input: SettingInput) -> Result<Self, SettingProblem>
    /// The value as it is written (for defaults in `--help` and for log lines); nil when there is none.
    var settingText: String? { get }
    static var isFlag: Bool { get }
    static var isList: Bool { get }
}

extension SettingValue {
    public static var isFlag: Bool { false }
    public static var isList: Bool { false }
}

/// Why an input is not a value, as the end of a sentence that starts with the option's name.
public struct SettingProblem: Error, Sendable {
    public let text: String
    public init(_ text: String) { self.text = text }
}

/// A single value written as text (numbers, words, prefixes).
public protocol ScalarSettingValue: SettingValue {
    static func parse(_ text: String) -> Self?
    /// What a valid value looks like ("a whole number", "one of auto, objects, classic").
    static var expected: String { get }
}

extension ScalarSettingValue {
    public static func read(_ input: SettingInput) -> Result<Self, SettingProblem> {
        let text: String
        switch input {
        case .text(let t): text = t
        case .flag(let b): text = b ? "true" : "false"
        case .list(let l) where l.count == 1: text = l[0]
        case .list: return .failure(SettingProblem("takes one value, not a list"))
        }
        guard let v = parse(text) else { return .failure(SettingProblem("'\(text)' is not \(expected)")) }
        return .success(v)
    }
    public var settingText: String? { "\(self)" }
}

/// Modes, formats and levels: one of a fixed set of words.
public protocol SettingEnum: ScalarSettingValue, CaseIterable, RawRepresentable where RawValue == String {}

extension SettingEnum {
    public static func parse(_ text: String) -> Self? { Self(rawValue: text) }
    public static var expected: String { "one of " + allCases.map(\.rawValue).joined(separator: ", ") }
    public var settingText: String? { rawValue }
}

extension String: ScalarSettingValue {
    public static func parse(_ text: String) -> String? { text.isEmpty ? nil : text }
    public static var expected: String { "a non-empty value" }
}

extension Int: ScalarSettingValue {
    public static func parse(_ text: String) -> Int? { Int(text) }
    public static var expected: String { "a whole number" }
}

extension UInt32: ScalarSettingValue {
    public static func parse(_ text: String) -> UInt32? { UInt32(text) }
    public static var expected: String { "a number in 0...\(UInt32.max)" }
}

extension UInt8: ScalarSettingValue {
    public static func parse(_ text: String) -> UInt8? { UInt8(text) }
    public static var expected: String { "a number in 0...255" }
}

extension Double: ScalarSettingValue {
    public static func parse(_ text: String) -> Double? { Double(text).flatMap { $0.isFinite ? $0 : nil } }
    public static var expected: String { "a number of seconds" }
    public var settingText: String? { self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : "\(self)" }
}

extension Bool: ScalarSettingValue {
    public static func parse(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }
    public static var expected: String { "true or false" }
    public static var isFlag: Bool { true }
}

extension IPPrefix: ScalarSettingValue {
    public static func parse(_ text: String) -> IPPrefix? { IPPrefix(text) }
    public static var expected: String { "a CIDR prefix with its host bits clear (for example 10.0.0.0/8)" }
}

extension Optional: SettingValue where Wrapped: ScalarSettingValue {
    public static func read(_ input: SettingInput) -> Result<Self, SettingProblem> { Wrapped.read(input).map { .some($0) } }
    public var settingText: String? { self.flatMap(\.settingText) }
}

extension Array: SettingValue where Element: ScalarSettingValue {
    public static func read(_ input: SettingInput) -> Result<Self, SettingProblem> {
        let items: [String]
        switch input {
        case .text(let t): items = [t]
        case .list(let l): items = l
        case .flag(let b): items = [b ? "true" : "false"]
        }
        var out: [Element] = []
        for item in items {
            guard let v = Element.parse(item) else { return .failure(SettingProblem("'\(item)' is not \(Element.expected)")) }
            out.append(v)
        }
        return .success(out)
    }
    public var settingText: String? { isEmpty ? nil : compactMap(\.settingText).joined(separator: ", ") }
    public static var isList: Bool { true }
}

/// One option: its name (flag and file key), default, help, validation, and whether SIGHUP can change it.
public struct Setting<Value: SettingValue>: AnySetting {
    public let name: String
    public let defaultValue: Value
    public let valueName: String
    public let summary: String
    public let needsRestart: Bool
    private let explicitDefaultText: String?
    private let rangeText: String?
    private let check: @Sendable (Value) -> String?

    /// - Parameters:
    ///   - defaultText: how the default reads in `--help` (default: the default value itself).
    ///   - restart: true when a running daemon cannot change it on SIGHUP.
    ///   - check: returns a one-line reason when a value is not acceptable.
    public init(_ name: String, default: Value, valueName: String = "value", defaultText: String? = nil,
                restart: Bool = false, help: String, check: @escaping @Sendable (Value) -> String? = { _ in nil }) {
        self.name = name
        self.defaultValue = `default`
        self.valueName = valueName
        self.summary = help
        self.needsRestart = restart
        self.explicitDefaultText = defaultText
        self.rangeText = nil
        self.check = check
    }

    private init(_ name: String, default: Value, valueName: String, defaultText: String?, restart: Bool, help: String,
                 rangeText: String, check: @escaping @Sendable (Value) -> String?) {
        self.name = name
        self.defaultValue = `default`
        self.valueName = valueName
        self.summary = help
        self.needsRestart = restart
        self.explicitDefaultText = defaultText
        self.rangeText = rangeText
        self.check = check
    }

    public var isFlag: Bool { Value.isFlag }
    public var isList: Bool { Value.isList }
    public var defaultText: String? {
        if let explicitDefaultText { return explicitDefaultText }
        if Value.isFlag, defaultValue.settingText == "false" { return nil }   // an off switch needs no "default: false"
        return defaultValue.settingText
    }

    /// The help line: what it does, the allowed range and the default.
    public var help: String {
        var parts: [String] = []
        if let rangeText { parts.append(rangeText) }
        if let d = defaultText, !summary.contains("(default") { parts.append("default: \(d)") }
        if parts.isEmpty { return summary }
        let sentence = summary.hasSuffix(".") ? String(summary.dropLast()) : summary
        return "\(sentence) (\(parts.joined(separator: "; ")))."
    }

    /// Why `value` is not acceptable, or nil.
    public func problem(with value: Value) -> String? { check(value) }

    public func apply(_ input: SettingInput, to settings: inout Settings, source: String) throws(ConfigError) {
        switch Value.read(input) {
        case .failure(let p):
            throw ConfigError("\(source)\(name): \(p.text)" + (rangeText.map { " (\($0))" } ?? ""))
        case .success(let v):
            if let p = check(v) { throw ConfigError(source.hasPrefix("--") ? "--\(p)" : "\(source)\(p)") }
            settings[self] = v
        }
    }

    public func reset(in settings: inout Settings) { settings[self] = defaultValue }
    public func problem(in settings: Settings) -> String? { check(settings[self]) }
    public func differs(_ a: Settings, _ b: Settings) -> Bool { a[self] != b[self] }
    public func copy(from source: Settings, to target: inout Settings) { target[self] = source[self] }
    public func text(in settings: Settings) -> String { settings[self].settingText ?? "(none)" }
}

extension Setting where Value: Comparable & SettingValue {
    /// An option whose values lie in `range`; a value outside it is refused with the range in the error.
    public init(_ name: String, default: Value, valueName: String = "n", defaultText: String? = nil, restart: Bool = false,
                help: String, range: ClosedRange<Value>, check: @escaping @Sendable (Value) -> String? = { _ in nil }) {
        let text = "\(range.lowerBound.settingText ?? "")-\(range.upperBound.settingText ?? "")"
        self.init(name, default: `default`, valueName: valueName, defaultText: defaultText, restart: restart, help: help,
                  rangeText: text, check: { v in
                      if let p = check(v) { return p }
                      return range.contains(v) ? nil : "\(name) must be \(text), not \(v.settingText ?? "\(v)")"
                  })
    }
}

extension Setting where Value == Double {
    /// A number of seconds in `range` (which also keeps every conversion to a `Duration` far from overflowing).
    public init(_ name: String, default: Double, valueName: String = "s", restart: Bool = false, help: String,
                seconds range: ClosedRange<Double>) {
        let text = "\(range.lowerBound.settingText ?? "")-\(range.upperBound.settingText ?? "") s"
        self.init(name, default: `default`, valueName: valueName, defaultText: nil, restart: restart, help: help,
                  rangeText: text, check: { v in
                      range.contains(v) ? nil : "\(name) must be between \(range.lowerBound.settingText ?? "") and \(range.upperBound.settingText ?? "") seconds, not \(v.settingText ?? "\(v)")"
                  })
    }
}

/// Any option, whatever its value's type: what YAML parsing, validation, reload and `--help` need.
public protocol AnySetting: Sendable {
    /// The flag without dashes and the configuration-file key.
    var name: String { get }
    /// The help line, with the allowed range and the default.
    var help: String { get }
    /// The placeholder in `--help` (`<n>`, `<cidr>`).
    var valueName: String { get }
    var isFlag: Bool { get }
    var isList: Bool { get }
    /// True when a running daemon cannot change it on SIGHUP.
    var needsRestart: Bool { get }
    var defaultText: String? { get }
    func apply(_ input: SettingInput, to settings: inout Settings, source: String) throws(ConfigError)
    /// Back to the default (a `~`/`null` in the configuration file).
    func reset(in settings: inout Settings)
    func problem(in settings: Settings) -> String?
    func differs(_ a: Settings, _ b: Settings) -> Bool
    func copy(from source: Settings, to target: inout Settings)
    func text(in settings: Settings) -> String
}

extension Duration {
    /// `seconds` as a Duration, clamped to 0...100 years so that no value can trap on overflow
    /// (the options' ranges keep real values far inside this).
    public static func seconds(clamping seconds: Double) -> Duration {
        let limit = 3_155_760_000.0
        guard seconds.isFinite else { return seconds > 0 ? .seconds(limit) : .zero }
        return .seconds(Swift.min(Swift.max(seconds, 0), limit))
    }
}
