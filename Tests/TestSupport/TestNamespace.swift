import Foundation
import Synchronization

/// A network namespace made for one test and deleted when the value goes away.
///
/// Setup uses `ip` (fine in tests; the code under test never does). Names are unique:
/// `mra-<purpose>-<pid>-<n>`.
///
/// ```swift
/// @Test(.enabled(if: TestNamespace.isAvailable))
/// func routesRoundTrip() throws {
///     let ns = try TestNamespace("routes")
///     try ns.ip("link add dummy0 type dummy")
///     try ns.ip("link set dummy0 up")
///     try ns.ip("addr add 203.0.113.1/24 dev dummy0")
///     let socket = try RouteSocket(namespace: ns.name)
///     …
/// }   // namespace deleted here
/// ```
public final class TestNamespace: @unchecked Sendable {
    public let name: String
    private let deleted = Mutex(false)

    private static let counter = Atomic<Int>(0)

    /// True when namespace tests can run here: as root, or whenever `CI` is set
    /// (on CI a missing privilege must fail the test, not skip it).
    public static var isAvailable: Bool {
        getuid() == 0 || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// Creates the namespace and brings its loopback up.
    public init(_ purpose: String) throws {
        let n = TestNamespace.counter.wrappingAdd(1, ordering: .relaxed).newValue
        let clean = purpose.filter { $0.isLetter || $0.isNumber || $0 == "-" }.prefix(20)
        name = "mra-\(clean)-\(getpid())-\(n)"
        try TestNamespace.run("/usr/bin/env", ["ip", "netns", "add", name])
        do {
            try ip("link set lo up")
        } catch {
            delete()
            throw error
        }
    }

    deinit { delete() }

    /// Deletes the namespace now (also done on deinit); safe to call twice.
    public func delete() {
        let first = deleted.withLock { d -> Bool in
            if d { return false }
            d = true
            return true
        }
        if first { _ = try? TestNamespace.run("/usr/bin/env", ["ip", "netns", "del", name]) }
    }

    /// Runs `ip -n <name> <arguments>` (split on spaces) and returns its standard output.
    @discardableResult
    public func ip(_ arguments: String) throws -> String {
        try TestNamespace.run("/usr/bin/env", ["ip", "-n", name] + arguments.split(separator: " ").map(String.init))
    }

    /// Runs `ip -n <name> -batch <file>` with the given lines.
    @discardableResult
    public func ipBatch(_ lines: [String]) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).batch")
        try lines.joined(separator: "\n").appending("\n").write(to: file, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return try TestNamespace.run("/usr/bin/env", ["ip", "-n", name, "-batch", file.path])
    }

    /// Runs any command inside the namespace (`ip netns exec`).
    @discardableResult
    public func exec(_ command: [String]) throws -> String {
        try TestNamespace.run("/usr/bin/env", ["ip", "netns", "exec", name] + command)
    }

    /// A command that failed.
    public struct CommandError: Error, CustomStringConvertible {
        public var command: [String]
        public var status: Int32
        public var output: String
        public var description: String { "`\(command.joined(separator: " "))` exited \(status): \(output.prefix(500))" }
    }

    /// Runs a program, waits, and returns its standard output; throws `CommandError` on a non-zero exit.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe()
        // Standard error goes to a file so neither stream can fill up and stall the child.
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("mra-cmd-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer {
            try? errHandle.close()
            try? FileManager.default.removeItem(at: errURL)
        }
        p.standardOutput = out
        p.standardError = errHandle
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let stdout = String(decoding: o, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw CommandError(command: [executable] + arguments, status: p.terminationStatus,
                               output: stdout + ((try? String(contentsOf: errURL, encoding: .utf8)) ?? ""))
        }
        return stdout
    }
}
