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
import Synchronization

/// The state behind the deletion brake and the scope check, kept across reconciles by the daemon (a
/// one-shot command uses a fresh one): deletions within the sliding window, the deletions held for an
/// operator, a pending `--force-delete`, and the projects the previous full read could see.
///
/// Time is passed in (`now`), so tests drive it by hand.
public final class Safeguards: Sendable {
    /// Time on the daemon's clock (`AgentClock.now`: time since its origin).
    public typealias Instant = Duration

    struct State {
        var brake: DeletionBrake
        var confirmAfter: Duration?
        /// Deletions carried out (allowed) per full reconcile, within the window.
        var ledger: [(at: Instant, count: Int)] = []
        var held: [PlannedChange] = []
        var heldSince: Instant?
        var forceRequested = false
        /// Removed destinations the last full reconcile allowed (kernel events may redo exactly these).
        var lastAllowed: Set<IPPrefix> = []
        var previousProjects: Set<String>?
        var warnedOwnProject = false
    }
    private let state: Mutex<State>

    public init(brake: DeletionBrake = DeletionBrake(), confirmAfter: Duration? = nil, force: Bool = false) {
        var s = State(brake: brake, confirmAfter: confirmAfter)
        s.forceRequested = force
        state = Mutex(s)
    }

    /// New limits after a reload; the window's history and held deletions stay.
    public func update(brake: DeletionBrake, confirmAfter: Duration?) {
        state.withLock { $0.brake = brake; $0.confirmAfter = confirmAfter }
    }

    /// The next full reconcile carries out every deletion it wants (operator confirmation). Also accepts
    /// a shrunken scope as the new normal.
    public func requestForce() {
        state.withLock { $0.forceRequested = true; $0.previousProjects = nil }
    }

    /// The deletions held now.
    public var held: [PlannedChange] { state.withLock { $0.held } }

    /// What a reconcile after a full read may write. `newlyHeld` lists held deletions not held before
    /// (log them once); `released` tells why held deletions were let through.
    public struct Decision: Sendable {
        public var braked: BrakedPlan
        public var newlyHeld: [PlannedChange]
        public var released: String?
    }

    /// Splits `plan` (after a full read) into what may be written now and what is held.
    public func decide(_ plan: RoutePlan, kernel: KernelView, ownership: Ownership, now: Instant) -> Decision {
        let owned = Set(kernel.routes.filter { ownership.owns(route: $0) }.map(\.destination)).count
        return state.withLock { s in
            s.ledger.removeAll { now - $0.at >= s.brake.window }
            let inWindow = s.ledger.reduce(0) { $0 + $1.count }
            let removed = removedDestinations(plan)
            let previouslyHeld = Set(s.held.map(\.destination))
            var released: String?
            var braked: BrakedPlan
            if s.forceRequested {
                s.forceRequested = false
                braked = BrakedPlan(plan: plan, held: [])
                if !removed.isEmpty { released = "confirmed by the operator (--force-delete)" }
            } else {
                braked = applyDeletionBudget(plan, budget: s.brake.budget(ownedRoutes: owned, deletedInWindow: inWindow))
                let heldNow = Set(braked.held.map(\.destination))
                if let wait = s.confirmAfter, let since = s.heldSince, !heldNow.isEmpty, heldNow.isSubset(of: previouslyHeld),
                   now - since >= wait {
                    braked = BrakedPlan(plan: plan, held: [])
                    released = "reads kept wanting the same deletions for \(wait) (--delete-confirm-after)"
                }
            }
            let heldNow = Set(braked.held.map(\.destination))
            if heldNow.isEmpty {
                s.heldSince = nil
            } else if s.heldSince == nil || !heldNow.isSubset(of: previouslyHeld) {
                s.heldSince = now
            }
            let newly = braked.held.filter { !previouslyHeld.contains($0.destination) }
            s.held = braked.held
            let allowed = Set(removed).subtracting(heldNow)
            s.lastAllowed = allowed
            if !allowed.isEmpty { s.ledger.append((now, allowed.count)) }
            return Decision(braked: braked, newlyHeld: newly, released: released)
        }
    }

