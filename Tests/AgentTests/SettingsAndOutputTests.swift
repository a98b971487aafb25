import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Model
import Netlink
import RoutePlanner
import Testing
@testable import Agent

@Suite struct SettingsTests {
    func writeConfig(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mra-config-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theConfigFileSetsEveryKindOfValueAndFlagsWin() throws {
        let path = try writeConfig("""
        table: 200
        protocol: 201
        allowed-prefix: [10.0.0.0/8, fd00::/8]
        external-network: public
        require-snat-disabled: true
        interval: 15
        metrics-address: "[::1]:9100"
        """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var flags = SettingsOverrides()
        flags["table"] = .text("300")
        let s = try Settings.load(configFile: path, overrides: flags)
        #expect(s.table == 300)
        #expect(s.proto == 201)
        #expect(s.allowedPrefixes == [IPPrefix("10.0.0.0/8")!, IPPrefix("fd00::/8")!])
        #expect(s.externalNetworks == ["public"])
        #expect(s.requireSNATDisabled)
        #expect(s.interval == 15)
        #expect(try HostPort.parse(s.metricsAddress!) == HostPort(host: "::1", port: 9100))
    }

    @Test(arguments: ["packaging/config.yaml", "packaging/bird/agent-bgp-mode.yaml"])
    func theShippedSampleConfigurationsLoad(path: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let s = try Settings.load(configFile: root.appendingPathComponent(path).path, overrides: SettingsOverrides())
        #expect(s.proto == 200)
        #expect(s.interval >= 1)
    }

    @Test func anUnknownKeyIsAnErrorThatNamesIt() throws {
        let path = try writeConfig("tabel: 200\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try Settings.load(configFile: path, overrides: SettingsOverrides()) } throws: { error in
            "\(error)".contains("unknown key 'tabel'")
        }
    }

    @Test(arguments: [
        ("protocol", "2", "reserved"), ("table", "255", "reserved"), ("allowed-prefix", "10.0.0.5/8", "host bits"),
        ("interval", "0", "interval"), ("metrics-address", "localhost", "HOST:PORT"), ("nexthop-mode", "fast", "auto, objects, classic"),
        ("protocol", "300", "not a number"),
    ])
    func badValuesAreOneLineErrorsThatSayWhatToDo(key: String, value: String, expected: String) {
        var flags = SettingsOverrides()
        flags[key] = .text(value)
        #expect { try Settings.load(configFile: nil, overrides: flags) } throws: { error in
            "\(error)".contains(expected) && !"\(error)".contains("\n")
        }
    }

    @Test(arguments: [
        ("request-timeout", "1e10", "0.001 and 3600 seconds"), ("read-timeout", "1e300", "0.001 and 86400 seconds"),
        ("interval", "1e10", "1 and 86400 seconds"), ("max-backoff", "0.5", "1 and 86400 seconds"),
        ("page-size", "0", "1-100000"), ("min-prefix-length-v4", "33", "1-32"), ("min-prefix-length-v6", "0", "1-128"),
        ("request-timeout", "inf", "not a number of seconds"), ("read-timeout", "nan", "not a number of seconds"),
        ("log-level", "loud", "one of trace, debug, info"), ("log-format", "xml", "one of logfmt, json"),
        ("table", "0", "reserved"), ("protocol", "255", "reserved"), ("protocol", "256", "not a number in 0...255 (5-254)"),
    ])
    func everyNumberIsCheckedAgainstItsRangeAndTheErrorNamesIt(key: String, value: String, expected: String) {
        var flags = SettingsOverrides()
        flags[key] = .text(value)
        #expect { try Settings.load(configFile: nil, overrides: flags) } throws: { error in
            "\(error)".contains(expected) && "\(error)".contains(key)
        }
        // The same value in the file is refused the same way.
        let path = try? writeConfig("\(key): \(value)\n")
        defer { path.map { try? FileManager.default.removeItem(atPath: $0) } }
        #expect { try Settings.load(configFile: path, overrides: SettingsOverrides()) } throws: { error in
            "\(error)".contains(expected)
        }
    }

    /// A configuration file that is a directory or not text says so in a few words, not in Foundation's error dump.
    @Test func anUnreadableConfigFileIsNamedWithAShortReason() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mra-config-dir-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect { try Settings.load(configFile: dir, overrides: SettingsOverrides()) } throws: { error in
            "\(error)" == "cannot read configuration file \(dir): is a directory"
        }
        // A pipe or a device (`--config <(…)`, /dev/stdin) is not "permission denied", as Foundation calls it.
        #expect { try Settings.load(configFile: "/dev/null", overrides: SettingsOverrides()) } throws: { error in
            "\(error)".hasPrefix("cannot read configuration file /dev/null: not a regular file")
        }
        await #expect { _ = try await SnapshotFileSource(path: "/dev/null").read() } throws: { error in
            "\(error)".hasPrefix("cannot read snapshot file /dev/null: not a regular file")
        }
        let binary = dir + "/binary.yaml"
        try Data([0xff, 0xfe, 0x00, 0x62]).write(to: URL(fileURLWithPath: binary))
        #expect { try Settings.load(configFile: binary, overrides: SettingsOverrides()) } throws: { error in
            "\(error)" == "cannot read configuration file \(binary): not UTF-8 text"
        }
    }

    /// A snapshot file that is empty, cut short, or has a value of the wrong type says what is wrong in one clause
    /// that the command's "; nothing was changed" can follow (no ".;").
    @Test(arguments: [("", "not valid JSON (empty, cut short"), (#"{"version": 1, "routers": ["#, "not valid JSON (empty, cut short"),
                      (#"{"version": 1e30, "routers": [], "ports": [], "subnets": []}"#, "a number too large for its field"),
                      (#"{"routers": [{"id": "r", "admin_state_up": "yes"}], "ports": [], "subnets": []}"#,
                       "wrong type at routers[0].admin_state_up: Expected to decode Bool but found a string instead")])
    func aBrokenSnapshotFileSaysWhatIsWrong(content: String, expected: String) async throws {
        let path = try writeConfig(content)
        defer { try? FileManager.default.removeItem(atPath: path) }
        await #expect { _ = try await SnapshotFileSource(path: path).read() } throws: { error in
            "\(error)".contains(expected) && !"\(error)".hasSuffix(".")
        }
    }

    @Test func nullInTheFileMeansNotSetAndNeverTheTextNull() throws {
        let path = try writeConfig("os-cloud: ~\nsnapshot: null\ntable: ~\nexternal-network: ~\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let s = try Settings.load(configFile: path, overrides: SettingsOverrides())
        #expect(s.osCloud == nil)
        #expect(s.snapshot == nil)
        #expect(s.table == 254)
        #expect(s.externalNetworks == [])
        #expect(s == Settings())
    }

    @Test(arguments: ["external-network: [[public, ext2]]\n", "external-network: [public, [ext2]]\n",
                      "allowed-prefix: [{a: 10.0.0.0/8}]\n", "project: [p1, ~]\n"])
    func aNestedOrEmptyListItemIsRefused(yaml: String) throws {
        let path = try writeConfig(yaml)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try Settings.load(configFile: path, overrides: SettingsOverrides()) } throws: { error in
            "\(error)".contains("write a flat list")
        }
    }

    @Test(arguments: ["interval: [[1]]\n", "table: [200, 201]\n", "os-cloud: [a, b]\n"])
    func aListForASingleValuedOptionIsRefused(yaml: String) throws {
        let path = try writeConfig(yaml)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try Settings.load(configFile: path, overrides: SettingsOverrides()) } throws: { error in
            "\(error)".contains("takes one value, not a list")
        }
    }

    /// Every option in the table is a configuration-file key that takes its own default (as text) and a
    /// changed value, so an option declared in the table cannot be forgotten by the file.
    @Test func everyOptionIsAcceptedInTheConfigurationFile() throws {
        #expect(SettingTable.all.count == Set(SettingTable.all.map(\.setting.name)).count, "option names are unique")
        #expect(Settings.keys.count >= 24)
        for (_, option) in SettingTable.all {
            var yaml = "\(option.name): "
            if option.isFlag { yaml += "true" }
            else if option.name == "metrics-address" { yaml += "\"127.0.0.1:9100\"" }
            else if option.name == "table" { yaml += "200" }
            else if option.name == "events-url" { yaml += "\"amqp://mra@127.0.0.1:5672/\"" }
            else if option.name == "events-queue" { yaml += "my-queue" }
            else if let d = option.defaultText { yaml += option.isList ? "[\(d)]" : "\"\(d)\"" }
            else if option.name.hasSuffix("prefix") { yaml += "[10.0.0.0/8, fd00::/8]" }
            else { yaml += option.isList ? "[x1, x2]" : "x1" }
            let path = try writeConfig(yaml + "\n")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let s = try Settings.load(configFile: path, overrides: SettingsOverrides())
            if option.isFlag || option.defaultText == nil || ["table", "events-url", "events-queue"].contains(option.name) {
                #expect(option.differs(s, Settings()), "\(option.name) was not set by '\(yaml)'")
            } else {
                #expect(!option.differs(s, Settings()), "\(option.name) read its own default '\(yaml)' as something else")
            }
        }
    }

    @Test func settingsReadTheirDefaultsFromTheTable() {
        let s = Settings()
        #expect(s.table == 254 && s.proto == 200 && s.interval == 10 && s.readTimeout == 90 && s.requestTimeout == 30)
        #expect(s.allowedPrefixes == Policy.defaultAllowedPrefixes)
        #expect(s.logLevel == .info && s.nexthopMode == .auto && s.metricsAddress == nil)
        var t = s
        t.interval = 15
        #expect(t.changedOptions(comparedTo: s).map(\.name) == ["interval"])
        t.interval = 10
        #expect(t == s, "a value set back to its default is the default")
    }

    @Test func policyCarriesTheSettings() {
        var s = Settings()
        s.protectedPrefixes = [IPPrefix("10.20.0.0/16")!]
        s.minPrefixLengthV4 = 20
        let p = s.policy(useNexthopObjects: false)
        #expect(p.protectedPrefixes == s.protectedPrefixes)
        #expect(p.minPrefixLengthV4 == 20)
        #expect(!p.useNexthopObjects)
        #expect(p.allowedPrefixes == Policy().allowedPrefixes)
    }
}

