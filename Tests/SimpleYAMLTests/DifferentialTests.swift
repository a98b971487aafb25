import Foundation
import SimpleYAML
import Testing

enum PyYAMLProbe {
    /// Whether `python3 -c 'import yaml'` works; under CI the tests run regardless, and fail without it.
    static let canRun: Bool = {
        if ProcessInfo.processInfo.environment["CI"] != nil { return true }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import yaml"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()
}

/// SimpleYAML against PyYAML (`yaml.BaseLoader`: structure and scalar text, no YAML 1.1 typing) on the corpus of
/// `YAMLCorpus` and on mutations of it. Needs python3 with PyYAML (Debian: python3-yaml, installed by
/// scripts/setup-deps.sh): without it the test fails under CI (`CI` set) and is skipped elsewhere.
@Suite(.enabled(if: PyYAMLProbe.canRun, "needs python3 with PyYAML (python3-yaml)"))
struct DifferentialTests {

    static let script = """
    import sys, os, json, yaml
    d, n = sys.argv[1], int(sys.argv[2])
    for i in range(n):
        with open(os.path.join(d, '%d.yaml' % i), encoding='utf-8', newline='') as f:
            text = f.read()
        try:
            out = json.dumps(yaml.load(text, Loader=yaml.BaseLoader), ensure_ascii=True, separators=(',', ':'))
        except Exception as e:
            out = 'ERR ' + ' '.join(str(e).split())
        print(out)
    """

    /// PyYAML's reading of each text, or nil when python3 or PyYAML is missing.
    static func pyyaml(_ texts: [String]) throws -> [String]? {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mra-yaml-diff-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (i, t) in texts.enumerated() {
            try Data(t.utf8).write(to: dir.appendingPathComponent("\(i).yaml"))
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, dir.path, String(texts.count)]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= texts.count else { return nil }
        return Array(lines.prefix(texts.count))
    }

    static func pyyamlOrSkip(_ texts: [String]) throws -> [String]? {
        if let r = try pyyaml(texts) { return r }
        Issue.record("python3 with PyYAML is needed for the differential YAML test (Debian: apt-get install python3-yaml; scripts/setup-deps.sh)")
        return nil
    }

    static func ours(_ text: String) -> String {
        do { return YAMLCorpus.json(try YAMLNode.parse(text)) } catch { return "ERR \(error)" }
    }

    /// PyYAML refusals that are PyYAML's own (YAML 1.1) rule: a tab as a separator (`a:<tab>b`, a trailing tab).
    /// YAML 1.2 reads these, and so does SimpleYAML.
    static func isPyYAMLQuirk(_ py: String) -> Bool {
        py.contains("found character '\\t' that cannot start any token")
    }

    @Test func corpusParsesExactlyAsPyYAMLReadsIt() throws {
        let cases = YAMLCorpus.handWritten + YAMLCorpus.random(count: 600, seed: 0x5EED)
        guard let py = try Self.pyyamlOrSkip(cases.map(\.text)) else { return }
        var compared = 0
        for (c, p) in zip(cases, py) {
            let o = Self.ours(c.text)
            if o == p { compared += 1; continue }
            if o.hasPrefix("ERR "), c.mayRefuse { continue }
            if p.hasPrefix("ERR "), c.mayAcceptWherePyYAMLRefuses { continue }
            Issue.record("\(c.name):\n\(c.text)\nPyYAML:     \(p)\nSimpleYAML: \(o)")
        }
        #expect(compared >= cases.count - 10, "only \(compared) of \(cases.count) documents compared equal")
    }

    @Test func invalidDocumentsAreInvalidForPyYAMLToo() throws {
        guard let py = try Self.pyyamlOrSkip(YAMLCorpus.invalid) else { return }
        for (t, p) in zip(YAMLCorpus.invalid, py) {
            #expect(p.hasPrefix("ERR "), "PyYAML reads \(t.debugDescription) as \(p): the corpus entry is not invalid")
        }
    }

