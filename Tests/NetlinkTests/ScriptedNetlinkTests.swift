import CNetlink
import Model
import Testing
import TestSupport
@testable import Netlink

/// TestSupport's scripted netlink keeps its own UAPI numbers and its own parser: they must agree with the
/// kernel's headers and with the codec, or tests built on it would prove nothing.
@Suite struct ScriptedNetlinkTests {
    @Test func itsNumbersAreTheKernelHeaders() {
        #expect(NL.error == UInt16(NLMSG_ERROR) && NL.done == UInt16(NLMSG_DONE))
        #expect(NL.multi == UInt16(NLM_F_MULTI) && NL.dumpIntr == UInt16(NLM_F_DUMP_INTR) && NL.ack == UInt16(NLM_F_ACK))
        #expect(NL.replace == UInt16(NLM_F_REPLACE) && NL.excl == UInt16(NLM_F_EXCL) && NL.create == UInt16(NLM_F_CREATE))
        #expect(NL.capped == UInt16(NLM_F_CAPPED) && NL.ackTLVs == UInt16(NLM_F_ACK_TLVS))
        #expect([NL.newLink, NL.getLink, NL.newAddr, NL.getAddr, NL.newRoute, NL.delRoute, NL.getRoute]
                == [RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_GETADDR, RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE].map { UInt16($0) })
        #expect([NL.newNexthop, NL.delNexthop, NL.getNexthop] == [RTM_NEWNEXTHOP, RTM_DELNEXTHOP, RTM_GETNEXTHOP].map { UInt16($0) })
    }

    @Test func itsRepliesDecodeToWhatTheyDescribe() throws {
        let routes = [
            KernelRoute(destination: prefix("10.1.0.0/24"), proto: 200, nexthopID: 200_000_001),
            KernelRoute(destination: IPPrefix("fd00:10::/64")!, table: 1000, proto: 4, metric: 1024, gateway: IPAddress("2001:db8::1"), outputInterface: 3),
        ]
        for r in routes { #expect(try decodeRoute(message(routeReply(r, sequence: 9))) == r) }
        let n = KernelNexthop(id: 200_000_001, gateway: v4("203.0.113.10"), outputInterface: 2, proto: 200)
        #expect(try decodeNexthop(message(nexthopReply(n, sequence: 9))) == n)
        let c = ConnectedNetwork(prefix: prefix("203.0.113.0/24"), address: v4("203.0.113.2"), interfaceIndex: 2)
        #expect(try decodeAddress(message(addressReply(c, sequence: 9))) == c)
        let link = try decodeLink(message(linkReply(index: 2, name: "eth0", sequence: 9)))
        #expect(link.index == 2 && link.name == "eth0")
    }

    @Test func itReadsTheCodecsRequestsAsTheOperationsTheyEncode() {
        let nh = KernelNexthop(id: 200_000_001, gateway: v4("203.0.113.10"), outputInterface: 2, proto: 200)
        let viaNexthop = RouteSpec(destination: prefix("10.1.0.0/24"), table: 254, proto: 200, target: .nexthop(nh.id))
        let viaGateway = RouteSpec(destination: IPPrefix("fd00:10::/64")!, table: 1000, proto: 200,
                                   target: .gateway(IPAddress("2001:db8::10")!, outputInterface: 2), metric: 1024)
        let ops: [KernelOperation] = [.addNexthop(nh), .replaceNexthop(nh), .addRoute(viaNexthop), .replaceRoute(viaGateway),
                                      .deleteRoute(viaNexthop), .deleteNexthop(id: nh.id)]
        let kernel = ScriptedKernel()
        let transport = kernel.transport
        var sequence: UInt32 = 1
        for op in ops {
            try? transport.send(encode(op, sequence: sequence))
            sequence += 1
        }
        // Deletes carry no target on the wire, so they are compared by what they name.
        #expect(kernel.writes.map(\.summary) == ops.map(\.summary))
        #expect(Array(kernel.writes.prefix(4)) == Array(ops.prefix(4)))
    }
}