@Suite struct LogFormatTests {
    @Test func logfmtQuotesValuesThatNeedIt() {
        let line = LineLogHandler.render(date: Date(timeIntervalSince1970: 0), level: .info, message: "route added",
                                         fields: ["dst": "10.0.0.0/24", "detail": "a \"quoted\" word"], format: .logfmt)
        #expect(line.hasSuffix(#"level=info msg="route added" detail="a \"quoted\" word" dst=10.0.0.0/24"#))
    }

    /// Tenant-chosen names and IDs reach log values: a CR LF (one Character), NUL or ESC must neither start a
    /// forged line nor reach the terminal raw.
    @Test func logfmtEscapesEveryControlCharacter() {
        let line = LineLogHandler.render(date: Date(timeIntervalSince1970: 0), level: .info, message: "route added",
                                         fields: ["router": "r1\r\nts=0 level=critical msg=forged", "subnet": "s\u{0}x\u{1b}[31m"], format: .logfmt)
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 }, "\(line.debugDescription)")
        #expect(line.hasSuffix(#"router="r1\r\nts=0 level=critical msg=forged" subnet="s\u0000x\u001b[31m""#), "\(line.debugDescription)")
    }

    @Test func jsonLinesAreValidJSON() throws {
        let line = LineLogHandler.render(date: Date(), level: .warning, message: "x\ny", fields: ["k": "v\u{1}"], format: .json)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(obj["msg"] == "x\ny")
        #expect(obj["k"] == "v\u{1}")
        #expect(obj["level"] == "warning")
    }
}

