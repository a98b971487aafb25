import Foundation

/// Single changes to the generated cloud, each with what an agent should then write and the notifications a
/// real neutron-server 29 publishes for the same API call (shapes as recorded in
/// shared/fixtures/notifications): the stand-in's `/_control/change` applies them and publishes those.
extension StandInCloud {
    /// The kinds of change, named after the API call a Neutron user makes.
    public enum ChangeKind: String, CaseIterable, Sendable, Codable {
        /// `PUT /routers/{id}` with new `external_fixed_ips`: `router.update.start` / `.end` (the whole router).
        case gateway
        /// `PUT /ports/{gateway port}` with new `fixed_ips`: only `port.update.start` / `.end` of the
        /// `network:router_gateway` port (no router event, yet the router's gateway IPs changed).
        case gatewayPort = "gateway_port"
        /// `PUT /routers/{id}/add_router_interface` (a new network, subnet and port): `router.interface.create`.
        case addInterface = "add_interface"
        /// `PUT /routers/{id}/remove_router_interface`: `router.interface.delete`.
        case removeInterface = "remove_interface"
        /// Removing every interface (`router.interface.delete` each), then `DELETE /routers/{id}`
        /// (`router.delete.start` / `.end`).
        case deleteRouter = "delete_router"
    }

    /// A route the agent should hold: destination via next hop.
    public struct ExpectedRoute: Sendable, Codable, Equatable {
        public var destination: String
        public var via: String
    }

    /// One notification: its event type and payload (the envelope is `StandInNotification`'s business).
    public struct Event: Sendable {
        public var eventType: String
        public var payload: StandInJSON
    }

    /// One applied change.
    public struct Change: Sendable, Codable {
        public var kind: ChangeKind
        public var routerID: String
        public var routerIndex: Int
        /// Routes that appear, disappear, or keep their destination and change their next hop.
        public var routesAdded: [ExpectedRoute] = []
        public var routesRemoved: [String] = []
        public var routesChanged: [ExpectedRoute] = []
        /// Published before the change is visible (Neutron's `.start`) and after it (`.end`, `router.interface.*`).
        public var before: [Event] = []
        public var after: [Event] = []

        enum CodingKeys: String, CodingKey {
            case kind
            case routerID = "router_id"
            case routerIndex = "router_index"
            case routesAdded = "routes_added"
            case routesRemoved = "routes_removed"
            case routesChanged = "routes_changed"
        }
    }

    /// Why a change cannot be made.
    public enum ChangeError: Error, CustomStringConvertible {
        case noRouter(String)
        public var description: String {
            switch self {
            case .noRouter(let why): return why
            }
        }
    }

