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

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what sync would do, and every refused or skipped candidate with its reason. Changes nothing.",
        discussion: """
        --format json prints a stable document: add, replace and delete lists (destination, next_hop, router, \
        subnet) and a refused list (destination, next_hop, router, subnet, project, reason, message). Reading the \
        kernel needs no privileges. Deletions beyond the deletion brake (--max-delete) are listed as held \
        ('held_deletions' in JSON): sync would not carry them out without --force-delete.

        Examples:
          metadata-route-agent plan --os-cloud prod
          metadata-route-agent plan --snapshot neutron.json --format json | jq '.refused[] | .reason'
          metadata-route-agent plan --snapshot neutron.json --protected-prefix 10.20.0.0/16
        """
    )

    @OptionGroup var options: AgentOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let rt = try Runtime(options)
        let kernel = try rt.kernel()
        let reconciler = try rt.reconciler(kernel: kernel)
        let source = try rt.source()
        let snapshot = try await rt.read(source)
        await source.close()
        let report: ReconcileReport
        do {
            report = try reconciler.reconcile(snapshot: snapshot, apply: false, gate: oneShotGate(settings: rt.settings, force: false))
        } catch {
            throw fail("\(error)", code: Exit.readFailed)
        }
        let doc = PlanDocument(plan: report.plan, settings: rt.settings, nexthopObjects: reconciler.useNexthopObjects, held: report.held)
        printOut(output.format == .json ? doc.json() + "\n" : TextReport.plan(doc))
    }
}
