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
import Model

struct Routes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the routes the agent owns now (its protocol, its table).",
        discussion: """
        Reads only the kernel; needs no credentials and no privileges.

        Examples:
          metadata-route-agent routes
          metadata-route-agent routes --table 200 --format json
        """
    )

    @OptionGroup var options: AgentOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let rt = try Runtime(options)
        let kernel = try rt.kernel()
        let reconciler = try rt.reconciler(kernel: kernel)
        let view: KernelView
        do {
            view = try reconciler.readKernel()
        } catch {
            throw fail("\(error)", code: Exit.readFailed)
        }
        let routes = OwnedRoute.list(in: view, ownership: rt.settings.ownership)
        printOut(output.format == .json ? encodeJSONString(routes) + "\n" : TextReport.routes(routes, table: rt.settings.table, proto: rt.settings.proto))
    }
}
