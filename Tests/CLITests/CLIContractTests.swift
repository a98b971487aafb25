import Foundation
import Testing
import TestSupport

// The agent's command line for real: the built `metadata-route-agent` run as a program, as root, against the
// kernel of a network namespace each test creates and deletes (see `CLIHost`), reading the cloud of
// tests/clouds/agent-cli.json: three tenant routes (10.0.0.0/24 and fd00:10::/64 via router-a's gateway,
// 10.1.0.0/24 via router-b's) and three hostile subnets (0.0.0.0/1, 10.5.1.0/24 inside the operator's
// 10.5.0.0/16, 203.0.113.128/25 inside the external network).
//
// Waits are on behaviour (a route appears, a program ends, a monitor prints a marker) with generous bounds
// against hanging; nothing here measures speed (scripts/bench.sh does).

/// Generous bound for anything the agent or the kernel should do "at once".
private let patience = Duration.seconds(30)

/// What `plan --format json` says, as far as these tests read it.
private struct PlanDocument: Decodable {
    struct Change: Decodable { var destination: String }
    struct Refusal: Decodable { var destination: String?; var reason: String; var message: String }
    var add: [Change]
    var refused: [Refusal]
}

/// One line of `routes --format json`.
private struct OwnedRoute: Decodable {
    var destination: String
    var next_hop: String
}

private func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

@Suite(.enabled(if: TestNamespace.isAvailable, "needs root (or CI set) for network namespaces"))
struct CLIContractTests {
    @Test func planChangesNothingAndRefusesTheHostileSubnets() throws {
        let host = try CLIHost("plan")
        let before = try host.table()

        let plan = try host.agent(["plan"] + host.snapshot)
        #expect(plan.succeeded, "\(plan)")
        #expect(plan.stdout.contains("3 to add"), "plan lists the three tenant routes as adds: \(plan.stdout)")
        #expect(try host.table() == before, "plan changes nothing in the kernel")

        let json = try host.agent(["plan"] + host.snapshot + ["--format", "json"])
        #expect(json.succeeded, "\(json)")
        let doc = try JSONDecoder().decode(PlanDocument.self, from: Data(json.stdout.utf8))
        #expect(doc.add.map(\.destination).sorted() == ["10.0.0.0/24", "10.1.0.0/24", "fd00:10::/64"])
        let refused = Set(doc.refused.compactMap(\.destination))
        for hostile in ["0.0.0.0/1", "10.5.1.0/24", "203.0.113.128/25"] {
            #expect(refused.contains(hostile), "plan refuses \(hostile): \(doc.refused)")
        }
        #expect(doc.refused.allSatisfy { !$0.message.isEmpty }, "every refusal explains itself")
    }

    @Test func syncWritesTheRoutesAndASecondSyncWritesNothing() throws {
        let host = try CLIHost("sync")
        let first = try host.agent(["sync"] + host.snapshot)
        #expect(first.succeeded, "sync exits 0: \(first)")
        #expect(try host.ip("route show 10.0.0.0/24 proto 200").contains("nhid"), "10.0.0.0/24 goes through a nexthop object")
        #expect(try host.ip("route get 10.0.0.9").contains("via 203.0.113.10 "))
        #expect(try host.ip("-6 route get fd00:10::5").contains("via 2001:db8:100::10 "))
        #expect(try host.ip("route get 10.1.0.9").contains("via 203.0.113.11 "))
        #expect(try !host.ip("route show proto 200").contains("0.0.0.0/1"), "no route for the refused 0.0.0.0/1")
        #expect(try host.ip("route get 10.5.1.9").contains("via 203.0.113.1 "), "the operator's 10.5.0.0/16 still owns 10.5.1.0/24")
        #expect(lines(first.stderr).filter { $0.contains("msg=\"route added\"") }.count == 3,
                "each change is one log line: \(first.stderr)")

