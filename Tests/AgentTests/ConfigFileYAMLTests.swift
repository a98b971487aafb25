import Foundation
import Model
import Testing
@testable import Agent

/// The configuration file through the Foundation-free YAML parser (SimpleYAML) that replaced Yams.
@Suite struct ConfigFileYAMLTests {
    func load(_ text: String) throws -> Settings {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mra-yaml-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Settings.load(configFile: path, overrides: SettingsOverrides())
    }

    @Test func nullMeansNotSetSoTheDefaultApplies() throws {
        let s = try load("interval: ~\nmetrics-address: null\nexternal-network:\nprotocol: 201\n")
        #expect(s.interval == 10)
        #expect(s.metricsAddress == nil)
        #expect(s.externalNetworks == [])
        #expect(s.proto == 201)
    }

    @Test func blockListsQuotedValuesAndFlagsLoad() throws {
        let s = try load("""
        external-network:
          - public
          - "ext net 2"
        cleanup-on-exit: false
        require-snat-disabled: TRUE
        protected-prefix: ['192.0.2.0/24']
        """)
        #expect(s.externalNetworks == ["public", "ext net 2"])
        #expect(!s.cleanupOnExit)
        #expect(s.requireSNATDisabled)
        #expect(s.protectedPrefixes == [IPPrefix("192.0.2.0/24")!])
    }

    @Test(arguments: [
        ("external-network: [[a, b]]\n", "item 1 is a list or mapping"),
        ("table: {a: 1}\n", "not a mapping"),
        ("table: 200\ntable: 201\n", "duplicate key 'table'"),
        ("table: &t 200\n", "anchors, aliases and tags"),
        ("- table\n", "must be a mapping"),
        ("external-network: ext: net\n", "line 1: ': ' inside a plain value"),
        ("external-network:\n\t- public\n", "line 2: a tab in the indentation"),
        ("external-network: [public,\n  ext, , x]\n", "line 2: an empty entry"),
    ])
    func badFilesAreOneLineErrorsNamingTheFile(text: String, expected: String) {
        #expect { try load(text) } throws: { error in
            let message = "\(error)"
            return message.contains(expected) && message.contains("mra-yaml-") && !message.contains("\n")
        }
    }

    /// A file as an editor on another system may write it: a BOM, CRLF line ends, `---`, comments, a list at its
    /// key's indentation and a flow list over two lines.
    @Test func bomCRLFMarkersAndMultiLineLists() throws {
        let text = "\u{FEFF}--- # agent\r\nexternal-network:\r\n- public # the provider net\r\n- 'ext #2'\r\n"
            + "protected-prefix: [192.0.2.0/24,   # documentation\r\n  198.51.100.0/24]\r\ncleanup-on-exit: false\r\n...\r\n"
        let s = try load(text)
        #expect(s.externalNetworks == ["public", "ext #2"])
        #expect(s.protectedPrefixes == [IPPrefix("192.0.2.0/24")!, IPPrefix("198.51.100.0/24")!])
        #expect(!s.cleanupOnExit)
    }
}
