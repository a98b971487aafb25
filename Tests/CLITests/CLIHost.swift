import Foundation
import Testing
import TestSupport

/// The built `metadata-route-agent`: `MRA_BIN` when set, else the one next to this test bundle
/// (`swift build --build-tests` builds both), else `.build/debug` of the package.
enum AgentBinary {
    static let path: String? = {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["MRA_BIN"], !env.isEmpty { return env }
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            bundle.appendingPathComponent("metadata-route-agent").path,
            packageRoot.appendingPathComponent(".build/debug/metadata-route-agent").path,
        ]
        return candidates.first { fm.isExecutableFile(atPath: $0) }
    }()

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

struct SetupError: Error, CustomStringConvertible {
    var description: String
}

/// One host on the external network 203.0.113.0/24 + 2001:db8:100::/64, in a network namespace of its own
/// (deleted with the value): a veth `eth0` with the default route via 203.0.113.1, and two routes of the
/// operator's (`proto static`): 198.51.100.0/24, and 10.5.0.0/16 that a hostile tenant subnet falls inside.
/// Its work folder holds `cloud.json`, a copy of `tests/clouds/agent-cli.json`, for `--snapshot`.
final class CLIHost {
    let ns: TestNamespace
    let work: URL
    let binary: String

    static let cloud = AgentBinary.packageRoot.appendingPathComponent("tests/clouds/agent-cli.json")

    var snapshotFile: URL { work.appendingPathComponent("cloud.json") }
    var snapshot: [String] { ["--snapshot", snapshotFile.path] }

    init(_ purpose: String) throws {
        guard let binary = AgentBinary.path else {
            throw SetupError(description: "metadata-route-agent is not built: run `swift build --build-tests` (or set MRA_BIN)")
        }
        self.binary = binary
        ns = try TestNamespace("cli-\(purpose)")
        work = URL(fileURLWithPath: "/tmp").appendingPathComponent("mra-cli-\(ns.name)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try ns.ipBatch([
            // A veth stands for the external link (this kernel may lack the dummy driver); its peer stays up
            // inside the namespace so the link has carrier.
            "link add eth0 type veth peer name eth0-peer",
            "link set eth0-peer up",
            "link set eth0 up",
            "addr add 203.0.113.2/24 dev eth0",
            "addr add 2001:db8:100::2/64 dev eth0 nodad",
            "route add default via 203.0.113.1",
            "route add 198.51.100.0/24 via 203.0.113.1 proto static",
            "route add 10.5.0.0/16 via 203.0.113.1 proto static",
        ])
        try FileManager.default.copyItem(at: Self.cloud, to: snapshotFile)
    }

    deinit {
        ns.delete()
        try? FileManager.default.removeItem(at: work)
    }

    /// Runs the agent inside the namespace.
    func agent(_ arguments: [String]) throws -> ProgramResult {
        try ns.outcome(of: [binary] + arguments)
    }

    /// Runs `sync --snapshot` and requires it to succeed.
    func sync() throws {
        let r = try agent(["sync"] + snapshot)
        try #require(r.succeeded, "sync: \(r)")
    }

    /// The main table of both families, as `ip route` shows it.
    func table() throws -> String {
        try ns.ip("route show table main") + ns.ip("-6 route show table main")
    }

    /// `ip -n <ns> <arguments>`.
    @discardableResult
    func ip(_ arguments: String) throws -> String { try ns.ip(arguments) }

    /// Writes a file into the work folder and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let url = work.appendingPathComponent(name)
        try text.write(to: url, atomically: false, encoding: .utf8)
        return url.path
    }
}