        // Everything the kernel reports while the second sync runs, bracketed by two marker routes of our own
        // so that no event can be missed or cut off, whatever the speed of the machine. The opening marker is
        // written again until the monitor shows it: only then is the monitor known to be listening.
        let monitor = try host.ns.start(["ip", "monitor", "route", "nexthop"])
        func isMarker(_ line: Substring, _ marker: String) -> Bool { line.contains("\(marker) via 203.0.113.1") }
        func seen(_ marker: String) -> Bool { lines(monitor.stdout).contains { isMarker($0, marker) } }
        let listening = try eventually(within: patience, every: .milliseconds(100)) {
            if seen("192.0.2.1") { return true }
            _ = try? host.ip("route del 192.0.2.1/32")
            try host.ip("route add 192.0.2.1/32 via 203.0.113.1 proto static")
            return false
        }
        try #require(listening, "ip monitor reports the opening marker")
        let second = try host.agent(["sync"] + host.snapshot)
        try host.ip("route add 192.0.2.2/32 via 203.0.113.1 proto static")
        try #require(eventually(within: patience) { seen("192.0.2.2") }, "ip monitor reports the closing marker")
        monitor.send(SIGTERM)
        let output = lines(monitor.stdout)
        let opening = try #require(output.lastIndex { isMarker($0, "192.0.2.1") })
        let events = output[(opening + 1)...]
            .prefix { !isMarker($0, "192.0.2.2") }
            // The kernel's own events (link-local addresses finishing DAD on the veth) are not the agent's.
            .filter { !$0.contains("proto kernel") }

