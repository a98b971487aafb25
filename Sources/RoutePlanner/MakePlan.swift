import Model

/// Plans the routes for one reconcile: which tenant subnets get a route via which router gateway,
/// which are refused and why, and the kernel writes that turn the owned routes into the desired ones.
///
/// Pure and deterministic: the same snapshot, kernel view and policy give the same plan, whatever the
/// order of the input arrays.
///
/// ```swift
/// let plan = makePlan(snapshot: snapshot, kernel: view, policy: Policy())
/// for r in plan.refused { print(r.reason.rawValue, r.message) }
/// for op in plan.operations { print(op.summary) }
/// ```
public func makePlan(snapshot: CloudSnapshot, kernel: KernelView, policy: Policy) -> RoutePlan {
    FullPlan(snapshot: snapshot, kernel: kernel, policy: policy).plan
}

/// A whole plan and the pieces it was made of; `makePlan` keeps only `plan`, the incremental planner indexes the rest.
struct FullPlan {
    let rules: RefusalRules
    /// Refusals before conflict resolution (router and subnet checks), in router order.
    let checkRefusals: [Refusal]
    /// Subnets that passed every check, in router order.
    let candidates: [Candidate]
    let accepted: [Candidate]
    /// Candidates refused by conflict resolution.
    let lost: [Refusal]
    let owned: OwnedKernelState
    let nexthops: NexthopAllocation
    let plan: RoutePlan

    init(snapshot: CloudSnapshot, kernel: KernelView, policy: Policy) {
        let rules = RefusalRules(snapshot: snapshot, kernel: kernel, policy: policy)
        var refused: [Refusal] = []
        var candidates: [Candidate] = []
        for router in rules.routers {
            switch rules.judge(router) {
            case .refused(let r):
                refused.append(r)
            case .selected(let gateways, let subnetIDs):
                for id in subnetIDs {
                    switch rules.judge(subnetID: id, of: router, gateways: gateways) {
                    case .refused(let r): refused.append(r)
                    case .candidate(let c): candidates.append(c)
                    }
                }
            }
        }
        let (accepted, lost) = resolveConflicts(candidates)
        // Conflict resolution accepts one route per destination, so the destination alone orders them as `<` does.
        let desired = accepted.map(\.route).sorted { $0.destination < $1.destination }
        let owned = OwnedKernelState(kernel: kernel, ownership: policy.ownership)
        let nexthops = NexthopAllocation(desired: desired, owned: owned, policy: policy)
        let diff = RouteDiff(desired: desired, owned: owned, nexthops: nexthops, policy: policy)
        self.rules = rules
        self.checkRefusals = refused
        self.candidates = candidates
        self.accepted = accepted
        self.lost = lost
        self.owned = owned
        self.nexthops = nexthops
        plan = RoutePlan(desired: desired, refused: Array(Set(refused + lost)).sorted(), changes: diff.changes,
                         operations: diff.operations)
    }
}
