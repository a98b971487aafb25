import Model
import OpenStack

/// How the daemon learns of Neutron's changes at the moment.
public enum EventsState: String, Sendable, Hashable {
    /// No `--events-url`: polling at `--interval`.
    case off
    /// Connecting for the first time (polling meanwhile).
    case connecting
    /// Bound and consuming: targeted re-reads, a full read every `--resync-interval`.
    case connected
    /// The broker is unreachable or refused the agent: polling at `--interval` until it answers.
    case down
    /// The broker answers but Neutron's exchange does not exist: notifications are probably off. Polling.
    case exchangeMissing = "exchange_missing"

    /// The sentence /readyz adds.
    func readinessNote(interval: Double) -> String {
        switch self {
        case .off: return ""
        case .connected: return "; following Neutron's notifications"
        case .connecting: return "; connecting to the broker, polling Neutron every \(fixed(interval, 0)) s meanwhile"
        case .down: return "; broker unreachable, polling Neutron every \(fixed(interval, 0)) s"
        case .exchangeMissing: return "; Neutron's exchange not found on the broker (notifications off?), polling Neutron every \(fixed(interval, 0)) s"
        }
    }
}

extension CloudSnapshot {
    /// Puts `read` in place of what the snapshot had for `routers`: those routers, all their ports, and the new
    /// subnets; routers the read no longer found (deleted) lose their ports too. Linear in the snapshot, and no
    /// copy when its storage is not shared.
    public mutating func fold(_ read: RoutersRead, routers ids: Set<String>) {
        routers.removeAll { ids.contains($0.id) }
        routers += read.routers
        ports.removeAll { ids.contains($0.deviceID) }
        ports += read.ports
        if !read.subnets.isEmpty {
            let fresh = Set(read.subnets.map(\.id))
            subnets.removeAll { fresh.contains($0.id) }
            subnets += read.subnets
        }
    }
}

/// The routers whose routing-relevant state differs between two snapshots: the router itself, its interface
/// ports' addresses, or the CIDRs and creation times of the subnets those name. Linear in the snapshots.
public func changedRouters(from old: CloudSnapshot, to new: CloudSnapshot) -> Set<String> {
    func fingerprints(_ s: CloudSnapshot) -> [String: Int] {
        var subnet: [String: Int] = [:]
        for x in s.subnets {
            var h = Hasher()
            h.combine(x.cidr)
            h.combine(x.createdAt)
            h.combine(x.projectID)
            subnet[x.id] = h.finalize()
        }
        var portsOf: [String: [RouterPort]] = [:]
        for p in s.ports where RouterPort.interfaceOwners.contains(p.deviceOwner) { portsOf[p.deviceID, default: []].append(p) }
        var out: [String: Int] = [:]
        for r in s.routers {
            var h = Hasher()
            h.combine(r)
            // Order-independent over the ports and their addresses.
            var ports = 0
            for p in portsOf[r.id] ?? [] {
                for ip in p.fixedIPs {
                    var ph = Hasher()
                    ph.combine(p.id)
                    ph.combine(ip)
                    ph.combine(subnet[ip.subnetID])
                    ports &+= ph.finalize()
                }
            }
            h.combine(ports)
            out[r.id] = h.finalize()
        }
        return out
    }
    let a = fingerprints(old), b = fingerprints(new)
    var changed = Set<String>()
    for (id, f) in a where b[id] != f { changed.insert(id) }
    for id in b.keys where a[id] == nil { changed.insert(id) }
    return changed
}

/// A duration in seconds.
func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
