import Agent
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The options every subcommand shares: where Neutron's state comes from, the kernel table, the policy.
/// Each can also be set in the `--config` file under the same name without dashes; flags win.
///
/// Every option's name, help, default and validation come from its declaration in `SettingTable` (Agent's
/// Options.swift); a property here only says that these commands take it. Its Swift name must be the table's
/// property name (`settingOverrides(of:)` matches them, and `OptionTableTests` checks every option reaches `--help`).
struct AgentOptions: ParsableArguments {
    @Option(help: ArgumentHelp("YAML file with settings (keys are the long option names without dashes; a key set to ~ keeps its default).", valueName: "file"))
    var config: String?

    @Option(\.osCloud) var osCloud: String?
    @Option(\.snapshot) var snapshot: String?
    @Option(\.table) var table: String?
    @Option(\.proto) var proto: String?
    @Option(list: \.allowedPrefixes) var allowedPrefixes: [String]
    @Option(list: \.protectedPrefixes) var protectedPrefixes: [String]
    @Option(\.minPrefixLengthV4) var minPrefixLengthV4: String?
    @Option(\.minPrefixLengthV6) var minPrefixLengthV6: String?
    @Option(list: \.externalNetworks) var externalNetworks: [String]
    @Option(list: \.projects) var projects: [String]
    @Option(list: \.routerTags) var routerTags: [String]
    @Flag(\.requireSNATDisabled) var requireSNATDisabled: Bool?
    @Flag(\.addressScope) var addressScope: Bool?
    @Option(\.nexthopMode) var nexthopMode: String?
    @Option(\.netns) var netns: String?
    @Option(\.pageSize) var pageSize: String?
    @Option(\.requestTimeout) var requestTimeout: String?
    @Option(\.readTimeout) var readTimeout: String?
    @Option(\.logFormat) var logFormat: String?
    @Option(\.logLevel) var logLevel: String?
    @Option(\.maxDelete) var maxDelete: String?
    @Option(\.deleteConfirmAfter) var deleteConfirmAfter: String?

    /// The flags that were given, by option name.
    func overrides() -> SettingsOverrides { settingOverrides(of: self) }

    /// Each flag's value is checked as it would be in the file: range and form, with the range in the error.
    func validate() throws { try validateSettingFlags(of: self) }
}

// MARK: - Declaring a command-line option from its `SettingTable` entry

extension Option where Value == String? {
    /// A single-valued option declared by `SettingTable`: its name, value name and help come from there.
    init<T>(_ option: KeyPath<SettingTable, Setting<T>>) {
        let s = SettingTable.shared[keyPath: option]
        self.init(name: .customLong(s.name), help: ArgumentHelp(s.help, valueName: s.valueName))
    }
}

extension Option where Value == [String] {
    /// A repeatable option declared by `SettingTable`.
    init<T>(list option: KeyPath<SettingTable, Setting<T>>) {
        let s = SettingTable.shared[keyPath: option]
        self.init(wrappedValue: [], name: .customLong(s.name), help: ArgumentHelp(s.help, valueName: s.valueName))
    }
}

extension Flag where Value == Bool? {
    /// An on/off option declared by `SettingTable`: `--name` and `--no-name`.
    init(_ option: KeyPath<SettingTable, Setting<Bool>>) {
        let s = SettingTable.shared[keyPath: option]
        self.init(name: .customLong(s.name), inversion: .prefixedNo, help: ArgumentHelp(s.help))
    }
}

/// The option flags given in a parsed command (or option group), by option name: each property declared with
/// a `SettingTable` key path and named like its table entry.
func settingOverrides(of command: Any) -> SettingsOverrides {
    let byProperty = Dictionary(uniqueKeysWithValues: SettingTable.all.map { ($0.property, $0.setting) })
    var o = SettingsOverrides()
    for child in Mirror(reflecting: command).children {
        guard let label = child.label, label.hasPrefix("_"), let option = byProperty[String(label.dropFirst())] else { continue }
        switch child.value {
        case let v as Option<String?>: if let text = v.wrappedValue { o[option.name] = .text(text) }
        case let v as Option<[String]>: if !v.wrappedValue.isEmpty { o[option.name] = .list(v.wrappedValue) }
        case let v as Flag<Bool?>: if let b = v.wrappedValue { o[option.name] = .flag(b) }
        default: continue
        }
    }
    return o
}

/// Checks each given flag's value against its option (form and range); a bad one is a usage error (exit 64).
func validateSettingFlags(of command: Any) throws {
    var scratch = Settings()
    let given = settingOverrides(of: command)
    for key in given.values.keys.sorted() {
        guard let option = SettingTable.named(key) else { continue }
        do {
            try option.apply(given.values[key]!, to: &scratch, source: "--")
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Where Neutron's notifications come from (`run` follows them, `check` tests the binding).
struct EventsOptions: ParsableArguments {
    @Option(\.eventsURL) var eventsURL: String?
    @Option(\.eventsPasswordFile) var eventsPasswordFile: String?
    @Option(\.eventsExchange) var eventsExchange: String?
    @Option(\.eventsRoutingKey) var eventsRoutingKey: String?
    @Option(\.eventsQueue) var eventsQueue: String?
    @Option(\.eventsCAFile) var eventsCAFile: String?

    func validate() throws { try validateSettingFlags(of: self) }
}

/// Options of the commands that talk to the kernel and print a result.
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("text (default) or json.", valueName: "format"))
    var format: OutputFormat = .text
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
