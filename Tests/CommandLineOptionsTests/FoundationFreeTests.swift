#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing

/// The shipped binary links FoundationEssentials, not Foundation: full Foundation pulls in ICU and makes the
/// stripped binary about 78 MB instead of about 34 MB (the package test fails over 40 MiB, but only after a
/// release build of minutes). This catches the cause at once: an `import Foundation` that is not the
/// fallback branch of `#if canImport(FoundationEssentials)`.
@Suite struct FoundationFreeTests {
    /// The modules linked into `metadata-route-agent`.
    static let shippedModules = ["Model", "Netlink", "RoutePlanner", "OpenStack", "Events", "Agent", "SimpleYAML", "metadata-route-agent"]

    @Test func shippedModulesImportFullFoundationOnlyAsAFallback() throws {
        let sources = URL(filePath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appending(path: "Sources")
        var offenders: [String] = []
        var files = 0
        for module in Self.shippedModules {
            let dir = sources.appending(path: module)
            guard let walker = FileManager.default.enumerator(atPath: dir.path) else {
                Issue.record("no such module directory: \(dir.path)")
                continue
            }
            while let rel = walker.nextObject() as? String {
                guard rel.hasSuffix(".swift") else { continue }
                files += 1
                let text = try String(contentsOfFile: dir.appending(path: rel).path, encoding: .utf8)
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingWhitespace }
                for (i, line) in lines.enumerated() where line == "import Foundation" || line.hasPrefix("import Foundation.") {
                    if i == 0 || lines[i - 1] != "#else" { offenders.append("\(module)/\(rel):\(i + 1)") }
                }
            }
        }
        #expect(files > 50, "the scan found the sources")
        #expect(offenders.isEmpty, "import FoundationEssentials first (#if canImport(FoundationEssentials) … #else import Foundation #endif): \(offenders)")
    }
}

private extension Substring {
    var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
