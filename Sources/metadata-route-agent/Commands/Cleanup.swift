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

struct Cleanup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete every route and nexthop object the agent owns, and nothing else.",
        discussion: """
        Owned means: the agent's protocol number in the agent's table (and, for nexthop objects, the agent's \
        protocol and ID range). Routes of any other protocol are never touched. Neutron is not read.

        Examples:
          metadata-route-agent cleanup
          metadata-route-agent cleanup --table 200 --protocol 200
        """
    )

    @OptionGroup var options: AgentOptions

    func run() async throws {
        let rt = try Runtime(options)
        try rt.requireNetAdmin()
        let lock = try rt.takeLock()
        defer { lock.release() }
        let kernel = try rt.kernel()
        let reconciler = try rt.reconciler(kernel: kernel)
        let report: ReconcileReport
        do {
            report = try reconciler.cleanup()
        } catch {
            throw fail("\(error); nothing was changed", code: Exit.readFailed)
        }
        logReport(report, logger: rt.logger, trigger: "cleanup")
        let nexthops = report.plan.operations.filter { if case .deleteNexthop = $0 { return true } else { return false } }.count
        printOut("cleanup: \(report.applied.count) routes and \(nexthops) nexthop objects deleted\n")
        if !report.converged {
            for f in report.failedOperations { printOut("  FAILED: \(f.error)\n") }
            throw ExitCode(Exit.writeFailed)
        }
    }
}
