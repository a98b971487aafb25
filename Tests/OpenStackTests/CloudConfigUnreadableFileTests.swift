import Foundation
import Synchronization
import Testing
@testable import OpenStack

@Suite struct CloudConfigUnreadableFileTests {
    /// openstacksdk skips a clouds.yaml it cannot read and moves on; so does the agent, but it says so in one
    /// line naming the file. (A directory stands in for an unreadable file, so the test holds for root too.)
    @Test func anUnreadableCloudsYamlIsSkippedWithOneWarningNamingIt() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        let unreadable = dirs.root.appendingPathComponent("d1/clouds.yaml").path
        try FileManager.default.createDirectory(atPath: unreadable, withIntermediateDirectories: true)
        try dirs.write(2, "clouds.yaml", prodYAML)
        let warnings = Mutex<[String]>([])
        let c = try CloudConfig.resolve(cloud: "prod", environment: [:], searchPaths: dirs.dirs) { line in
            warnings.withLock { $0.append(line) }
        }
        #expect(c.regionName == "RegionOne")
        let lines = warnings.withLock { $0 }
        #expect(lines.count == 1)
        #expect(lines.first?.contains(unreadable) == true && lines.first?.contains("cannot read") == true)
        #expect(lines.allSatisfy { !$0.contains("\n") })
    }

    @Test func readableFilesCauseNoWarning() throws {
        let dirs = try ConfigDirs()
        defer { dirs.remove() }
        try dirs.write(1, "clouds.yaml", prodYAML)
        let warnings = Mutex<[String]>([])
        _ = try CloudConfig.resolve(cloud: "prod", environment: [:], searchPaths: dirs.dirs) { line in warnings.withLock { $0.append(line) } }
        #expect(warnings.withLock { $0 }.isEmpty)
    }
}