    /// Applies one change of `kind` to the router with index field `routerIndex` (nil: one chosen from the change
    /// count, deterministically, spread over the cloud; for `removeInterface`, the next router from there that
    /// has an IPv4-only interface and more than one interface; never one of `excluding`, so that a burst changes
    /// each router once). `stamp` is the `updated_at` written into payloads.
    public mutating func applyChange(_ kind: ChangeKind, routerIndex: Int? = nil, excluding: Set<String> = [],
                                     stamp: String = "2026-03-01T00:00:00Z") throws -> Change {
        guard !routers.isEmpty else { throw ChangeError.noRouter("the cloud has no router left") }
        changesApplied += 1
        var position: Int
        if let routerIndex {
            guard let p = routers.firstIndex(where: { $0.index == routerIndex }) else {
                throw ChangeError.noRouter("no router with index \(routerIndex)")
            }
            position = p
        } else {
            var rng = SplitMix64(seed: 0x5EED_0000 &+ UInt64(changesApplied))
            let n = routers.count, start = Int(rng.next() % UInt64(n))
            let usable: (Int) -> Bool = { [self] p in
                !excluding.contains(routers[p].id) && (kind != .removeInterface || removablePort(of: routers[p].id) != nil)
            }
            guard let p = (0..<n).lazy.map({ (start + $0) % n }).first(where: usable) else {
                throw ChangeError.noRouter("no router left for \(kind.rawValue)")
            }
            position = p
        }
        let r = routers[position]
        var change = Change(kind: kind, routerID: r.id, routerIndex: r.index)
        switch kind {
        case .gateway, .gatewayPort:
            routers[position].gatewayV4 = nextChurnGatewayV4
            routers[position].gatewayV6 = nextChurnGatewayV6
            nextChurnGatewayV4 += 1
            nextChurnGatewayV6 += 1
            let updated = routers[position]
            let port = gatewayPort(updated)
            if let p = ports.firstIndex(where: { $0.id == updated.gatewayPortID }) { ports[p] = port }
            change.routesChanged = routes(of: updated)
            if kind == .gateway {
                change.before = [Event(eventType: "router.update.start", payload: .object([
                    ("router", .object([("external_gateway_info", .object([
                        ("network_id", .string(Self.externalNetworkID)),
                        ("external_fixed_ips", Self.fixedIPsJSON(port.fixedIPs)),
                    ]))])),
                    ("id", .string(updated.id)),
                ]))]
                change.after = [Event(eventType: "router.update.end", payload: .object([("router", routerJSON(updated, stamp: stamp))]))]
            } else {
                change.before = [Event(eventType: "port.update.start", payload: .object([
                    ("port", .object([("fixed_ips", Self.fixedIPsJSON(port.fixedIPs))])),
                    ("id", .string(port.id)),
                ]))]
                change.after = [Event(eventType: "port.update.end", payload: .object([("port", portJSON(port, stamp: stamp))]))]
            }
        case .addInterface:
            let net = newNetworkID()
            let s = newV4Subnet(network: net, project: r.project, serial: r.index)
            subnets.append(s)
            networks.append(Network(id: net, name: "net-\(r.index)-x\(changesApplied)", project: r.project, external: false,
                                    subnetIDs: [s.id]))
            let port = Port(id: newPortID(), routerID: r.id, networkID: net, project: r.project, owner: "network:router_interface",
                            fixedIPs: [(s.id, s.gatewayIP)])
            ports.append(port)
            change.routesAdded = [ExpectedRoute(destination: s.cidr, via: Self.v4Text(r.gatewayV4))]
            change.after = [interfaceEvent("router.interface.create", port)]
        case .removeInterface:
            guard let p = removablePort(of: r.id) else {
                throw ChangeError.noRouter("router \(r.index) has no interface that can be removed")
            }
            let port = ports[p]
            ports.remove(at: p)
            change.routesRemoved = port.fixedIPs.compactMap { ip in subnets.first { $0.id == ip.0 }?.cidr }
            change.after = [interfaceEvent("router.interface.delete", port)]
        case .deleteRouter:
            let mine = ports.filter { $0.routerID == r.id && $0.owner == "network:router_interface" }
            change.routesRemoved = routes(of: r).map(\.destination)
            change.before = [Event(eventType: "router.delete.start", payload: .object([("router_id", .string(r.id))]))]
            change.after = mine.map { interfaceEvent("router.interface.delete", $0) } + [
                Event(eventType: "router.delete.end", payload: .object([
                    ("router_id", .string(r.id)), ("router", routerJSON(r, stamp: stamp, withGateway: false)),
                ])),
            ]
            ports.removeAll { $0.routerID == r.id }
            routers.remove(at: position)
        }
        return change
    }

    /// The router's last IPv4-only interface port, when it has more than one interface (as `churn` chooses).
    func removablePort(of routerID: String) -> Int? {
        let mine = ports.indices.filter { ports[$0].routerID == routerID && ports[$0].owner == "network:router_interface" }
        guard mine.count >= 2 else { return nil }
        return mine.last { ports[$0].fixedIPs.count == 1 }
    }

