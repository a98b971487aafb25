import Agent
import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconcile once: read Neutron and the kernel, apply the plan, exit.",
        discussion: """
        Exit 0 when the kernel matches the plan (refused tenant prefixes are policy, not failure); 1 when some \
        route writes failed (each is named on stderr), or when the deletion brake held deletions (adds and \
        replaces were applied; --force-delete carries the deletions out); 2 when Neutron, Keystone or the kernel \
        could not be read, or another agent holds the table, in which case nothing was changed; 64 for a usage \
        or configuration error.

        One writer per table: sync takes the table lock. When a running daemon holds it, 'sync --force-delete' \
        asks that daemon to carry out the deletions its brake holds, and exits 0 when it agreed.

        Examples:
          metadata-route-agent sync --os-cloud prod
          metadata-route-agent sync --snapshot neutron.json --table 200
          metadata-route-agent sync --os-cloud prod --write-snapshot /tmp/neutron.json
          metadata-route-agent sync --os-cloud prod --force-delete
        """
    )

    @OptionGroup var options: AgentOptions

    @Option(name: .customLong("write-snapshot"), help: ArgumentHelp("Also save what was read from Neutron to this JSON file (usable with --snapshot).", valueName: "file"))
    var writeSnapshot: String?

    @Flag(name: .customLong("force-delete"), help: "Carry out every deletion the plan wants, beyond the deletion brake (--max-delete); with a daemon holding the table, ask it to carry out its held deletions.")
    var forceDelete = false

    func run() async throws {
        let started = ContinuousClock.now
        let rt = try Runtime(options)
        try rt.requireNetAdmin()
        if forceDelete, let h = TableLock.contact(table: rt.settings.table, proto: rt.settings.proto, netns: rt.settings.netns, request: "force-delete") {
            guard h.reply.hasPrefix("ok") else {
                throw fail("the agent holding \(rt.lockPlace) (PID \(h.pid.map { "\($0)" } ?? "?")) did not accept --force-delete: \(h.reply.isEmpty ? "no answer" : h.reply)", code: Exit.readFailed)
            }
            printOut("sync: asked the running agent (PID \(h.pid.map { "\($0)" } ?? "?")) to carry out its held deletions: \(h.reply)\n")
            return
        }
        let lock = try rt.takeLock()
        defer { lock.release() }
        let kernel = try rt.kernel()
        let reconciler = try rt.reconciler(kernel: kernel)
        let source = try rt.source()
        let snapshot = try await rt.read(source)
        let api = ((source as? DeadlineSource)?.inner as? NeutronAPISource)?.client.statistics
        await source.close()
        if let path = writeSnapshot {
            do {
                try snapshot.jsonData().write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw fail("cannot write snapshot \(path): \(fileErrorText(error))", code: Exit.usage)
            }
        }
        let report: ReconcileReport
        do {
            report = try reconciler.reconcile(snapshot: snapshot, apply: true, gate: oneShotGate(settings: rt.settings, force: forceDelete))
        } catch {
            throw fail("\(error); nothing was changed", code: Exit.readFailed)
        }
        logReport(report, logger: rt.logger, trigger: "sync")
        for r in report.plan.refused { logRefusal(r, logger: rt.logger) }
        let nl = kernel.statistics
        var stats: Logger.Metadata = [
            "duration_ms": "\((ContinuousClock.now - started).milliseconds)",
            "kernel_writes": "\(report.plan.operations.count)",
            "netlink_messages_sent": "\(nl.messagesSent)", "netlink_messages_received": "\(nl.messagesReceived)",
            "netlink_bytes_received": "\(nl.bytesReceived)",
        ]
        if let api {
            stats["neutron_requests"] = "\(api.requests)"
            stats["keystone_requests"] = "\(api.keystoneRequests)"
            stats["neutron_bytes_read"] = "\(api.bytesRead)"
        }
        rt.logger.info("sync finished", metadata: stats)
        let counts = Dictionary(grouping: report.applied, by: \.action).mapValues(\.count)
        var line = "sync: \(counts[.add] ?? 0) added, \(counts[.replace] ?? 0) replaced, \(counts[.delete] ?? 0) deleted, "
        line += "\(report.plan.refused.count) refused or skipped, \(report.plan.desired.count) routes wanted"
        if report.converged && !report.held.isEmpty {
            printOut(line + "; \(report.held.count) deletion(s) HELD by the deletion brake (--max-delete \(rt.settings.deletionBrake)): review with 'plan', then carry them out with 'sync --force-delete'\n")
            for c in report.held.prefix(20) { printOut("  held: delete \(c.destination)\n") }
            throw ExitCode(Exit.writeFailed)
        } else if report.converged {
            printOut(line + "; the kernel matches the plan\n")
        } else {
            printOut(line + "; \(report.failedOperations.count) kernel writes FAILED:\n")
            for f in report.failedOperations { printOut("  \(f.error)\n") }
            throw ExitCode(Exit.writeFailed)
        }
    }
}
