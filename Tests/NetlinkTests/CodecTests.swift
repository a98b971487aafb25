import Testing
@testable import Netlink
import Model
import CNetlink

// Expected bytes are written out by hand from the kernel's struct layouts:
// nlmsghdr = len u32 | type u16 | flags u16 | seq u32 | pid u32 (host order, little-endian here),
// rtmsg = family dst_len src_len tos table protocol scope type | flags u32,
// nhmsg = family scope protocol resvd | flags u32, rtattr = len u16 | type u16 | value, padded to 4.

@Suite struct RequestEncodingTests {
    @Test func addIPv4RouteViaGatewayEncodesNewRouteCreateExcl() {
        let spec = RouteSpec(destination: prefix("10.1.2.0/24"), table: 254, proto: 200,
                             target: .gateway(v4("203.0.113.10"), outputInterface: nil))
        #expect(encode(.addRoute(spec), sequence: 1) == hex("""
            34 00 00 00  18 00  05 06  01 00 00 00  00 00 00 00
            02 18 00 00  fe c8 00 01  00 00 00 00
            08 00 01 00  0a 01 02 00
            08 00 0f 00  fe 00 00 00
            08 00 05 00  cb 00 71 0a
            """))
    }

    @Test func addIPv4RouteWithInterfaceAppendsOif() {
        let spec = RouteSpec(destination: prefix("10.1.2.0/24"), table: 254, proto: 200,
                             target: .gateway(v4("203.0.113.10"), outputInterface: 3))
        #expect(encode(.addRoute(spec), sequence: 1) == hex("""
            3c 00 00 00  18 00  05 06  01 00 00 00  00 00 00 00
            02 18 00 00  fe c8 00 01  00 00 00 00
            08 00 01 00  0a 01 02 00
            08 00 0f 00  fe 00 00 00
            08 00 05 00  cb 00 71 0a
            08 00 04 00  03 00 00 00
            """))
    }

    @Test func replaceIPv6RouteToNexthopInTableAbove255UsesRtaTableAndReplaceFlags() {
        let spec = RouteSpec(destination: prefix("2001:db8:1::/48"), table: 1000, proto: 200,
                             target: .nexthop(7), metric: 100)
        #expect(encode(.replaceRoute(spec), sequence: 2) == hex("""
            48 00 00 00  18 00  05 05  02 00 00 00  00 00 00 00
            0a 30 00 00  00 c8 00 01  00 00 00 00
            14 00 01 00  20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 00
            08 00 0f 00  e8 03 00 00
            08 00 06 00  64 00 00 00
            08 00 1e 00  07 00 00 00
            """))
    }

    @Test func deleteRouteCarriesProtocolAndNoTarget() {
        let spec = RouteSpec(destination: prefix("10.1.2.0/24"), table: 254, proto: 200,
                             target: .gateway(v4("203.0.113.10"), outputInterface: nil))
        #expect(encode(.deleteRoute(spec), sequence: 3) == hex("""
            2c 00 00 00  19 00  05 00  03 00 00 00  00 00 00 00
            02 18 00 00  fe c8 ff 00  00 00 00 00
            08 00 01 00  0a 01 02 00
            08 00 0f 00  fe 00 00 00
            """))
    }

    @Test func deleteDefaultRouteWithMetricOmitsDestination() {
        let spec = RouteSpec(destination: prefix("::/0"), table: 254, proto: 200, target: .nexthop(1), metric: 1024)
        #expect(encode(.deleteRoute(spec), sequence: 9) == hex("""
            2c 00 00 00  19 00  05 00  09 00 00 00  00 00 00 00
            0a 00 00 00  fe c8 ff 00  00 00 00 00
            08 00 0f 00  fe 00 00 00
            08 00 06 00  00 04 00 00
            """))
    }

    @Test func addNexthopEncodesIdGatewayAndInterface() {
        let nh = KernelNexthop(id: 17, gateway: v4("203.0.113.10"), outputInterface: 3, proto: 200)
        #expect(encode(.addNexthop(nh), sequence: 4) == hex("""
            30 00 00 00  68 00  05 06  04 00 00 00  00 00 00 00
            02 00 c8 00  00 00 00 00
            08 00 01 00  11 00 00 00
            08 00 06 00  cb 00 71 0a
            08 00 05 00  03 00 00 00
            """))
    }

    @Test func replaceIPv6NexthopUsesFamilyOfGateway() {
        let nh = KernelNexthop(id: 18, gateway: IPAddress("2001:db8:100::1")!, outputInterface: 3, proto: 200)
        #expect(encode(.replaceNexthop(nh), sequence: 5) == hex("""
            3c 00 00 00  68 00  05 05  05 00 00 00  00 00 00 00
            0a 00 c8 00  00 00 00 00
            08 00 01 00  12 00 00 00
            14 00 06 00  20 01 0d b8 01 00 00 00 00 00 00 00 00 00 00 01
            08 00 05 00  03 00 00 00
            """))
    }

    @Test func nexthopWithoutGatewayOrInterfaceIsBlackhole() {
        let nh = KernelNexthop(id: 2, gateway: nil, outputInterface: 0, proto: 200)
        #expect(encode(.addNexthop(nh), sequence: 1) == hex("""
            24 00 00 00  68 00  05 06  01 00 00 00  00 00 00 00
            02 00 c8 00  00 00 00 00
            08 00 01 00  02 00 00 00
            04 00 04 00
            """))
    }

    @Test func deleteNexthopSendsOnlyItsId() {
        #expect(encode(.deleteNexthop(id: 17), sequence: 5) == hex("""
            20 00 00 00  69 00  05 00  05 00 00 00  00 00 00 00
            00 00 00 00  00 00 00 00
            08 00 01 00  11 00 00 00
            """))
    }

    @Test func routeDumpRequestFiltersByFamilyAndTable() {
        var b = MessageBuilder()
        b.appendRouteDump(family: AF.inet6, table: 254, sequence: 6)
        #expect(b.bytes == hex("""
            24 00 00 00  1a 00  01 03  06 00 00 00  00 00 00 00
            0a 00 00 00  fe 00 00 00  00 00 00 00
            08 00 0f 00  fe 00 00 00
            """))
        var big = MessageBuilder()
        big.appendRouteDump(family: AF.inet, table: 100_000, sequence: 1)
        #expect(Array(big.bytes[16..<36]) == hex("02 00 00 00  00 00 00 00  00 00 00 00  08 00 0f 00  a0 86 01 00"))
    }

    @Test func nexthopAddressAndLinkDumpRequestsAreHeaderPlusZeroedFamilyStruct() {
        var b = MessageBuilder()
        b.appendPlainDump(type: RTM.getNexthop, headerSize: HeaderSize.nhmsg, sequence: 7)
        b.appendPlainDump(type: RTM.getAddr, headerSize: HeaderSize.ifaddrmsg, sequence: 8)
        b.appendPlainDump(type: RTM.getLink, headerSize: HeaderSize.ifinfomsg, sequence: 9)
        #expect(b.bytes == hex("""
            18 00 00 00  6a 00  01 03  07 00 00 00  00 00 00 00  00 00 00 00 00 00 00 00
            18 00 00 00  16 00  01 03  08 00 00 00  00 00 00 00  00 00 00 00 00 00 00 00
            20 00 00 00  12 00  01 03  09 00 00 00  00 00 00 00  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
            """))
        #expect(b.messageCount == 3)
    }

    @Test func attributesArePaddedToFourBytes() {
        var b = MessageBuilder()
        b.attribute(3, bytes: [0x61, 0x62, 0x63])
        b.attribute(4, bytes: [1, 2, 3, 4, 5])
        b.attribute(5, bytes: [])
        #expect(b.bytes == hex("07 00 03 00 61 62 63 00  09 00 04 00 01 02 03 04 05 00 00 00  04 00 05 00"))
    }

    @Test func localConstantsMatchTheKernelHeaders() {
        #expect(RTM.newNexthop == UInt16(RTM_NEWNEXTHOP))
        #expect(RTM.getAddr == UInt16(RTM_GETADDR))
        #expect(RTA.nhID == UInt16(RTA_NH_ID.rawValue))
        #expect(RTA.via == UInt16(RTA_VIA.rawValue))
        #expect(RTA.table == UInt16(RTA_TABLE.rawValue))
        #expect(NHA.gateway == UInt16(NHA_GATEWAY))
        #expect(NHA.oif == UInt16(NHA_OIF))
        #expect(RTNLGroup.nexthop == UInt32(RTNLGRP_NEXTHOP.rawValue))
        #expect(RTNLGroup.ipv6Route == UInt32(RTNLGRP_IPV6_ROUTE.rawValue))
        #expect(NLMFlag.ackTLVs == UInt16(NLM_F_ACK_TLVS))
        #expect(NLMFlag.capped == UInt16(NLM_F_CAPPED))
        #expect(RTMFlag.cloned == UInt32(RTM_F_CLONED))
    }
}

@Suite struct ReplyDecodingTests {
    static let ipv4Route = hex("""
        44 00 00 00  18 00  02 00  2a 00 00 00  10 00 00 00
        02 18 00 00  fe c8 00 01  00 00 00 00
        08 00 0f 00  fe 00 00 00
        08 00 01 00  0a 01 02 00
        08 00 06 00  64 00 00 00
        08 00 05 00  cb 00 71 0a
        08 00 04 00  02 00 00 00
        """)

    @Test func ipv4RouteDecodesEveryField() throws {
        let r = try #require(try decodeRoute(message(Self.ipv4Route)))
        #expect(r == KernelRoute(destination: prefix("10.1.2.0/24"), table: 254, proto: 200, type: 1, metric: 100,
                                 gateway: v4("203.0.113.10"), nexthopID: nil, outputInterface: 2))
    }

    @Test func ipv6DefaultRouteToNexthopObjectIsSlashZero() throws {
        let bytes = hex("""
            2c 00 00 00  18 00  02 00  2a 00 00 00  10 00 00 00
            0a 00 00 00  fe 04 00 01  00 00 00 00
            08 00 0f 00  fe 00 00 00
            08 00 1e 00  09 00 00 00
            """)
        let r = try #require(try decodeRoute(message(bytes)))
        #expect(r.destination == prefix("::/0"))
        #expect(r.nexthopID == 9)
        #expect(r.proto == 4)
        #expect(r.gateway == nil)
    }

    @Test func rtaTableWinsOverRtmTable() throws {
        let bytes = hex("""
            2c 00 00 00  18 00  02 00  01 00 00 00  00 00 00 00
            02 08 00 00  fc c8 00 01  00 00 00 00
            08 00 0f 00  e8 03 00 00
            08 00 01 00  0a 00 00 00
            """)
        let r = try #require(try decodeRoute(message(bytes)))
        #expect(r.table == 1000)
        #expect(r.destination == prefix("10.0.0.0/8"))
    }

    @Test func clonedRoutesAndOtherFamiliesAreSkipped() throws {
        var cloned = Self.ipv4Route
        cloned[16 + 9] = 0x02          // rtm_flags |= RTM_F_CLONED (0x200)
        #expect(try decodeRoute(message(cloned)) == nil)
        var multicast = Self.ipv4Route
        multicast[16] = 128             // RTNL_FAMILY_IPMR
        #expect(try decodeRoute(message(multicast)) == nil)
    }

    @Test func multipathRouteReportsItsFirstPath() throws {
        let bytes = hex("""
            50 00 00 00  18 00  02 00  01 00 00 00  00 00 00 00
            02 10 00 00  fe c8 00 01  00 00 00 00
            08 00 0f 00  fe 00 00 00
            08 00 01 00  0a 09 00 00
            24 00 09 00
              10 00 00 00 02 00 00 00  08 00 05 00 cb 00 71 01
              10 00 00 00 03 00 00 00  08 00 05 00 cb 00 71 02
            """)
        let r = try #require(try decodeRoute(message(bytes)))
        #expect(r.gateway == v4("203.0.113.1"))
        #expect(r.outputInterface == 2)
    }

    @Test func ipv4RouteViaIPv6GatewayReadsRtaVia() throws {
        let bytes = hex("""
            44 00 00 00  18 00  02 00  01 00 00 00  00 00 00 00
            02 18 00 00  fe c8 00 01  00 00 00 00
            08 00 0f 00  fe 00 00 00
            08 00 01 00  0a 01 02 00
            16 00 12 00  0a 00 20 01 0d b8 01 00 00 00 00 00 00 00 00 00 00 01  00 00
            """)
        let r = try #require(try decodeRoute(message(bytes)))
        #expect(r.gateway == IPAddress("2001:db8:100::1"))
    }

    @Test func gatewayNexthopDecodes() throws {
        let bytes = hex("""
            30 00 00 00  68 00  02 00  01 00 00 00  00 00 00 00
            02 00 c8 00  00 00 00 00
            08 00 01 00  11 00 00 00
            08 00 06 00  cb 00 71 0a
            08 00 05 00  03 00 00 00
            """)
        #expect(try decodeNexthop(message(bytes)) == KernelNexthop(id: 17, gateway: v4("203.0.113.10"), outputInterface: 3, proto: 200))
    }

    @Test func groupNexthopHasNoGateway() throws {
        let bytes = hex("""
            34 00 00 00  68 00  02 00  01 00 00 00  00 00 00 00
            00 00 04 00  00 00 00 00
            08 00 01 00  14 00 00 00
            0c 00 02 00  11 00 00 00 01 00 00 00
            06 00 03 00  00 00 00 00
            """)
        #expect(try decodeNexthop(message(bytes)) == KernelNexthop(id: 20, gateway: nil, outputInterface: 0, proto: 4))
    }

    @Test func nexthopWithoutIdIsAnError() throws {
        let bytes = hex("18 00 00 00  68 00  02 00  01 00 00 00  00 00 00 00  02 00 c8 00  00 00 00 00")
        #expect(throws: DecodeError.self) { try decodeNexthop(message(bytes)) }
    }

    @Test func addressDecodesToConnectedNetwork() throws {
        let bytes = hex("""
            34 00 00 00  14 00  02 00  01 00 00 00  00 00 00 00
            02 18 80 00  03 00 00 00
            08 00 01 00  cb 00 71 01
            08 00 02 00  cb 00 71 01
            0b 00 03 00  64 75 6d 6d 79 30 00  00
            """)
        #expect(try decodeAddress(message(bytes)) == ConnectedNetwork(prefix: prefix("203.0.113.0/24"), address: v4("203.0.113.1"), interfaceIndex: 3))
    }

    @Test func pointToPointAddressUsesPeerForPrefixAndLocalForHost() throws {
        let bytes = hex("""
            28 00 00 00  14 00  02 00  01 00 00 00  00 00 00 00
            02 20 80 00  05 00 00 00
            08 00 01 00  c6 33 64 02
            08 00 02 00  c6 33 64 01
            """)
        let n = try #require(try decodeAddress(message(bytes)))
        #expect(n.prefix == prefix("198.51.100.2/32"))
        #expect(n.address == v4("198.51.100.1"))
    }

    @Test func linkDecodesIndexAndName() throws {
        let bytes = hex("""
            2c 00 00 00  10 00  02 00  01 00 00 00  00 00 00 00
            00 00 01 00  07 00 00 00  43 10 01 00  00 00 00 00
            0b 00 03 00  76 65 74 68 2d 61 00  00
            """)
        let l = try decodeLink(message(bytes))
        #expect(l.index == 7)
        #expect(l.name == "veth-a")
    }

    @Test func ackWithoutExtendedAckIsSuccessOrPlainErrno() throws {
        let ok = try decodeAcknowledgement(message(hex("""
            24 00 00 00  02 00  00 01  05 00 00 00  4d 00 00 00
            00 00 00 00
            2c 00 00 00  18 00 05 06  05 00 00 00  4d 00 00 00
            """)))
        #expect(ok.error == nil)
        #expect(ok.requestType == RTM.newRoute)
        let exists = try decodeAcknowledgement(message(hex("""
            24 00 00 00  02 00  00 01  06 00 00 00  4d 00 00 00
            ef ff ff ff
            2c 00 00 00  18 00 05 06  06 00 00 00  4d 00 00 00
            """)))
        #expect(exists.error == NetlinkError(errno: 17))
    }

    @Test func cappedErrorWithExtendedAckCarriesTheKernelMessage() throws {
        let bytes = hex("""
            4c 00 00 00  02 00  00 03  07 00 00 00  4d 00 00 00
            9b ff ff ff
            34 00 00 00  18 00 05 06  07 00 00 00  4d 00 00 00
            20 00 01 00  4e 65 78 74 68 6f 70 20 68 61 73 20 69 6e 76 61 6c 69 64 20 67 61 74 65 77 61 79 00
            08 00 02 00  2c 00 00 00
            """)
        let a = try decodeAcknowledgement(message(bytes))
        #expect(a.error == NetlinkError(errno: 101, extendedMessage: "Nexthop has invalid gateway"))
    }

    @Test func uncappedErrorSkipsTheEchoedRequestBeforeItsAttributes() throws {
        // The echoed request is a whole 44-byte route delete; the TLVs follow it.
        let bytes = hex("""
            4c 00 00 00  02 00  00 02  03 00 00 00  4d 00 00 00
            fd ff ff ff
            2c 00 00 00  19 00 05 00  03 00 00 00  4d 00 00 00
            02 18 00 00  fe c8 ff 00  00 00 00 00
            08 00 01 00  0a 01 02 00
            08 00 0f 00  fe 00 00 00
            0c 00 01 00  6e 6f 20 72 6f 75 74 65
            """)
        let a = try decodeAcknowledgement(message(bytes))
        #expect(a.errno == 3)
        #expect(a.extendedMessage == "no route")
    }

    @Test func doneWithNegativeStatusAndExtendedAckIsAnError() throws {
        let bytes = hex("""
            20 00 00 00  03 00  02 02  09 00 00 00  4d 00 00 00
            fe ff ff ff
            0c 00 01 00  6e 6f 20 74 61 62 6c 65
            """)
        let d = try decodeDone(message(bytes))
        #expect(d.error == NetlinkError(errno: 2, extendedMessage: "no table"))
    }

    @Test func eventMessagesMapToRouteAndNexthopEvents() throws {
        var deleted = Self.ipv4Route
        deleted[4] = 0x19                                   // RTM_DELROUTE
        let route = try #require(try decodeRoute(message(Self.ipv4Route)))
        #expect(try decodeEvent(message(Self.ipv4Route)) == .routeAdded(route))
        #expect(try decodeEvent(message(deleted)) == .routeDeleted(route))
        let nh = hex("20 00 00 00  69 00  00 00  00 00 00 00  00 00 00 00  02 00 c8 00 00 00 00 00  08 00 01 00 11 00 00 00")
        #expect(try decodeEvent(message(nh)) == .nexthopDeleted(KernelNexthop(id: 17, gateway: nil, outputInterface: 0, proto: 200)))
        var link = nh
        link[4] = 0x10                                      // RTM_NEWLINK: not an event we report
        #expect(try decodeEvent(message(link)) == nil)
    }

    @Test func errorDescriptionNamesOperationErrnoWordsSymbolAndKernelText() {
        let e = NetlinkError(errno: 101, extendedMessage: "Nexthop has invalid gateway",
                             operation: "add route 10.0.0.0/24 via 203.0.113.10 table 254")
        #expect(e.description == "add route 10.0.0.0/24 via 203.0.113.10 table 254: Network is unreachable (ENETUNREACH): Nexthop has invalid gateway")
        #expect(NetlinkError(errno: 17).description == "File exists (EEXIST)")
    }
}

@Suite struct MalformedInputTests {
    /// A valid two-message stream: a route, then DONE.
    static let stream = ReplyDecodingTests.ipv4Route + hex("14 00 00 00  03 00  02 00  2a 00 00 00  10 00 00 00  00 00 00 00")

    @Test func multiPartStreamSplitsIntoItsMessages() throws {
        let ms = try parseMessages(Self.stream)
        #expect(ms.map(\.type) == [RTM.newRoute, NLMsgType.done])
        #expect(ms.allSatisfy { $0.flags & NLMFlag.multi != 0 })
    }

    @Test func everyTruncationOfAValidStreamIsAnErrorOrAWholeMessagePrefix() throws {
        let first = ReplyDecodingTests.ipv4Route.count
        for n in 0..<Self.stream.count {
            let cut = Array(Self.stream[0..<n])
            if n == 0 || n == first {
                #expect(try parseMessages(cut).count == (n == 0 ? 0 : 1))
            } else {
                #expect(throws: DecodeError.self, "truncated at \(n)") { try parseMessages(cut) }
            }
        }
    }

    @Test func everyTruncatedRoutePayloadIsRejectedWithoutCrashing() throws {
        let full = ReplyDecodingTests.ipv4Route
        for n in 16..<full.count {
            var cut = Array(full[0..<n])
            cut[0] = UInt8(n)           // make the header honest so the payload itself is short
            let m = try message(cut)
            // Cut inside the rtmsg or inside an attribute → error; cut exactly between attributes → fewer fields.
            let boundaries: Set<Int> = [28, 36, 44, 52, 60]
            if boundaries.contains(n) {
                #expect(throws: Never.self) { try decodeRoute(m) }
            } else {
                #expect(throws: DecodeError.self, "cut at \(n)") { try decodeRoute(m) }
            }
        }
    }

    @Test func lyingMessageLengthsAreErrors() {
        for claimed: UInt32 in [0, 1, 15, 69, 0xffff, 0xffff_ffff] {
            var bytes = ReplyDecodingTests.ipv4Route
            bytes.replaceSubrange(0..<4, with: [UInt8(claimed & 0xff), UInt8(claimed >> 8 & 0xff), UInt8(claimed >> 16 & 0xff), UInt8(claimed >> 24)])
            #expect(throws: DecodeError.self, "length \(claimed)") { try parseMessages(bytes) }
        }
    }

    @Test func lyingAttributeLengthsAreErrors() throws {
        for (offset, value) in [(28, 0xff), (28, 0x03), (36, 0x40), (36, 0x05)] {
            var bytes = ReplyDecodingTests.ipv4Route
            bytes[offset] = UInt8(value)
            #expect(throws: DecodeError.self, "attr len \(value) at \(offset)") { try decodeRoute(message(bytes)) }
        }
    }

    @Test func shortAckIsAnError() throws {
        let bytes = hex("18 00 00 00  02 00  00 01  05 00 00 00  4d 00 00 00  00 00 00 00  2c 00 00 00")
        #expect(throws: DecodeError.self) { try decodeAcknowledgement(message(bytes)) }
    }

    @Test func extendedAckWithLyingEchoLengthIsAnError() throws {
        // Not capped, echo claims 0x400 bytes that are not there.
        let bytes = hex("""
            2c 00 00 00  02 00  00 02  03 00 00 00  4d 00 00 00
            fd ff ff ff
            00 04 00 00  19 00 05 00  03 00 00 00  4d 00 00 00
            04 00 01 00  00 00 00 00
            """)
        #expect(throws: DecodeError.self) { try decodeAcknowledgement(message(bytes)) }
    }
}

@Suite struct RoundTripTests {
    /// A route request has the same layout as the kernel's route message, so decoding what we encode
    /// must give back every field we set — for many random routes of both families.
    @Test func encodedRouteRequestsDecodeBackToTheSameRoute() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let v6 = Bool.random(using: &rng)
            let address = v6 ? IPAddress(v6High: UInt64.random(in: 0...UInt64.max, using: &rng), low: UInt64.random(in: 0...UInt64.max, using: &rng))
                             : IPAddress(v4: UInt32.random(in: 0...UInt32.max, using: &rng))
            let dst = IPPrefix(address: address, length: Int.random(in: 0...(v6 ? 128 : 32), using: &rng))!
            let table = [UInt32(254), 255, 256, 1000, UInt32.max].randomElement(using: &rng)!
            let metric: UInt32? = Bool.random(using: &rng) ? UInt32.random(in: 0...UInt32.max, using: &rng) : nil
            let target: RouteTarget = Bool.random(using: &rng)
                ? .nexthop(UInt32.random(in: 1...UInt32.max, using: &rng))
                : .gateway(v6 ? IPAddress("2001:db8::1")! : IPAddress("203.0.113.1")!, outputInterface: Int32.random(in: 1...1000, using: &rng))
            let spec = RouteSpec(destination: dst, table: table, proto: UInt8.random(in: 0...255, using: &rng), target: target, metric: metric)
            let r = try #require(try decodeRoute(message(encode(.replaceRoute(spec), sequence: 1))))
            #expect(r.destination == dst && r.table == table && r.proto == spec.proto && r.metric == metric && r.type == 1)
            switch target {
            case .nexthop(let id): #expect(r.nexthopID == id && r.gateway == nil)
            case .gateway(let gw, let oif): #expect(r.gateway == gw && r.outputInterface == oif && r.nexthopID == nil)
            }
        }
    }

    @Test func encodedNexthopRequestsDecodeBackToTheSameNexthop() throws {
        for nh in [KernelNexthop(id: 1, gateway: IPAddress("203.0.113.9")!, outputInterface: 4, proto: 200),
                   KernelNexthop(id: UInt32.max, gateway: IPAddress("2001:db8::9")!, outputInterface: 1, proto: 0),
                   KernelNexthop(id: 7, gateway: nil, outputInterface: 0, proto: 200)] {
            #expect(try decodeNexthop(message(encode(.addNexthop(nh), sequence: 3))) == nh)
        }
    }
}
