import Model

/// A subnet of a selected router that passed every check before conflict resolution.
struct Candidate: Hashable, Sendable {
    var subnet: Subnet
    var routerID: String
    var projectID: String
    var nextHop: IPAddress
    var outputInterface: Int32

    var route: DesiredRoute {
        DesiredRoute(destination: subnet.cidr, nextHop: nextHop, routerID: routerID, subnetID: subnet.id,
                     projectID: projectID, outputInterface: outputInterface)
    }

    /// Creation order: `created_at`, then subnet ID, then router ID, then next hop.
    static func earlier(_ a: Candidate, _ b: Candidate) -> Bool {
        if a.subnet.createdAt != b.subnet.createdAt { return a.subnet.createdAt < b.subnet.createdAt }
        if a.subnet.id != b.subnet.id { return a.subnet.id < b.subnet.id }
        if a.routerID != b.routerID { return a.routerID < b.routerID }
        if a.nextHop != b.nextHop { return a.nextHop < b.nextHop }
        return a.subnet.cidr < b.subnet.cidr
    }
}

/// Resolves overlaps between accepted candidates: the earliest-created subnet keeps its route;
/// a later one overlapping it with another next hop is refused and names the winner.
/// Identical prefix and next hop twice is one route (the earliest provenance).
func resolveConflicts(_ candidates: [Candidate]) -> (accepted: [Candidate], refused: [Refusal]) {
    var accepted: [Candidate] = []
    var refused: [Refusal] = []
    // Every candidate is indexed once, sorted once; only those already accepted count as hits.
    // (Inserting into the sorted index one by one was quadratic when subnets are not created in address order.)
    let ordered = candidates.sorted(by: Candidate.earlier)
    let index = PrefixIndex(ordered.enumerated().map { ($0.element.subnet.cidr, $0.offset) })
    var isAccepted = [Bool](repeating: false, count: ordered.count)
    for (position, c) in ordered.enumerated() {
        let hits = index.overlapping(c.subnet.cidr).filter { isAccepted[$0.1] }.map { ordered[$0.1] }
        if let winner = hits.filter({ $0.nextHop != c.nextHop }).min(by: Candidate.earlier) {
            let w = winner.subnet
            refused.append(Refusal(
                reason: .conflictsWithOtherTenant, destination: c.subnet.cidr, nextHop: c.nextHop, routerID: c.routerID,
                subnetID: c.subnet.id, projectID: c.projectID,
                message: "Subnet \(c.subnet.id) (\(c.subnet.cidr)) on router \(c.routerID) overlaps \(w.cidr) of subnet \(w.id) (project \(winner.projectID), router \(winner.routerID)), which was created earlier and keeps its route via \(winner.nextHop); renumber one of the two subnets — the earlier one keeps the route until then.",
                lostTo: Conflict(subnetID: w.id, routerID: winner.routerID, destination: w.cidr, nextHop: winner.nextHop)))
            continue
        }
        if hits.contains(where: { $0.subnet.cidr == c.subnet.cidr && $0.nextHop == c.nextHop }) { continue }
        isAccepted[position] = true
        accepted.append(c)
    }
    return (accepted, refused)
}