    /// Small random edits of the corpus (an indicator inserted, a character deleted, a line re-indented):
    /// wherever PyYAML reads the result, SimpleYAML reads the same or refuses with an error; it never gives a
    /// value where PyYAML refuses (except PyYAML's YAML 1.1 quirks).
    @Test func mutatedDocumentsNeverReadDifferently() throws {
        var r = YAMLCorpus.Rng(state: 0xF00D)
        let base = (YAMLCorpus.handWritten + YAMLCorpus.random(count: 120, seed: 99)).map(\.text)
        let inserts = [" ", ":", "-", "#", "'", "\"", "[", "]", "{", "}", ",", "|", ">", "\n", "?", "&", "*", "!", "%", "@",
                       "`", "\\", "x", "0", " #", ": ", "- ", "\n  ", "  ", "\t"]
        var texts: [String] = []
        for _ in 0..<1500 {
            var chars = Array(r.pick(base))
            for _ in 0...r.below(3) {
                let at = r.below(chars.count + 1)
                switch r.below(3) {
                case 0: chars.insert(contentsOf: r.pick(inserts), at: at)
                case 1: if at < chars.count { chars.remove(at: at) }
                default:
                    var lines = String(chars).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    let l = r.below(lines.count)
                    lines[l] = String(repeating: " ", count: r.below(4)) + lines[l].drop { $0 == " " }
                    chars = Array(lines.joined(separator: "\n"))
                }
            }
            texts.append(String(chars))
        }
        guard let py = try Self.pyyamlOrSkip(texts) else { return }
        var same = 0, bothRefuse = 0, refused = 0
        for (t, p) in zip(texts, py) {
            let o = Self.ours(t)
            if o == p || (p == "\"\"" && o == "null") { same += 1; continue }   // `---` alone: PyYAML '' , ours nil
            if o.hasPrefix("ERR "), p.hasPrefix("ERR ") { bothRefuse += 1; continue }
            if o.hasPrefix("ERR ") { refused += 1; continue }
            if p.hasPrefix("ERR "), Self.isPyYAMLQuirk(p) { continue }
            Issue.record("\(t.debugDescription)\nPyYAML:     \(p)\nSimpleYAML: \(o)")
        }
        #expect(same > texts.count / 3, "\(same) equal, \(bothRefuse) refused by both, \(refused) by SimpleYAML only")
        #expect(refused < texts.count / 20, "SimpleYAML alone refused \(refused) of \(texts.count)")
    }

}

/// Needs nothing but SimpleYAML.
@Suite struct RandomInputTests {
    @Test func invalidDocumentsAreRefused() {
        for t in YAMLCorpus.invalid {
            #expect(throws: YAMLError.self, "\(t.debugDescription)") { try YAMLNode.parse(t) }
        }
    }

    /// Random bytes and random YAML-ish token soup: an error naming a line, or a value, never a crash.
    @Test func randomInputNeverCrashes() {
        var r = YAMLCorpus.Rng(state: 42)
        let tokens = ["a", ": ", "- ", "\n", "  ", "#", "'", "\"", "[", "]", "{", "}", ",", "|", ">", "|+", ">-", "\\",
                      "\\u00", "---", "...", "\t", "\r\n", "é", "\u{FEFF}", "?", "&a", "*a", "!!str", "<<", "%YAML 1.2"]
        for n in 0..<2500 {
            let text: String
            if n % 2 == 0 {
                text = String(decoding: (0..<r.below(200)).map { _ in UInt8(truncatingIfNeeded: r.next()) }, as: UTF8.self)
            } else {
                text = (0..<r.below(60)).map { _ in r.pick(tokens) }.joined()
            }
            do {
                _ = try YAMLNode.parse(text)
            } catch {
                let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).count
                #expect(error.line >= 1 && error.line <= lines + 1, "\(text.debugDescription): \(error)")
                #expect(!error.message.isEmpty && !error.message.contains("\n"))
            }
        }
        // Deep nesting is refused, not a stack overflow.
        for deep in ["a: " + String(repeating: "[", count: 20_000), String(repeating: "- ", count: 10_000) + "x",
                     (0..<2000).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n")] {
            #expect(throws: YAMLError.self) { try YAMLNode.parse(deep) }
        }
    }
}