@Suite struct ReportTests {
    @Test func thePlanDocumentIsStableAndNamesEveryField() throws {
        let kernel = hostKernel()
        var cloud = sampleCloud()
        cloud.subnets.append(Subnet(id: "evil", networkID: "net-b", cidr: IPPrefix("0.0.0.0/1")!, projectID: "proj-b", createdAt: "2026-02-01T00:00:00Z"))
        cloud.ports.append(RouterPort(id: "p9", deviceID: "router-b", fixedIPs: [FixedIP(subnetID: "evil", ipAddress: IPAddress("0.0.0.1")!)]))
        let r = try Reconciler(kernel: kernel, settings: Settings(), logger: LogCapture().logger())
        let doc = PlanDocument(plan: try r.reconcile(snapshot: cloud, apply: false).plan, settings: Settings(), nexthopObjects: true)
        var shuffled = cloud
        shuffled.ports.reverse()
        shuffled.subnets.reverse()
        let doc2 = PlanDocument(plan: try r.reconcile(snapshot: shuffled, apply: false).plan, settings: Settings(), nexthopObjects: true)
        #expect(doc.json() == doc2.json())
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(doc.json().utf8)) as? [String: Any])
        let add = try #require(obj["add"] as? [[String: Any]])
        #expect(add.count == 3)
        #expect(add.contains { $0["destination"] as? String == "10.0.0.0/24" && $0["next_hop"] as? String == "203.0.113.10" && $0["router"] as? String == "router-a" && $0["subnet"] as? String == "sub-a" })
        let refused = try #require(obj["refused"] as? [[String: Any]])
        #expect(refused.contains { $0["destination"] as? String == "0.0.0.0/1" && ($0["reason"] as? String)?.isEmpty == false })
    }

    /// The text plan shows tenant-chosen router names inside refusal messages: their control characters are escaped,
    /// so a name cannot add a line to the plan or drive the terminal.
    @Test func theTextPlanEscapesControlCharactersFromTenants() throws {
        let kernel = hostKernel()
        var cloud = sampleCloud()
        cloud.routers.append(Router(id: "evil\u{1b}[2J", name: "x\r\nadd  10.9.0.0/24  via 203.0.113.66", projectID: "proj-b", adminStateUp: false))
        let r = try Reconciler(kernel: kernel, settings: Settings(), logger: LogCapture().logger())
        let doc = PlanDocument(plan: try r.reconcile(snapshot: cloud, apply: false).plan, settings: Settings(), nexthopObjects: true)
        let text = TextReport.plan(doc)
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "\(text.debugDescription)")
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("add  10.9.0.0/24") }, "\(text)")
        #expect(text.contains(#"router evil\u{1b}[2J  [router_disabled]"#) && text.contains(#"(x\r\nadd  10.9.0.0/24"#), "\(text)")
    }

    @Test func routesResolveNexthopObjectsToGateways() throws {
        let kernel = hostKernel()
        _ = try Reconciler(kernel: kernel, settings: Settings(), logger: LogCapture().logger()).reconcile(snapshot: sampleCloud(), apply: true)
        let list = OwnedRoute.list(in: kernel.current, ownership: Ownership(proto: 200, table: 254))
        #expect(list.map(\.destination) == ["10.0.0.0/24", "10.1.0.0/24", "fd00:10::/64"])
        #expect(list.allSatisfy { $0.nexthopID != nil && $0.nextHop != nil })
        let text = TextReport.routes(list, table: 254, proto: 200)
        #expect(text.contains("10.0.0.0/24") && text.contains("203.0.113.10") && text.hasSuffix("3 routes\n"))
    }
}