    /// Every route the router's interfaces ask for, via its gateway address of the same family.
    func routes(of r: Router) -> [ExpectedRoute] {
        var out: [ExpectedRoute] = []
        for port in ports where port.routerID == r.id && port.owner == "network:router_interface" {
            for (subnetID, _) in port.fixedIPs {
                guard let s = subnets.first(where: { $0.id == subnetID }) else { continue }
                let via = s.ipVersion == 6 ? Self.gatewayV6Text(r.gatewayV6) : Self.v4Text(r.gatewayV4)
                out.append(ExpectedRoute(destination: s.cidr, via: via))
            }
        }
        return out
    }

    // MARK: - Payloads, field by field as neutron-server 29 writes them

    static func fixedIPsJSON(_ ips: [(String, String)]) -> StandInJSON {
        .array(ips.map { .object([("subnet_id", .string($0.0)), ("ip_address", .string($0.1))]) })
    }

    func interfaceEvent(_ type: String, _ port: Port) -> Event {
        let subnetIDs = port.fixedIPs.map(\.0)
        return Event(eventType: type, payload: .object([("router_interface", .object([
            ("id", .string(port.routerID)),
            ("project_id", .string(port.project)),
            ("port_id", .string(port.id)),
            ("network_id", .string(port.networkID)),
            ("subnet_id", .string(subnetIDs.first ?? "")),
            ("subnet_ids", .array(subnetIDs.map { .string($0) })),
        ]))]))
    }

    func routerJSON(_ r: Router, stamp: String, withGateway: Bool = true) -> StandInJSON {
        let gateway: StandInJSON = withGateway
            ? .object([
                ("network_id", .string(Self.externalNetworkID)),
                ("external_fixed_ips", Self.fixedIPsJSON(gatewayPort(r).fixedIPs)),
                ("enable_snat", .bool(true)),
            ])
            : .null
        return .object([
            ("id", .string(r.id)), ("name", .string("router-\(r.index)")), ("project_id", .string(r.project)),
            ("admin_state_up", .bool(true)), ("status", .string("ACTIVE")), ("external_gateway_info", gateway),
            ("description", .string("")), ("availability_zones", .array([])), ("distributed", .bool(false)), ("ha", .bool(false)),
            ("availability_zone_hints", .array([])), ("routes", .array([])), ("flavor_id", .null), ("tags", .array([])),
            ("created_at", .string(Self.timestamp(r.index))), ("updated_at", .string(stamp)),
            ("revision_number", .int(2 + changesApplied)), ("tenant_id", .string(r.project)),
        ])
    }

    func portJSON(_ p: Port, stamp: String) -> StandInJSON {
        let n = Int(p.id.suffix(12)) ?? 0
        let mac = String(format: "fa:16:3e:%02x:%02x:%02x", (n >> 16) & 255, (n >> 8) & 255, n & 255)
        return .object([
            ("id", .string(p.id)), ("name", .string("")), ("network_id", .string(p.networkID)), ("project_id", .string(p.project)),
            ("mac_address", .string(mac)), ("admin_state_up", .bool(true)), ("status", .string("DOWN")),
            ("device_id", .string(p.routerID)), ("device_owner", .string(p.owner)), ("fixed_ips", Self.fixedIPsJSON(p.fixedIPs)),
            ("allowed_address_pairs", .array([])), ("extra_dhcp_opts", .array([])), ("security_groups", .array([])),
            ("description", .string("")), ("binding:vnic_type", .string("normal")), ("binding:profile", .object([])),
            ("binding:host_id", .string("")), ("binding:vif_type", .string("unbound")), ("binding:vif_details", .object([])),
            ("port_security_enabled", .bool(false)), ("tags", .array([])), ("created_at", .string("2026-01-01T00:00:00Z")),
            ("updated_at", .string(stamp)), ("revision_number", .int(2 + changesApplied)), ("tenant_id", .string(p.project)),
        ])
    }
}

