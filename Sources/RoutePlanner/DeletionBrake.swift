import Model

/// How many owned routes the agent may delete within a sliding window before it holds further deletions
/// for an operator to confirm: a guard against a read that is valid but wrong (an empty answer, a
/// credential that lost its cloud-wide role, a database restored from an old backup).
///
/// Pure arithmetic; the agent keeps the window's history and the held deletions.
///
/// ```swift
/// let brake = DeletionBrake(limit: .percent(10))
/// let budget = brake.budget(ownedRoutes: 300, deletedInWindow: 0)   // 30
/// let braked = applyDeletionBudget(plan, budget: budget)
/// ```
public struct DeletionBrake: Sendable, Hashable, CustomStringConvertible {
    public enum Limit: Sendable, Hashable {
        /// No brake.
        case off
        /// A percentage of the owned routes (those in the kernel plus those deleted within the window).
        case percent(Double)
        /// An absolute number of routes.
        case count(Int)
    }

    public var limit: Limit
    /// A percentage never allows fewer than this many deletions per window.
    public var minimum: Int
    /// The sliding window over which deletions are counted.
    public var window: Duration

    public init(limit: Limit = .percent(10), minimum: Int = 5, window: Duration = .seconds(600)) {
        self.limit = limit
        self.minimum = minimum
        self.window = window
    }

    /// `10%`, `25`, or `off`; nil when the text is none of them.
    public static func parseLimit(_ text: String) -> Limit? {
        let t = String(text.filter { $0 != " " }).lowercased()
        if t == "off" || t == "none" { return .off }
        if t.hasSuffix("%") {
            guard let p = Double(t.dropLast()), p.isFinite, p >= 0, p <= 100 else { return nil }
            return .percent(p)
        }
        guard let n = Int(t), n >= 0, n <= 10_000_000 else { return nil }
        return .count(n)
    }

    public var description: String {
        switch limit {
        case .off: return "off"
        case .percent(let p): return p == p.rounded() ? "\(Int(p))%" : "\(p)%"
        case .count(let n): return "\(n)"
        }
    }

    /// The most deletions the window may hold for this many owned routes (nil: no limit).
    public func capacity(ownedRoutes: Int) -> Int? {
        switch limit {
        case .off: return nil
        case .count(let n): return n
        case .percent(let p): return max(minimum, Int((Double(ownedRoutes) * p / 100).rounded(.down)))
        }
    }

    /// Deletions still allowed now: the capacity for the routes owned at the window's start (those in the
    /// kernel now plus those already deleted within it) minus what the window already deleted.
    public func budget(ownedRoutes: Int, deletedInWindow: Int) -> Int? {
        guard let cap = capacity(ownedRoutes: ownedRoutes + deletedInWindow) else { return nil }
        return max(0, cap - deletedInWindow)
    }
}

/// A plan split by the brake: what may be written now, and the route deletions held back.
public struct BrakedPlan: Sendable, Hashable {
    /// The plan to apply: every add and replace, the allowed deletions.
    public var plan: RoutePlan
    /// Route deletions held back (each a `.delete` change of a destination the plan no longer wants).
    public var held: [PlannedChange]

    public init(plan: RoutePlan, held: [PlannedChange]) {
        self.plan = plan
        self.held = held
    }
}

/// The destinations a plan stops routing (deletions that remove a destination, not duplicate clean-up).
public func removedDestinations(_ plan: RoutePlan) -> [IPPrefix] {
    let desired = Set(plan.desired.map(\.destination))
    var seen = Set<IPPrefix>()
    return plan.changes.filter { $0.action == .delete && !desired.contains($0.destination) }
        .map(\.destination).filter { seen.insert($0).inserted }
}

/// Holds every removed destination not in `allowed`: its route deletions leave the plan, and so does the
/// deletion of any nexthop object a held route still uses (deleting the nexthop would delete the route).
/// Adds, replaces and duplicate clean-ups stay.
public func holdDeletions(_ plan: RoutePlan, allowed: Set<IPPrefix>) -> BrakedPlan {
    let removed = Set(removedDestinations(plan))
    let holding = removed.subtracting(allowed)
    guard !holding.isEmpty else { return BrakedPlan(plan: plan, held: []) }
    var keptNexthops = Set<UInt32>()
    var ops: [KernelOperation] = []
    for op in plan.operations {
        if case .deleteRoute(let r) = op, holding.contains(r.destination) {
            if case .nexthop(let id) = r.target { keptNexthops.insert(id) }
        }
    }
    for op in plan.operations {
        switch op {
        case .deleteRoute(let r) where holding.contains(r.destination): continue
        case .deleteNexthop(let id) where keptNexthops.contains(id): continue
        default: ops.append(op)
        }
    }
    var out = plan
    out.operations = ops
    out.changes = plan.changes.filter { !($0.action == .delete && holding.contains($0.destination)) }
    let held = plan.changes.filter { $0.action == .delete && holding.contains($0.destination) }
    return BrakedPlan(plan: out, held: held)
}

/// Allows the first `budget` removed destinations (in the plan's sorted order) and holds the rest;
/// a nil budget allows everything.
public func applyDeletionBudget(_ plan: RoutePlan, budget: Int?) -> BrakedPlan {
    guard let budget else { return BrakedPlan(plan: plan, held: []) }
    return holdDeletions(plan, allowed: Set(removedDestinations(plan).prefix(max(0, budget))))
}