@Suite struct MetricsTests {
    @Test func theEndpointServesMetricsHealthAndReadiness() async throws {
        let metrics = AgentMetrics()
        let kernel = hostKernel()
        let r = try Reconciler(kernel: kernel, settings: Settings(), logger: LogCapture().logger(), metrics: metrics)
        let report = try r.reconcile(snapshot: sampleCloud(), apply: true)
        metrics.recordReconcile(report, installedRoutes: 3, duration: .milliseconds(12), at: Date(timeIntervalSince1970: 1_700_000_000))
        let server = try await MetricsServer(host: "127.0.0.1", port: 0,
                                             responder: MetricsServer.agentResponder(metrics: metrics, ready: { (false, "not ready: test") }))
        defer { Task { await server.close() } }
        func get(_ path: String) async throws -> (Int, String) {
            let url = URL(string: "http://127.0.0.1:\(server.boundPort)\(path)")!
            let (data, response) = try await URLSession.shared.data(from: url)
            return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
        }
        let (status, body) = try await get("/metrics")
        #expect(status == 200)
        // Parse the exposition: every sample line is "name{labels} value".
        var samples: [String: Double] = [:]
        for line in body.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = Double(parts[1]) { samples[String(parts[0])] = v }
        }
        #expect(samples["mra_routes_desired"] == 3)
        #expect(samples["mra_routes_installed"] == 3)
        #expect(samples[#"mra_route_writes_total{result="ok"}"#] == Double(report.plan.operations.count))
        #expect(samples["mra_last_successful_sync_timestamp_seconds"] == 1_700_000_000)
        #expect(samples[#"mra_reconcile_duration_seconds_count"#] == 1)
        #expect(try await get("/healthz").0 == 200)
        #expect(try await get("/readyz").0 == 503)
        #expect(try await get("/nope").0 == 404)
    }
}

