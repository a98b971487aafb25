import Foundation

/// How a program ended and what it wrote: for tests that check exit codes and messages of a real binary.
public struct ProgramResult: Sendable, CustomStringConvertible {
    /// The exit status, or the signal number when `signalled`.
    public var status: Int32
    /// True when a signal ended the program.
    public var signalled: Bool
    public var stdout: String
    public var stderr: String

    /// True when the program exited by itself with status 0.
    public var succeeded: Bool { !signalled && status == 0 }

    public var description: String {
        "\(signalled ? "signal" : "exit") \(status); stdout: \(stdout.prefix(600)); stderr: \(stderr.prefix(600))"
    }
}

/// Runs a program to its end. Unlike `TestNamespace.run`, a non-zero exit is a result, not an error;
/// only a program that cannot be started throws. A program still running after `timeLimit` (a bound
/// against a hung test, not a measurement) is killed: the result then says `signalled`, status `SIGKILL`.
public func runProgram(_ executable: String, _ arguments: [String],
                       timeLimit: Duration = .seconds(120)) throws -> ProgramResult {
    let p = try BackgroundProgram(executable, arguments)
    if let done = p.waitForExit(within: timeLimit) { return done }
    p.send(SIGKILL)
    return p.waitForExit()
}

/// A program running beside the test (a daemon, `ip monitor`), its output going to files that can be read
/// at any time. Killed (SIGKILL) and reaped when the value goes away, if still running.
public final class BackgroundProgram: @unchecked Sendable {
    private let process = Process()
    private let stdoutURL: URL
    private let stderrURL: URL
    private let handles: [FileHandle]

    public init(_ executable: String, _ arguments: [String]) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("mra-prog-\(UUID().uuidString)")
        stdoutURL = base.appendingPathExtension("out")
        stderrURL = base.appendingPathExtension("err")
        FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: stdoutURL)
        let err = try FileHandle(forWritingTo: stderrURL)
        handles = [out, err]
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            cleanUp()
            throw error
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        cleanUp()
    }

    private func cleanUp() {
        for h in handles { try? h.close() }
        try? FileManager.default.removeItem(at: stdoutURL)
        try? FileManager.default.removeItem(at: stderrURL)
    }

    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// What the program has written to standard output so far.
    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    /// What the program has written to standard error so far.
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Sends a signal (e.g. `SIGTERM`) to the program.
    public func send(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the program to end and returns how it ended.
    public func waitForExit() -> ProgramResult {
        process.waitUntilExit()
        return result()
    }

    /// Waits at most `bound` for the program to end; nil when it is still running then.
    public func waitForExit(within bound: Duration) -> ProgramResult? {
        guard eventually(within: bound, { !process.isRunning }) else { return nil }
        return waitForExit()
    }

    private func result() -> ProgramResult {
        ProgramResult(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                      stdout: stdout, stderr: stderr)
    }
}

/// Polls `condition` every `interval` until it holds or `bound` has passed, and says whether it held.
/// The bound is a generous limit against hanging, not a measurement: tests wait on behaviour, never on speed.
@discardableResult
public func eventually(within bound: Duration, every interval: Duration = .milliseconds(20),
                       _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + bound
    while true {
        if try condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        let (seconds, attoseconds) = interval.components
        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
    }
}

extension TestNamespace {
    /// Runs a command inside the namespace (`ip netns exec`) to its end; a non-zero exit is a result.
    public func outcome(of command: [String]) throws -> ProgramResult {
        try runProgram("/usr/bin/env", ["ip", "netns", "exec", name] + command)
    }

    /// Starts a command inside the namespace without waiting for it. `ip netns exec` replaces itself with
    /// the command, so signals sent to the returned program reach the command itself.
    public func start(_ command: [String]) throws -> BackgroundProgram {
        try BackgroundProgram("/usr/bin/env", ["ip", "netns", "exec", name] + command)
    }
}
