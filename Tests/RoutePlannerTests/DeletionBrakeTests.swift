import Model
import Testing
@testable import RoutePlanner

@Suite struct DeletionBrakeTests {
    /// `count` routers with one /24 each, installed by a first plan; returns the cloud and the kernel after it.
    func installed(_ count: Int, nexthops: Bool = true) -> Cloud {
        var c = Cloud()
        c.policy.useNexthopObjects = nexthops
        for i in 0..<count {
            c.router("r\(i)", gateways: ["203.0.113.\(10 + i)"])
            c.subnet("s\(i)", "10.\(i).0.0/24", router: "r\(i)")
        }
        c.kernel = simulate(c.plan().operations, on: c.kernel)
        return c
    }

    @Test(arguments: [
        // limit, owned, deleted in window, budget
        (DeletionBrake.Limit.percent(10), 300, 0, 30),
        (.percent(10), 20, 0, 5),          // never fewer than 5
        (.percent(10), 0, 0, 5),
        (.percent(10), 270, 30, 0),        // the window already used the whole allowance of 300
        (.percent(10), 280, 20, 10),
        (.percent(50), 10, 0, 5),
        (.count(3), 1000, 0, 3),
        (.count(3), 1000, 2, 1),
        (.count(3), 1000, 7, 0),
    ])
    func budgetIsTheCapacityForTheRoutesOwnedAtTheWindowsStartMinusWhatItDeleted(limit: DeletionBrake.Limit, owned: Int, deleted: Int, budget: Int) {
        #expect(DeletionBrake(limit: limit).budget(ownedRoutes: owned, deletedInWindow: deleted) == budget)
    }

    @Test func offHasNoBudget() {
        #expect(DeletionBrake(limit: .off).budget(ownedRoutes: 10, deletedInWindow: 1000) == nil)
    }

    @Test(arguments: [("10%", DeletionBrake.Limit.percent(10)), ("off", .off), ("25", .count(25)), (" 2.5% ", .percent(2.5)), ("0", .count(0))])
    func limitsParse(text: String, limit: DeletionBrake.Limit) {
        #expect(DeletionBrake.parseLimit(text) == limit)
    }

    @Test(arguments: ["", "ten", "-1", "101%", "%", "1e400%"])
    func nonsenseLimitsAreRejected(text: String) {
        #expect(DeletionBrake.parseLimit(text) == nil)
    }

    @Test func anEmptyCloudDeletesOnlyTheBudgetAndHoldsTheRestWithTheirNexthops() {
        var c = installed(20)
        let ownedBefore = c.kernel.routes.filter { $0.proto == 200 }.count
        c.snapshot.routers = []
        c.snapshot.ports = []
        let braked = applyDeletionBudget(c.plan(), budget: 5)
        #expect(braked.held.count == 15)
        let deletes = braked.plan.operations.filter { if case .deleteRoute = $0 { return true } else { return false } }
        #expect(deletes.count == 5)
        // Apply what the brake lets through: every held route must still work (its nexthop object kept).
        let after = simulate(braked.plan.operations, on: c.kernel)
        let owned = after.routes.filter { $0.proto == 200 }
        #expect(owned.count == ownedBefore - 5)
        let ids = Set(after.nexthops.map(\.id))
        #expect(owned.allSatisfy { $0.nexthopID.map(ids.contains) ?? true })
        #expect(Set(owned.map(\.destination)) == Set(braked.held.map(\.destination)))
    }

    @Test func addsAndReplacesAreNeverHeld() {
        var c = installed(10, nexthops: false)
        c.snapshot.routers = c.snapshot.routers.filter { $0.id != "r0" && $0.id != "r1" }   // two routes go
        c.router("new", gateways: ["203.0.113.200"])
        c.subnet("snew", "10.200.0.0/24", router: "new")                                      // one comes
        c.snapshot.routers[0].gateways[0].fixedIPs[0].ipAddress = ip("203.0.113.201")         // one moves
        let braked = applyDeletionBudget(c.plan(), budget: 0)
        #expect(braked.held.map(\.destination) == [pfx("10.0.0.0/24"), pfx("10.1.0.0/24")])
        #expect(braked.plan.changes.map(\.action).sorted() == [.add, .replace])
    }

    @Test func allowedDestinationsPass() {
        var c = installed(6)
        c.snapshot.routers = []
        let braked = holdDeletions(c.plan(), allowed: [pfx("10.3.0.0/24")])
        #expect(braked.held.count == 5)
        #expect(braked.plan.changes.map(\.destination) == [pfx("10.3.0.0/24")])
    }
}