@Suite struct EventFilterTests {
    @Test func onlyEventsThatCanChangeThePlanWakeTheLoop() {
        let dst = IPPrefix("10.0.0.0/24")!
        let ours = Ownership(proto: 200, table: 254)
        #expect(KernelEventWatcher.matters(.routeDeleted(KernelRoute(destination: dst, proto: 200)), ownership: ours))
        #expect(!KernelEventWatcher.matters(.routeAdded(KernelRoute(destination: dst, proto: 200)), ownership: ours))
        #expect(KernelEventWatcher.matters(.routeAdded(KernelRoute(destination: dst, proto: 4)), ownership: ours))
        #expect(!KernelEventWatcher.matters(.routeDeleted(KernelRoute(destination: dst, table: 100, proto: 200)), ownership: ours))
        #expect(KernelEventWatcher.matters(.overflow, ownership: ours))
        #expect(KernelEventWatcher.matters(.nexthopDeleted(KernelNexthop(id: 200_000_001, gateway: nil, outputInterface: 0, proto: 200)), ownership: ours))
        // A nexthop of the agent's protocol outside its ID range is not the agent's: deleting it changes nothing.
        #expect(!KernelEventWatcher.matters(.nexthopDeleted(KernelNexthop(id: 1, gateway: nil, outputInterface: 0, proto: 200)), ownership: ours))
        #expect(!KernelEventWatcher.matters(.nexthopAdded(KernelNexthop(id: 200_000_001, gateway: nil, outputInterface: 0, proto: 200)), ownership: ours))
        #expect(KernelEventWatcher.matters(.nexthopAdded(KernelNexthop(id: 200_000_001, gateway: nil, outputInterface: 0, proto: 4)), ownership: ours))
    }

    @Test func aNamespaceRefusedWithEPERMSaysItNeedsCAPSYSADMIN() {
        let eperm = NetlinkError(errno: EPERM, operation: "enter network namespace blue")
        #expect(NetlinkKernel.namespaceHint("blue", eperm).contains("CAP_SYS_ADMIN"))
        #expect(NetlinkKernel.namespaceHint("blue", eperm).contains("RestrictNamespaces"))
        #expect(NetlinkKernel.namespaceHint("blue", NetlinkError(errno: ENOENT)) == "")
        #expect(NetlinkKernel.namespaceHint(nil, eperm) == "")
    }

    @Test func privilegesAreReadFromTheEffectiveSet() {
        #expect(Privileges.hasNetAdmin(status: "Name:\tx\nCapEff:\t0000000000001000\n"))
        #expect(!Privileges.hasNetAdmin(status: "CapEff:\t0000000000000000\n"))
        #expect(Privileges.hasNetAdmin(status: "CapEff:\t000001ffffffffff\n"))
    }
}
