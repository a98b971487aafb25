#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Model
import RoutePlanner

/// `/readyz` suffix when the brake holds deletions.
func heldNote(_ held: Int) -> String {
    held == 0 ? "" : "; \(held) route deletion(s) held by the deletion brake (confirm with 'metadata-route-agent sync --force-delete')"
}

/// `run --dry-run`: what a reconcile would have written, one line per change.
public func logDryRun(_ report: ReconcileReport, logger: Logger) {
    for c in report.plan.changes {
        var m: Logger.Metadata = ["dst": "\(c.destination)", "dry_run": "true"]
        if let nh = c.nextHop { m["via"] = "\(nh)" }
        if let old = c.previousNextHop { m["previous_via"] = "\(old)" }
        if let r = c.routerID { m["router"] = "\(r)" }
        let verb = c.action == .add ? "add" : c.action == .replace ? "replace" : "delete"
        logger.info("would \(verb) route", metadata: m)
    }
    for c in report.held {
        logger.info("would hold route deletion (deletion brake)", metadata: ["dst": "\(c.destination)", "dry_run": "true"])
    }
}

/// The brake's decision: newly held deletions once (not every cycle), and released ones.
public func logBrake(_ d: Safeguards.Decision, totalHeld: Int, brake: DeletionBrake, logger: Logger) {
    if !d.newlyHeld.isEmpty {
        let sample = d.newlyHeld.prefix(5).map { "\($0.destination)" }.joined(separator: ",")
        logger.warning("deletion brake: holding route deletions; adds and replaces were applied", metadata: [
            "held": "\(totalHeld)", "new": "\(d.newlyHeld.count)", "sample": "\(sample)", "max_delete": "\(brake)",
            "confirm": "metadata-route-agent sync --force-delete (or --delete-confirm-after)",
        ])
    }
    if let why = d.released {
        logger.notice("deletion brake released held deletions", metadata: ["reason": "\(why)"])
    }
}

/// One-shot commands (`sync`, `plan`): the brake with no history, `force` carrying everything out.
public func oneShotGate(settings: Settings, force: Bool) -> (RoutePlan, KernelView) -> BrakedPlan {
    let guards = Safeguards(brake: settings.deletionBrake, confirmAfter: nil, force: force)
    return { plan, view in
        // No history and no confirmation delay: the time is irrelevant, so a one-shot command needs no clock.
        guards.decide(plan, kernel: view, ownership: settings.ownership, now: .zero).braked
    }
}
