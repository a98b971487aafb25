import Agent
import Events
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
import RoutePlanner

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate configuration, credentials, Neutron reachability, kernel access and privileges.",
        discussion: """
        Each check prints 'ok' or a one-line reason and what to do. Exit 0 when all pass, 1 otherwise.

        Examples:
          metadata-route-agent check --os-cloud prod
          sudo -u metadata-route-agent metadata-route-agent check --config /etc/metadata-route-agent/config.yaml
        """
    )

    @OptionGroup var options: AgentOptions
    @OptionGroup(title: "Neutron's notifications") var events: EventsOptions

    func run() async throws {
        var failed = 0
        func report(_ name: String, _ ok: Bool, _ detail: String) {
            if !ok { failed += 1 }
            printOut("\(ok ? "ok  " : "FAIL")  \(name + String(repeating: " ", count: max(0, 13 - name.count))) \(detail)\n")
        }
        let rt = try Runtime(options, extra: settingOverrides(of: events))
        report("configuration", true, rt.configFile.map { "read \($0)" } ?? "defaults and flags (no --config)")

        // Neutron: credentials and a full read.
        var snapshot: CloudSnapshot?
        do {
            let source = try Runtime.source(settings: rt.settings, logger: rt.logger)
            report("credentials", true, source.label)
            do {
                let s = try await source.read()
                snapshot = s
                report("neutron", true, "read \(s.routers.count) routers, \(s.ports.count) interface ports, \(s.subnets.count) subnets, \(s.networks.count) networks")
                let projects = visibleProjects(s)
                if seesOnlyOwnProject(s, ownProject: await source.credentialProject()), let own = projects.first {
                    printOut("WARN  scope         \(ownProjectWarning(own))\n")
                } else {
                    report("scope", true, "the credential sees \(projects.count) project(s)")
                }
            } catch {
                report("neutron", false, "\(error)")
            }
            await source.close()
        } catch {
            report("credentials", false, "see the error above; set --os-cloud/OS_CLOUD with a clouds.yaml, or OS_AUTH_URL and the other OS_* variables")
        }

        // Kernel: open, read, nexthop support.
        do {
            let kernel = try NetlinkKernel(namespace: rt.settings.netns)
            let reconciler = try Reconciler(kernel: kernel, settings: rt.settings, logger: rt.logger)
            let view = try reconciler.readKernel()
            let owned = view.routes.filter(rt.settings.ownership.owns(route:)).count
            report("kernel", true, "table \(TextReport.tableName(rt.settings.table)): \(view.routes.count) routes, \(owned) owned (protocol \(rt.settings.proto)); \(view.connected.count) connected networks; \(reconciler.useNexthopObjects ? "nexthop objects" : "classic via routes")")
            if let snapshot {
                let plan = makePlanReport(reconciler: reconciler, snapshot: snapshot, view: view)
                report("plan", true, plan)
            }
        } catch {
            report("kernel", false, "\(error); run inside the right namespace (--netns) on Linux")
        }
        await checkEvents(rt.settings, report: report)
        if Privileges.hasNetAdmin() {
            report("privileges", true, "CAP_NET_ADMIN is effective")
        } else {
            report("privileges", false, Privileges.missingNetAdmin)
        }
        if failed > 0 { throw ExitCode(1) }
    }

    /// With --events-url: connects, checks Neutron's exchange passively, declares and binds the agent's queue.
    private func checkEvents(_ settings: Settings, report: (String, Bool, String) -> Void) async {
        let config: EventStreamConfiguration?
        do {
            config = try eventStreamConfiguration(settings)
        } catch {
            report("events", false, "\(error)")
            return
        }
        guard let config else {
            printOut("info  events        off: the daemon polls Neutron every \(fixed(settings.interval, 0)) s (--events-url follows Neutron's notifications instead)\n")
            return
        }
        do {
            let ok = try await EventStream(configuration: config).checkBinding()
            var detail = "broker \(config.endpoint): exchange \(config.exchange) found; queue \(config.queue) bound with \(config.routingKey) (\(ok.messageCount) messages waiting"
            detail += ok.consumerCount > 0 ? ", \(ok.consumerCount) consumer(s) already on it: another agent using this queue would split the notifications; give each its own --events-queue)" : ")"
            report("events", true, detail)
        } catch let error as AMQPError where error.isExchangeNotFound {
            report("events", false, "broker \(config.endpoint) answers, but exchange \(config.exchange) does not exist: Neutron's notifications are probably off (set [oslo_messaging_notifications] driver = messagingv2 in neutron.conf), or Neutron has not published since the broker restarted")
        } catch {
            report("events", false, "broker \(config.endpoint): \(error); check --events-url, the password file and the user's permissions (rabbitmqctl set_permissions)")
        }
    }

    /// The plan for the kernel view already read (no second dump).
    private func makePlanReport(reconciler: Reconciler, snapshot: CloudSnapshot, view: KernelView) -> String {
        let plan = makePlan(snapshot: snapshot, kernel: view, policy: reconciler.policy)
        let c = Dictionary(grouping: plan.changes, by: \.action).mapValues(\.count)
        return "\(plan.desired.count) routes wanted: \(c[.add] ?? 0) to add, \(c[.replace] ?? 0) to replace, \(c[.delete] ?? 0) to delete, \(plan.refused.count) refused (see plan)"
    }
}
