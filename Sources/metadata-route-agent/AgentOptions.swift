import Agent
import ArgumentParser
import Foundation

/// The options every subcommand shares: where Neutron's state comes from, the kernel table, the policy.
/// Each can also be set in the `--config` file under the same name without dashes; flags win.
struct AgentOptions: ParsableArguments {
    @Option(help: ArgumentHelp("YAML file with settings (keys are the long option names without dashes).", valueName: "file"))
    var config: String?

    @Option(name: .customLong("os-cloud"), help: ArgumentHelp("Cloud in clouds.yaml (default: $OS_CLOUD, else the OS_* variables).", valueName: "name"))
    var osCloud: String?

    @Option(help: ArgumentHelp("Read Neutron's state from this JSON snapshot instead of the API.", valueName: "file"))
    var snapshot: String?

    @Option(help: ArgumentHelp("Kernel routing table the agent writes (default: 254, main).", valueName: "n"))
    var table: UInt32?

    @Option(name: .customLong("protocol"), help: ArgumentHelp("Route protocol number that marks the agent's routes (default: 200).", valueName: "n"))
    var proto: UInt8?

    @Option(name: .customLong("allowed-prefix"), help: ArgumentHelp("Tenant prefixes may only lie inside these (repeatable; replaces the default 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, fc00::/7).", valueName: "cidr"))
    var allowedPrefix: [String] = []

    @Option(name: .customLong("protected-prefix"), help: ArgumentHelp("Never route a tenant prefix that overlaps this (repeatable; adds to the connected and external networks).", valueName: "cidr"))
    var protectedPrefix: [String] = []

    @Option(name: .customLong("min-prefix-length-v4"), help: ArgumentHelp("Refuse IPv4 tenant prefixes shorter than this (default: 16).", valueName: "n"))
    var minPrefixLengthV4: Int?

    @Option(name: .customLong("min-prefix-length-v6"), help: ArgumentHelp("Refuse IPv6 tenant prefixes shorter than this (default: 48).", valueName: "n"))
    var minPrefixLengthV6: Int?

    @Option(name: .customLong("external-network"), help: ArgumentHelp("Only routers whose gateway is on this external network, by ID or name (repeatable).", valueName: "id|name"))
    var externalNetwork: [String] = []

    @Option(help: ArgumentHelp("Only routers of this project ID (repeatable).", valueName: "id"))
    var project: [String] = []

    @Option(name: .customLong("router-tag"), help: ArgumentHelp("Only routers carrying this Neutron tag (repeatable; any of them).", valueName: "tag"))
    var routerTag: [String] = []

    @Flag(name: .customLong("require-snat-disabled"), inversion: .prefixedNo, help: "Only routers with SNAT disabled on their gateway.")
    var requireSNATDisabled: Bool?

    @Flag(name: .customLong("address-scope"), inversion: .prefixedNo, help: "Only subnets in the same address scope as the router's external network.")
    var addressScope: Bool?

    @Option(name: .customLong("nexthop-mode"), help: ArgumentHelp("auto (nexthop objects when the kernel has them), objects, or classic.", valueName: "mode"))
    var nexthopMode: String?

    @Option(help: ArgumentHelp("Work inside this named network namespace (/var/run/netns/NAME).", valueName: "name"))
    var netns: String?

    @Option(name: .customLong("page-size"), help: ArgumentHelp("Items per Neutron list page (default: 1000).", valueName: "n"))
    var pageSize: Int?

    @Option(name: .customLong("request-timeout"), help: ArgumentHelp("Seconds a Neutron or Keystone request may take (default: 30).", valueName: "s"))
    var requestTimeout: Double?

    @Option(name: .customLong("read-timeout"), help: ArgumentHelp("Seconds one whole read of Neutron may take, retries included (default: 90).", valueName: "s"))
    var readTimeout: Double?

    @Option(name: .customLong("max-delete"), help: ArgumentHelp("Deletion brake: most owned routes deleted per 10 minutes, as a percentage (10%, the default, never fewer than 5 routes), a number, or off. Deletions beyond it are held until confirmed.", valueName: "n|n%|off"))
    var maxDelete: String?

    @Option(name: .customLong("delete-confirm-after"), help: ArgumentHelp("Carry out held deletions once reads have wanted the same deletions this long (90s, 10m, 1h; default: never, only sync --force-delete).", valueName: "duration"))
    var deleteConfirmAfter: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp("logfmt (default) or json, to stderr.", valueName: "format"))
    var logFormat: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info (default), notice, warning, error.", valueName: "level"))
    var logLevel: String?

    /// The flags that were given, by setting name.
    func overrides() -> SettingsOverrides {
        var o = SettingsOverrides()
        func put(_ key: String, _ v: String?) { if let v { o[key] = .string(v) } }
        func put(_ key: String, _ v: [String]) { if !v.isEmpty { o[key] = .list(v) } }
        func put(_ key: String, _ v: Bool?) { if let v { o[key] = .flag(v) } }
        put("os-cloud", osCloud)
        put("snapshot", snapshot)
        put("table", table.map { "\($0)" })
        put("protocol", proto.map { "\($0)" })
        put("allowed-prefix", allowedPrefix)
        put("protected-prefix", protectedPrefix)
        put("min-prefix-length-v4", minPrefixLengthV4.map { "\($0)" })
        put("min-prefix-length-v6", minPrefixLengthV6.map { "\($0)" })
        put("external-network", externalNetwork)
        put("project", project)
        put("router-tag", routerTag)
        put("require-snat-disabled", requireSNATDisabled)
        put("address-scope", addressScope)
        put("nexthop-mode", nexthopMode)
        put("netns", netns)
        put("page-size", pageSize.map { "\($0)" })
        put("request-timeout", requestTimeout.map { "\($0)" })
        put("read-timeout", readTimeout.map { "\($0)" })
        put("max-delete", maxDelete)
        put("delete-confirm-after", deleteConfirmAfter)
        put("log-format", logFormat)
        put("log-level", logLevel)
        return o
    }
}

/// Options of the commands that talk to the kernel and print a result.
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("text (default) or json.", valueName: "format"))
    var format: OutputFormat = .text
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
