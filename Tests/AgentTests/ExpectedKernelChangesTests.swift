import Model
import Netlink
import Testing
@testable import Agent

/// The agent's own deletions are not changes behind its back: each is expected once, and only once.
@Suite struct ExpectedKernelChangesTests {
    let route = RouteSpec(destination: IPPrefix("10.0.0.0/24")!, table: 254, proto: 200, target: .nexthop(200_000_001))

    func deleted(_ dst: String) -> RouteEvent {
        .routeDeleted(KernelRoute(destination: IPPrefix(dst)!, proto: 200, nexthopID: 200_000_001))
    }

    @Test func eachOwnDeletionIsConsumedOnceAndOthersStillCount() {
        let e = ExpectedKernelChanges()
        e.expect([.deleteRoute(route), .deleteNexthop(id: 200_000_001), .addRoute(route)])
        #expect(e.consume(deleted("10.0.0.0/24")))
        #expect(!e.consume(deleted("10.0.0.0/24")), "a second deletion of it is someone else's")
        #expect(!e.consume(deleted("10.0.1.0/24")))
        #expect(e.consume(.nexthopDeleted(KernelNexthop(id: 200_000_001, gateway: IPAddress("203.0.113.10"), outputInterface: 2, proto: 200))))
        #expect(!e.consume(.routeAdded(KernelRoute(destination: IPPrefix("10.0.0.0/24")!, proto: 200))))
        #expect(!e.consume(.overflow))
    }

    @Test func aDeletionTheKernelRefusedIsNotExpected() {
        let e = ExpectedKernelChanges()
        let ops: [KernelOperation] = [.deleteRoute(route)]
        e.expect(ops)
        e.failed(ops, results: [KernelWriteError(code: 3, name: "ESRCH", description: "no such route")])
        #expect(!e.consume(deleted("10.0.0.0/24")))
    }
}
