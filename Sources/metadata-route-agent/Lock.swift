import Agent
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

extension Runtime {
    /// Where the lock lives, for messages.
    var lockPlace: String {
        "table \(TextReport.tableName(settings.table)), protocol \(settings.proto), network namespace \(settings.netns ?? "of this process")"
    }

    /// Takes the one-writer lock for the settings' (network namespace, table, protocol), or exits 2 naming
    /// the holder's PID. `onRequest` answers requests from other processes (a daemon: `force-delete`).
    func takeLock(onRequest: @escaping @Sendable (String) -> String = { _ in "error: this process is a one-shot command; try again when it has finished" }) throws -> TableLock {
        do {
            return try TableLock.acquire(table: settings.table, proto: settings.proto, netns: settings.netns, onRequest: onRequest)
        } catch {
            switch error {
            case .held(let h):
                let pid = h.pid.map { "PID \($0)" } ?? "a process whose PID could not be read"
                throw fail("another metadata-route-agent (\(pid)) already writes \(lockPlace); one writer per table: stop it first (a daemon's held deletions can be confirmed with 'sync --force-delete'); nothing was changed", code: Exit.readFailed)
            case .system(let m):
                throw fail("\(m); nothing was changed", code: Exit.readFailed)
            }
        }
    }
}
