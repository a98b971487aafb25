import Agent
import ArgumentParser
import Foundation
import Testing
@testable import metadata_route_agent

/// Every option of `SettingTable` reaches the command line: it is in `run --help` with its help text, and a
/// flag given there arrives in the settings under the option's name. Forgetting to declare one fails here.
@Suite struct OptionTableTests {
    /// A value each option accepts.
    func sample(_ option: any AnySetting) -> String {
        switch option.name {
        case "metrics-address": return "127.0.0.1:9100"
        case "table": return "200"
        case "events-url": return "amqp://mra@127.0.0.1:5672/"
        case let n where n.hasSuffix("prefix"): return "10.0.0.0/8"
        default: return option.defaultText?.components(separatedBy: ",").first ?? "x1"
        }
    }

    @Test func everyOptionIsInTheHelpOfRun() {
        let help = MetadataRouteAgent.helpMessage(for: Run.self, columns: 1000)
        for (_, option) in SettingTable.all {
            #expect(help.contains("--\(option.name)"), "--\(option.name) is missing from run --help")
            let firstWords = option.help.split(separator: " ").prefix(4).joined(separator: " ")
            #expect(help.contains(firstWords), "the help of --\(option.name) does not come from its declaration")
        }
    }

    @Test func everyOptionGivenAsAFlagArrivesUnderItsName() throws {
        for (_, option) in SettingTable.all {
            let args = option.isFlag ? ["run", "--\(option.name)"] : ["run", "--\(option.name)", sample(option)]
            let command = try #require(try MetadataRouteAgent.parseAsRoot(args) as? Run, "\(args)")
            var given = settingOverrides(of: command.options)
            for (k, v) in settingOverrides(of: command).values { given[k] = v }
            for (k, v) in settingOverrides(of: command.events).values { given[k] = v }
            #expect(given.values.count == 1, "\(args) set \(given.values.keys.sorted())")
            switch given[option.name] {
            case .flag(true)?: #expect(option.isFlag)
            case .text(let t)?: #expect(!option.isList && t == sample(option))
            case .list(let l)?: #expect(option.isList && l == [sample(option)])
            default: Issue.record("--\(option.name) did not arrive: \(given.values)")
            }
        }
    }

    @Test(arguments: [
        (["plan", "--request-timeout", "1e10"], "0.001 and 3600 seconds"),
        (["plan", "--read-timeout", "1e300"], "0.001 and 86400 seconds"),
        (["run", "--interval", "0"], "1 and 86400 seconds"),
        (["sync", "--min-prefix-length-v4", "40"], "1-32"),
        (["plan", "--nexthop-mode", "fast"], "one of auto, objects, classic"),
    ])
    func anOutOfRangeFlagIsAUsageErrorNamingTheRange(args: [String], expected: String) {
        do {
            _ = try MetadataRouteAgent.parseAsRoot(args)
            Issue.record("\(args) was accepted")
        } catch {
            #expect(MetadataRouteAgent.exitCode(for: error).rawValue == 64)
            #expect(MetadataRouteAgent.message(for: error).contains(expected), "\(MetadataRouteAgent.message(for: error))")
        }
    }

    /// The operator's guide lists every option too (its table is written by hand; this keeps it complete).
    @Test func theOperatorsGuideNamesEveryOption() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let guide = try String(contentsOf: root.appendingPathComponent("docs/operators-guide.md"), encoding: .utf8)
        for (_, option) in SettingTable.all {
            let short = option.name.replacingOccurrences(of: "min-prefix-length-v6", with: "-v6")
            #expect(guide.contains("`--\(option.name)") || guide.contains("`\(short)`") || guide.contains("/ `\(short)`"),
                    "docs/operators-guide.md does not mention --\(option.name)")
        }
    }

    @Test func theHelpListsEveryExitCode() {
        let help = MetadataRouteAgent.helpMessage(columns: 1000)
        for code in ["0 ", "1 ", "2 ", "64 "] { #expect(help.contains("  \(code)"), "exit code \(code) missing") }
        #expect(help.contains("deletions were held") && help.contains("holds the lock"))
    }

    @Test func runSaysWhichOptionsNeedARestart() {
        let help = MetadataRouteAgent.helpMessage(for: Run.self, columns: 1000)
        for (_, option) in SettingTable.all where option.needsRestart { #expect(help.contains(option.name)) }
        #expect(help.contains("need a restart"))
    }
}