    /// A plan of only what notifications changed (a delta): its deletions count against the same sliding window
    /// as full reconciles', so a stream of small deltas cannot drain the table either. What it holds joins the
    /// held deletions (the next full reconcile decides them all again).
    public func decideDelta(_ plan: RoutePlan, ownedRoutes owned: Int, now: Instant) -> Decision {
        state.withLock { s in
            s.ledger.removeAll { now - $0.at >= s.brake.window }
            let inWindow = s.ledger.reduce(0) { $0 + $1.count }
            let previouslyHeld = Set(s.held.map(\.destination))
            var braked = applyDeletionBudget(plan, budget: s.brake.budget(ownedRoutes: owned, deletedInWindow: inWindow))
            if s.forceRequested {
                braked = BrakedPlan(plan: plan, held: [])
            }
            let newly = braked.held.filter { !previouslyHeld.contains($0.destination) }
            if !newly.isEmpty {
                s.held += newly
                if s.heldSince == nil { s.heldSince = now }
            }
            let allowed = Set(removedDestinations(plan)).subtracting(braked.held.map(\.destination))
            s.lastAllowed.formUnion(allowed)
            if !allowed.isEmpty { s.ledger.append((now, allowed.count)) }
            return Decision(braked: braked, newlyHeld: newly, released: nil)
        }
    }

    /// After a kernel event: no deletion beyond what the last full reconcile allowed.
    public func decideForKernelEvent(_ plan: RoutePlan) -> BrakedPlan {
        let allowed = state.withLock { $0.lastAllowed }
        return holdDeletions(plan, allowed: allowed)
    }

    // MARK: - Scope

    /// True the first time a read shows only the credential's own project (warn then, not every cycle).
    public func shouldWarnOwnProject(_ ownOnly: Bool) -> Bool {
        state.withLock { s in
            defer { s.warnedOwnProject = ownOnly }
            return ownOnly && !s.warnedOwnProject
        }
    }

    /// Compares the projects this full read could see with the previous one; returns the reason when the
    /// set shrank sharply (the read then fails), and remembers the set otherwise.
    public func checkScope(_ current: Set<String>) -> String? {
        state.withLock { s in
            if let previous = s.previousProjects, scopeShrankSharply(previous: previous, current: current) {
                return "the credential now sees \(current.count) project(s) where the previous read saw \(previous.count); treated as a failed read, not as deletions (a lost role or a wrong endpoint); if this is real, confirm with 'metadata-route-agent sync --force-delete' or restart the agent"
            }
            s.previousProjects = current
            return nil
        }
    }
}

/// The projects a snapshot shows: owners of routers and of tenant subnets (external networks' subnets,
/// visible to everyone, do not count).
public func visibleProjects(_ snapshot: CloudSnapshot) -> Set<String> {
    let external = Set(snapshot.networks.filter(\.isExternal).map(\.id))
    var p = Set(snapshot.routers.map(\.projectID))
    for s in snapshot.subnets where !external.contains(s.networkID) { p.insert(s.projectID) }
    p.remove("")
    return p
}

/// Whether the credential evidently sees only its own project: something is visible and all of it
/// belongs to `ownProject`.
public func seesOnlyOwnProject(_ snapshot: CloudSnapshot, ownProject: String?) -> Bool {
    guard let own = ownProject, !own.isEmpty else { return false }
    let p = visibleProjects(snapshot)
    return p == [own]
}

/// Sharp shrinking: from 2 or more projects to none, or from 3 or more to less than half.
public func scopeShrankSharply(previous: Set<String>, current: Set<String>) -> Bool {
    if previous.count >= 2 && current.isEmpty { return true }
    return previous.count >= 3 && current.count * 2 < previous.count
}

/// The one warning line when the credential sees only its own project.
public func ownProjectWarning(_ project: String) -> String {
    "the credential sees only its own project (\(project)): every visible router and subnet belongs to it, so routes of other projects would be missing; give the agent's user a cloud-wide reader role (for example 'reader' with system scope or 'admin') or list the projects explicitly with --project"
}

extension Duration {
    /// `90s`, `10m`, `1h`, `2h30m`, or a number of seconds; nil when none.
    public static func parseHuman(_ text: String) -> Duration? {
        let t = text.trimmingWhitespace.lowercased()
        if let s = Double(t), s.isFinite, s >= 0, s <= 31_536_000 { return .milliseconds(Int64(s * 1000)) }
        var total = 0.0, number = ""
        for c in t {
            if c.isNumber || c == "." { number.append(c); continue }
            guard let n = Double(number) else { return nil }
            switch c {
            case "s": total += n
            case "m": total += n * 60
            case "h": total += n * 3600
            case "d": total += n * 86400
            default: return nil
            }
            number = ""
        }
        guard number.isEmpty, total > 0, total <= 31_536_000 else { return nil }
        return .milliseconds(Int64(total * 1000))
    }
}