        #expect(second.succeeded, "\(second)")
        #expect(second.stdout.contains("0 added, 0 replaced, 0 deleted"), "a second sync reports no change: \(second.stdout)")
        #expect(events.isEmpty, "a second sync writes nothing to the kernel; events: \(events)")
    }

    @Test func routesListsTheOwnedRoutesWithTheirNextHops() throws {
        let host = try CLIHost("routes")
        try host.sync()
        let out = try host.agent(["routes", "--format", "json"])
        #expect(out.succeeded, "\(out)")
        let routes = try JSONDecoder().decode([OwnedRoute].self, from: Data(out.stdout.utf8))
        #expect(Dictionary(routes.map { ($0.destination, $0.next_hop) }, uniquingKeysWith: { a, b in "\(a) and \(b)" }) == [
            "10.0.0.0/24": "203.0.113.10", "10.1.0.0/24": "203.0.113.11", "fd00:10::/64": "2001:db8:100::10",
        ])
    }

    @Test func exitCodesFailStaticOnABrokenReadAndSay64OnUsageErrors() throws {
        let host = try CLIHost("exit")
        try host.sync()

        try "<html>502 Bad Gateway</html>\n".write(to: host.snapshotFile, atomically: false, encoding: .utf8)
        let before = try host.table()
        let broken = try host.agent(["sync"] + host.snapshot)
        #expect(broken.status == 2 && !broken.signalled, "an unreadable snapshot exits 2: \(broken)")
        #expect(broken.stderr.contains("nothing was changed"), "and says so: \(broken.stderr)")
        #expect(try host.table() == before, "and leaves the kernel as it was")

        try FileManager.default.removeItem(at: host.snapshotFile)
        try FileManager.default.copyItem(at: CLIHost.cloud, to: host.snapshotFile)
        let flag = try host.agent(["sync", "--no-such-flag"])
        #expect(flag.status == 64 && !flag.signalled, "an unknown flag exits 64: \(flag)")

        let badConfig = try host.write("bad.yaml", "tabel: 200\n")
        let config = try host.agent(["sync"] + host.snapshot + ["--config", badConfig])
        #expect(config.status == 64 && config.stderr.contains("unknown key 'tabel'"),
                "an unknown config key exits 64 and names the key: \(config)")
    }

    @Test func syncNeedsOnlyCAPNetAdminAndSaysSoWithoutIt() throws {
        let host = try CLIHost("priv")
        try host.sync()
        // A copy that user nobody can reach, with a cloud file it can read.
        let agent = host.work.appendingPathComponent("agent").path
        try FileManager.default.copyItem(atPath: host.binary, toPath: agent)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: agent)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: host.work.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: host.snapshotFile.path)
        let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

        try host.ip("route del 10.1.0.0/24 proto 200")
        let with = try host.ns.outcome(of: nobody + ["--inh-caps=+net_admin", "--ambient-caps=+net_admin", agent, "sync"] + host.snapshot)
        #expect(with.succeeded, "sync as nobody with only CAP_NET_ADMIN works: \(with)")
        #expect(try lines(host.ip("route show proto 200")).contains { $0.hasPrefix("10.1.0.0/24 ") }, "and restored the missing route")

        try host.ip("route del 10.1.0.0/24 proto 200")
        let without = try host.ns.outcome(of: nobody + ["--inh-caps=-all", agent, "sync"] + host.snapshot)
        #expect(!without.succeeded, "sync without CAP_NET_ADMIN fails: \(without)")
        #expect(without.stderr.contains("CAP_NET_ADMIN"), "with a sentence naming CAP_NET_ADMIN: \(without.stderr)")
        #expect(lines(without.stderr).count <= 1, "and without a stack trace: \(without.stderr)")
    }

    @Test func theDaemonRestoresADeletedRouteServesMetricsAndStopsOnSIGTERM() throws {
        let host = try CLIHost("daemon")
        try host.sync()
        try host.ip("route del 10.1.0.0/24 proto 200")
        func owned(_ prefix: String) throws -> Bool {
            try lines(host.ip("route show proto 200")).contains { $0.hasPrefix("\(prefix) ") }
        }
        func get(_ path: String) throws -> ProgramResult {
            try host.ns.outcome(of: ["curl", "-s", "-m", "5", "-w", "\n%{http_code}", "http://127.0.0.1:9100\(path)"])
        }

        // An interval far longer than any wait below: a restoration can only come from the kernel's event.
        let daemon = try host.ns.start([host.binary, "run"] + host.snapshot + ["--interval", "3600", "--metrics-address", "127.0.0.1:9100"])
        let firstReconcile = try eventually(within: patience) { try owned("10.1.0.0/24") }
        #expect(firstReconcile, "the daemon's first reconcile restores 10.1.0.0/24; log: \(daemon.stderr)")
        let ready = try eventually(within: patience) { try get("/readyz").stdout.hasSuffix("\n200") }
        #expect(ready, "/readyz is 200 after a successful sync; log: \(daemon.stderr)")

        try host.ip("route del 10.0.0.0/24 proto 200")
        let start = ContinuousClock.now
        let healed = try eventually(within: patience) { try owned("10.0.0.0/24") }
        print("route deleted with 'ip route del' restored after \(ContinuousClock.now - start) (informational)")
        #expect(healed, "a route deleted behind the daemon's back is restored; log: \(daemon.stderr)")

        var metrics = ""
        _ = try eventually(within: patience) {
            metrics = try get("/metrics").stdout
            return lines(metrics).contains { $0.hasPrefix("mra_self_heal_total ") && !$0.hasPrefix("mra_self_heal_total 0") }
        }
        #expect(lines(metrics).contains { $0 == "mra_routes_desired 3" || $0 == "mra_routes_desired 3.0" }, "/metrics reports 3 desired routes")
        #expect(lines(metrics).contains { $0.hasPrefix("mra_self_heal_total ") && !$0.hasPrefix("mra_self_heal_total 0") },
                "/metrics counts the self-heal")
        #expect(lines(metrics).contains { $0.hasPrefix("mra_routes_refused{reason=") }, "/metrics has the refusal reasons")

        daemon.send(SIGTERM)
        let end = daemon.waitForExit(within: patience)
        #expect(end?.succeeded == true, "SIGTERM ends the daemon with exit 0: \(end.map(\.description) ?? "still running")")
        #expect(try lines(host.ip("route show proto 200")).count == 2, "and leaves the routes in place")
    }

    /// Router gateways that no neighbour can have (this host's own addresses, the broadcast address, loopback): the
    /// kernel refuses some of those nexthops (every sync would exit 1 for good) and accepts others (tenant traffic
    /// sent to this host itself). Both are refused before any write, so sync exits 0 and installs nothing for them.
    @Test func syncRefusesGatewaysThatAreNoNeighboursAndExitsZero() throws {
        let host = try CLIHost("badgw")
        try host.ip("link set lo up")
        func router(_ id: String, _ gw: String, _ sub: String) -> String {
            let v6 = gw.contains(":")
            return """
            {"id":"\(id)","project_id":"pa","admin_state_up":true,"gateways":[{"network_id":"ext","external_fixed_ips":[{"subnet_id":"\(v6 ? "ext-v6" : "ext-v4")","ip_address":"\(gw)"}]}]}
            """
        }
        let gateways = [("own4", "203.0.113.2", "10.70.0.0/24"), ("bcast", "203.0.113.255", "10.71.0.0/24"),
                        ("loop", "127.0.0.1", "10.72.0.0/24"), ("own6", "2001:db8:100::2", "fd00:70::/64"),
                        ("good", "203.0.113.10", "10.73.0.0/24")]
        let snapshot = """
        {"version":1,"networks":[{"id":"ext","name":"public","router:external":true}],
         "subnets":[{"id":"ext-v4","network_id":"ext","cidr":"203.0.113.0/24"},{"id":"ext-v6","network_id":"ext","cidr":"2001:db8:100::/64"},
          \(gateways.map { "{\"id\":\"s-\($0.0)\",\"network_id\":\"n\",\"cidr\":\"\($0.2)\",\"project_id\":\"pa\"}" }.joined(separator: ","))],
         "routers":[\(gateways.map { router("r-\($0.0)", $0.1, $0.2) }.joined(separator: ","))],
         "ports":[\(gateways.map { "{\"id\":\"p-\($0.0)\",\"device_id\":\"r-\($0.0)\",\"device_owner\":\"network:router_interface\",\"fixed_ips\":[{\"subnet_id\":\"s-\($0.0)\",\"ip_address\":\"\($0.2.split(separator: "/")[0])\"}]}" }.joined(separator: ","))]}
        """
        let file = try host.write("badgw.json", snapshot)
        let sync = try host.agent(["sync", "--snapshot", file])
        #expect(sync.succeeded, "sync exits 0: refusals are policy, and no write failed: \(sync)")
        #expect(!sync.stdout.contains("FAILED"), "\(sync.stdout)")
        let owned = try host.ip("route show proto 200") + host.ip("-6 route show proto 200")
        #expect(lines(owned).count == 1 && owned.contains("10.73.0.0/24 "), "only the good router's subnet is routed: \(owned)")
        let plan = try host.agent(["plan", "--snapshot", file, "--format", "json"])
        let doc = try JSONDecoder().decode(PlanDocument.self, from: Data(plan.stdout.utf8))
        for (_, _, prefix) in gateways.dropLast() {
            #expect(doc.refused.contains { $0.destination == prefix && $0.reason == "next_hop_not_connected" }, "\(prefix): \(doc.refused)")
        }
    }

    @Test func cleanupRemovesEveryOwnedRouteAndNexthopAndNothingElse() throws {
        let host = try CLIHost("cleanup")
        try host.sync()
        try #require(try lines(host.ip("route show proto 200") + host.ip("-6 route show proto 200")).count == 3)
        try #require(try !host.ip("nexthop show proto 200").isEmpty)
        let out = try host.agent(["cleanup"])
        #expect(out.succeeded, "\(out)")
        #expect(try (host.ip("route show proto 200") + host.ip("-6 route show proto 200")).isEmpty, "cleanup removes every owned route")
        #expect(try host.ip("nexthop show proto 200").isEmpty, "cleanup removes every owned nexthop")
        let operators = try host.ip("route show proto static")
        #expect(operators.contains("198.51.100.0/24") && operators.contains("10.5.0.0/16"), "cleanup keeps the operator's routes")
        #expect(try host.ip("route show default").contains("via 203.0.113.1 "), "and the default route")
    }
}