/// A JSON value with its object keys in order (as Python's json.dumps writes them), written by `JSONBytes`.
public indirect enum StandInJSON: Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case null
    case array([StandInJSON])
    case object([(String, StandInJSON)])

    public var bytes: [UInt8] {
        var out = JSONBytes(capacity: 512)
        write(to: &out)
        return out.bytes
    }

    func write(to out: inout JSONBytes) {
        switch self {
        case .string(let s): out.string(s)
        case .int(let i): out.raw(String(i))
        case .bool(let b): out.raw(b ? "true" : "false")
        case .null: out.raw("null")
        case .array(let items):
            out.raw("[")
            for (i, v) in items.enumerated() {
                if i > 0 { out.raw(", ") }
                v.write(to: &out)
            }
            out.raw("]")
        case .object(let fields):
            out.raw("{")
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out.raw(", ") }
                out.string(k)
                out.raw(": ")
                v.write(to: &out)
            }
            out.raw("}")
        }
    }
}

/// The oslo.messaging envelope of one notification, as `driver = messagingv2` publishes it:
/// `{"oslo.version": "2.0", "oslo.message": "<the message as a JSON string>"}`, the message holding
/// `message_id`, `publisher_id`, `event_type`, `priority`, `payload`, `timestamp` (UTC, "2026-12-02 04:25:11.130094"),
/// `_unique_id` and the request context's `_context_*` fields (an admin context, as Neutron's own).
public enum StandInNotification {
    public static func body(eventType: String, payload: StandInJSON, serial: Int, timestamp: Date,
                            publisherID: String = "network.neutron-standin") -> [UInt8] {
        let stamp = timestampText(timestamp)
        let hex = String(serial, radix: 16)
        let unique = String(repeating: "0", count: max(0, 32 - hex.count)) + hex
        let message: StandInJSON = .object([
            ("message_id", .string(StandInCloud.uuid("5e000000", serial))),
            ("publisher_id", .string(publisherID)),
            ("event_type", .string(eventType)),
            ("priority", .string("INFO")),
            ("payload", payload),
            ("timestamp", .string(stamp)),
            ("_unique_id", .string(unique)),
            ("_context_user", .null), ("_context_project_id", .null), ("_context_system_scope", .null),
            ("_context_project", .null), ("_context_domain", .null), ("_context_user_domain", .null),
            ("_context_project_domain", .null), ("_context_is_admin", .bool(true)), ("_context_read_only", .bool(false)),
            ("_context_show_deleted", .bool(false)), ("_context_auth_token", .null),
            ("_context_request_id", .string("req-" + StandInCloud.uuid("7e000000", serial))),
            ("_context_global_request_id", .null), ("_context_resource_uuid", .null),
            ("_context_roles", .array([.string("member"), .string("reader"), .string("admin")])),
            ("_context_user_identity", .string("- - - - -")), ("_context_is_admin_project", .bool(true)),
            ("_context_user_id", .null), ("_context_timestamp", .string(stamp)), ("_context_project_name", .null),
            ("_context_user_name", .null), ("_context_has_global_access", .bool(true)),
            ("_context_can_set_project_id", .bool(true)),
        ])
        let inner = String(decoding: message.bytes, as: UTF8.self)
        return StandInJSON.object([("oslo.version", .string("2.0")), ("oslo.message", .string(inner))]).bytes
    }

    /// oslo's `timeutils.utcnow()` as the notifier writes it: "YYYY-MM-DD HH:MM:SS.ffffff", UTC.
    public static func timestampText(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = micros - seconds * 1_000_000
        var days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):"
            + "\(pad(secondOfDay % 60, 2)).\(pad(fraction, 6))"
    }

    /// Neutron's `updated_at` form: "2026-12-02T04:25:16Z".
    public static func isoSeconds(_ date: Date) -> String {
        let t = timestampText(date)
        return String(t.prefix(10)) + "T" + String(t.dropFirst(11).prefix(8)) + "Z"
    }
}
