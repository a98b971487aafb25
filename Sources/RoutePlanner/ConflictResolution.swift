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
    // Positions are sorted rather than the candidates themselves (large values: moving them is most of a sort's cost).
    let order = candidates.indices.sorted { Candidate.earlier(candidates[$0], candidates[$1]) }
    let index = PrefixIndex(order.enumerated().map { (candidates[$0.element].subnet.cidr, $0.offset) })
    var isAccepted = [Bool](repeating: false, count: order.count)
    for (position, i) in order.enumerated() {
        let c = candidates[i]
        // Creation order is a total order and positions follow it: the earliest winner is the lowest position.
        var winner: Int?
        var duplicate = false
        index.forEachOverlapping(c.subnet.cidr) { prefix, other in
            guard isAccepted[other] else { return }
            let o = candidates[order[other]]
            if o.nextHop != c.nextHop {
                if winner == nil || other < winner! { winner = other }
            } else if prefix == c.subnet.cidr {
                duplicate = true
            }
        }
        if let winnerPosition = winner {
            let winner = candidates[order[winnerPosition]]
            let w = winner.subnet
            refused.append(Refusal(
                reason: .conflictsWithOtherTenant, destination: c.subnet.cidr, nextHop: c.nextHop, routerID: c.routerID,
                subnetID: c.subnet.id, projectID: c.projectID,
                message: "Subnet \(c.subnet.id) (\(c.subnet.cidr)) on router \(c.routerID) overlaps \(w.cidr) of subnet \(w.id) (project \(winner.projectID), router \(winner.routerID)), which was created earlier and keeps its route via \(winner.nextHop); renumber one of the two subnets — the earlier one keeps the route until then.",
                lostTo: Conflict(subnetID: w.id, routerID: winner.routerID, destination: w.cidr, nextHop: winner.nextHop)))
            continue
        }
        if duplicate { continue }
        isAccepted[position] = true
        accepted.append(c)
    }
    return (accepted, refused)
}
