// rtnetlink messages: requests the agent sends and the replies it decodes.
// Pure functions over bytes; no sockets here.
#if canImport(Model)
import Model
#endif

// MARK: - Requests

extension MessageBuilder {
    /// Appends the request for one kernel operation, always with `NLM_F_ACK`.
    ///
    /// - add route: `RTM_NEWROUTE`, `NLM_F_CREATE|NLM_F_EXCL`; replace: `NLM_F_CREATE|NLM_F_REPLACE`.
    ///   Scope universe, type unicast, `rtm_table` (or `RT_TABLE_UNSPEC` above 255) and always `RTA_TABLE`;
    ///   `RTA_DST` unless the prefix is a default route; `RTA_PRIORITY` for a metric; then `RTA_NH_ID`, or
    ///   `RTA_GATEWAY` (+ `RTA_OIF`).
    /// - delete route: `RTM_DELROUTE` with destination, table, the route's protocol (the kernel then deletes
    ///   only a route of that protocol), the metric when set, scope `RT_SCOPE_NOWHERE` and type unspecified
    ///   (any), and no target: a route whose gateway changed is still found.
    /// - add/replace nexthop: `RTM_NEWNEXTHOP` with `NHA_ID`, `NHA_GATEWAY` (or `NHA_BLACKHOLE` when it
    ///   has neither gateway nor interface) and `NHA_OIF` when not 0. `nh_family` follows the gateway (IPv4 without one).
    /// - delete nexthop: `RTM_DELNEXTHOP` with `NHA_ID`.
    mutating func append(_ op: KernelOperation, sequence: UInt32) {
        switch op {
        case .addRoute(let r):
            appendRoute(r, type: RTM.newRoute, flags: NLMFlag.create | NLMFlag.excl, sequence: sequence)
        case .replaceRoute(let r):
            appendRoute(r, type: RTM.newRoute, flags: NLMFlag.create | NLMFlag.replace, sequence: sequence)
        case .deleteRoute(let r):
            appendRoute(r, type: RTM.delRoute, flags: 0, sequence: sequence)
        case .addNexthop(let n):
            appendNexthop(n, flags: NLMFlag.create | NLMFlag.excl, sequence: sequence)
        case .replaceNexthop(let n):
            appendNexthop(n, flags: NLMFlag.create | NLMFlag.replace, sequence: sequence)
        case .deleteNexthop(let id):
            beginMessage(type: RTM.delNexthop, flags: NLMFlag.request | NLMFlag.ack, sequence: sequence)
            appendNhmsg(family: AF.unspec, protocol: 0)
            attribute(NHA.id, u32: id)
            endMessage()
        }
    }

    private mutating func appendRoute(_ r: RouteSpec, type: UInt16, flags: UInt16, sequence: UInt32) {
        let delete = type == RTM.delRoute
        beginMessage(type: type, flags: NLMFlag.request | NLMFlag.ack | flags, sequence: sequence)
        // struct rtmsg
        append8(r.destination.family.rawValue)
        append8(UInt8(r.destination.length))
        append8(0)                                   // rtm_src_len
        append8(0)                                   // rtm_tos
        append8(r.table < 256 ? UInt8(r.table) : 0)  // rtm_table (RT_TABLE_UNSPEC: see RTA_TABLE)
        append8(r.proto)
        append8(delete ? RTScope.nowhere : RTScope.universe)
        append8(delete ? RTN.unspec : RTN.unicast)
        append32(0)                                  // rtm_flags
        if r.destination.length > 0 { attribute(RTA.dst, address: r.destination.address) }
        attribute(RTA.table, u32: r.table)
        if let m = r.metric { attribute(RTA.priority, u32: m) }
        if !delete {
            switch r.target {
            case .nexthop(let id):
                attribute(RTA.nhID, u32: id)
            case .gateway(let gw, let oif):
                attribute(RTA.gateway, address: gw)
                if let oif, oif != 0 { attribute(RTA.oif, u32: UInt32(bitPattern: oif)) }
            }
        }
        endMessage()
    }

    private mutating func appendNexthop(_ n: KernelNexthop, flags: UInt16, sequence: UInt32) {
        beginMessage(type: RTM.newNexthop, flags: NLMFlag.request | NLMFlag.ack | flags, sequence: sequence)
        appendNhmsg(family: n.gateway?.family.rawValue ?? AF.inet, protocol: n.proto)
        attribute(NHA.id, u32: n.id)
        if let gw = n.gateway {
            attribute(NHA.gateway, address: gw)
        } else if n.outputInterface == 0 {
            attribute(NHA.blackhole)
        }
        if n.outputInterface != 0 { attribute(NHA.oif, u32: UInt32(bitPattern: n.outputInterface)) }
        endMessage()
    }

    private mutating func appendNhmsg(family: UInt8, protocol proto: UInt8) {
        append8(family)
        append8(0)      // nh_scope
        append8(proto)
        append8(0)      // resvd
        append32(0)     // nh_flags
    }

    /// `RTM_GETROUTE` dump of one family and table, filtered by the kernel (needs `NETLINK_GET_STRICT_CHK`).
    mutating func appendRouteDump(family: UInt8, table: UInt32, sequence: UInt32) {
        beginMessage(type: RTM.getRoute, flags: NLMFlag.request | NLMFlag.dump, sequence: sequence)
        append8(family)
        for _ in 0..<3 { append8(0) }               // dst_len, src_len, tos
        append8(table < 256 ? UInt8(table) : 0)
        for _ in 0..<3 { append8(0) }               // protocol (any), scope, type (any)
        append32(0)                                  // flags
        attribute(RTA.table, u32: table)
        endMessage()
    }

    /// A nexthop dump of group nexthops only (`NHA_GROUPS`, Linux 5.3+ like nexthops themselves): the
    /// cheap probe of whether the kernel has nexthop objects (the agent creates no groups).
    mutating func appendNexthopGroupDump(sequence: UInt32) {
        beginMessage(type: RTM.getNexthop, flags: NLMFlag.request | NLMFlag.dump, sequence: sequence)
        for _ in 0..<HeaderSize.nhmsg { append8(0) }
        attribute(NHA.groups)
        endMessage()
    }

    /// A dump request whose family header is `headerSize` zero bytes (nexthops, addresses, links).
    mutating func appendPlainDump(type: UInt16, headerSize: Int, sequence: UInt32) {
        beginMessage(type: type, flags: NLMFlag.request | NLMFlag.dump, sequence: sequence)
        for _ in 0..<headerSize { append8(0) }
        endMessage()
    }
}

// MARK: - Replies

/// An `NLMSG_ERROR` (ACK when `errno` is 0) or the status of an `NLMSG_DONE`.
struct Acknowledgement: Hashable {
    /// Positive errno; 0 = success.
    var errno: Int32
    /// `NLMSGERR_ATTR_MSG`, when the kernel sent extended ACK text.
    var extendedMessage: String?
    /// The type of the request this answers (from the echoed header; 0 for `NLMSG_DONE`).
    var requestType: UInt16

    var error: NetlinkError? {
        errno == 0 ? nil : NetlinkError(errno: errno, extendedMessage: extendedMessage)
    }
}

/// Decodes an `NLMSG_ERROR` message: `int error`, the echoed request header (and payload unless
/// `NLM_F_CAPPED`), then extended ACK attributes when `NLM_F_ACK_TLVS` is set.
func decodeAcknowledgement(_ m: NetlinkMessage) throws(DecodeError) -> Acknowledgement {
    let p = m.payload
    guard let err = p.i32(0) else { throw DecodeError("error message too short for its error code (\(p.count) bytes)") }
    guard let echoedLen = p.u32(4), let echoedType = p.u16(8) else {
        throw DecodeError("error message too short for the echoed request header (\(p.count) bytes)")
    }
    var ack = Acknowledgement(errno: err == Int32.min ? Int32.max : -err, extendedMessage: nil, requestType: echoedType)
    guard m.flags & NLMFlag.ackTLVs != 0 else { return ack }
    let echoed = m.flags & NLMFlag.capped != 0 ? NetlinkMessage.headerSize : Int(echoedLen)
    guard echoed >= NetlinkMessage.headerSize, let tlvs = p.suffix(from: 4 + netlinkAlign(echoed)) else {
        throw DecodeError("error message claims an echoed request of \(echoedLen) bytes but has \(p.count - 4)")
    }
    ack.extendedMessage = try extendedAckMessage(tlvs)
    return ack
}

/// Decodes an `NLMSG_DONE`: an `int` status (negative errno) and optional extended ACK attributes.
func decodeDone(_ m: NetlinkMessage) throws(DecodeError) -> Acknowledgement {
    let p = m.payload
    // Very old kernels sent an empty DONE.
    guard let status = p.i32(0) else { return Acknowledgement(errno: 0, extendedMessage: nil, requestType: 0) }
    var ack = Acknowledgement(errno: status >= 0 ? 0 : (status == Int32.min ? Int32.max : -status), extendedMessage: nil, requestType: 0)
    if m.flags & NLMFlag.ackTLVs != 0, let tlvs = p.suffix(from: 4) {
        ack.extendedMessage = try extendedAckMessage(tlvs)
    }
    return ack
}

private func extendedAckMessage(_ tlvs: ByteView) throws(DecodeError) -> String? {
    var d = AttributeDecoder(tlvs)
    var message: String?
    while d.next() {
        if d.type == NLMsgErrAttr.msg { message = d.value.string }
    }
    try d.finish()
    return message
}

/// A route message: `struct rtmsg` + attributes. Nil for what the agent never reasons about:
/// families other than IPv4/IPv6 (multicast tables) and cached clones (`RTM_F_CLONED`).
///
/// Multipath routes (`RTA_MULTIPATH`) report the gateway and interface of their first path.
func decodeRoute(_ m: NetlinkMessage) throws(DecodeError) -> KernelRoute? {
    let p = m.payload
    guard p.count >= HeaderSize.rtmsg, let fam = p.u8(0), let dstLen = p.u8(1), let rtTable = p.u8(4),
          let proto = p.u8(5), let type = p.u8(7), let flags = p.u32(8) else {
        throw DecodeError("route message too short for struct rtmsg (\(p.count) bytes)")
    }
    guard fam == AF.inet || fam == AF.inet6 else { return nil }
    if flags & RTMFlag.cloned != 0 { return nil }
    let family: AddressFamily = fam == AF.inet ? .v4 : .v6
    var dst: IPAddress?
    var table = UInt32(rtTable)
    var metric: UInt32?
    var gateway: IPAddress?
    var nhID: UInt32?
    var oif: Int32?
    var d = AttributeDecoder(p.suffix(from: HeaderSize.rtmsg)!)
    while d.next() {
        switch d.type {
        case RTA.dst: dst = d.ip(family: fam)
        case RTA.table: table = d.u32()
        case RTA.priority: metric = d.u32()
        case RTA.gateway:
            gateway = d.value.ipAddress
            if gateway == nil { d.fail("RTA_GATEWAY has \(d.value.count) bytes") }
        case RTA.via:
            if gateway == nil { gateway = decodeVia(d.value) }
        case RTA.nhID: nhID = d.u32()
        case RTA.oif: oif = Int32(bitPattern: d.u32())
        case RTA.multipath:
            let first = decodeFirstPath(d.value)
            if let e = first.error { d.fail(e) }
            if gateway == nil { gateway = first.gateway }
            if oif == nil, let i = first.interface, i != 0 { oif = i }
        default: break
        }
    }
    try d.finish()
    let address = dst ?? (family == .v4 ? IPAddress(v4: 0) : IPAddress(v6High: 0, low: 0))
    guard address.family == family, let prefix = IPPrefix(address: address, length: Int(dstLen)) else {
        throw DecodeError("route destination length /\(dstLen) does not fit \(family)")
    }
    return KernelRoute(destination: prefix, table: table, proto: proto, type: type, metric: metric,
                       gateway: gateway, nexthopID: nhID, outputInterface: oif)
}

/// `struct rtvia`: u16 family, then the address.
private func decodeVia(_ v: ByteView) -> IPAddress? {
    guard let fam = v.u16(0), let rest = v.suffix(from: 2) else { return nil }
    if fam == UInt16(AF.inet), rest.count == 4 { return rest.ipAddress }
    if fam == UInt16(AF.inet6), rest.count == 16 { return rest.ipAddress }
    return nil
}

/// The first `struct rtnexthop` of an `RTA_MULTIPATH`: its interface and gateway.
private func decodeFirstPath(_ v: ByteView) -> (gateway: IPAddress?, interface: Int32?, error: String?) {
    guard !v.isEmpty else { return (nil, nil, nil) }
    guard let len16 = v.u16(0), let ifindex = v.i32(4) else { return (nil, nil, "RTA_MULTIPATH too short for struct rtnexthop") }
    let len = Int(len16)
    guard len >= 8, let attrs = v.slice(8, len - 8) else {
        return (nil, nil, "rtnexthop length \(len) does not fit RTA_MULTIPATH of \(v.count) bytes")
    }
    var d = AttributeDecoder(attrs)
    var gw: IPAddress?
    while d.next() {
        if d.type == RTA.gateway { gw = d.value.ipAddress }
        if d.type == RTA.via, gw == nil { gw = decodeVia(d.value) }
    }
    if let e = d.error { return (nil, nil, e.reason) }
    return (gw, ifindex, nil)
}

/// A nexthop message: `struct nhmsg` + `NHA_*`. Groups, blackholes and device-only nexthops have no gateway.
func decodeNexthop(_ m: NetlinkMessage) throws(DecodeError) -> KernelNexthop {
    let p = m.payload
    guard p.count >= HeaderSize.nhmsg, let proto = p.u8(2) else {
        throw DecodeError("nexthop message too short for struct nhmsg (\(p.count) bytes)")
    }
    var id: UInt32?
    var gateway: IPAddress?
    var oif: Int32 = 0
    var d = AttributeDecoder(p.suffix(from: HeaderSize.nhmsg)!)
    while d.next() {
        switch d.type {
        case NHA.id: id = d.u32()
        case NHA.gateway:
            gateway = d.value.ipAddress
            if gateway == nil { d.fail("NHA_GATEWAY has \(d.value.count) bytes") }
        case NHA.oif: oif = Int32(bitPattern: d.u32())
        default: break
        }
    }
    try d.finish()
    guard let id else { throw DecodeError("nexthop message without NHA_ID") }
    return KernelNexthop(id: id, gateway: gateway, outputInterface: oif, proto: proto)
}

/// An address message: `struct ifaddrmsg` + `IFA_*`, as the connected network it implies. Nil for other families.
/// The prefix comes from `IFA_ADDRESS` (the peer on point-to-point links), the host address from `IFA_LOCAL`.
func decodeAddress(_ m: NetlinkMessage) throws(DecodeError) -> ConnectedNetwork? {
    let p = m.payload
    guard p.count >= HeaderSize.ifaddrmsg, let fam = p.u8(0), let plen = p.u8(1), let index = p.i32(4) else {
        throw DecodeError("address message too short for struct ifaddrmsg (\(p.count) bytes)")
    }
    guard fam == AF.inet || fam == AF.inet6 else { return nil }
    var address: IPAddress?
    var local: IPAddress?
    var d = AttributeDecoder(p.suffix(from: HeaderSize.ifaddrmsg)!)
    while d.next() {
        switch d.type {
        case IFA.address: address = d.ip(family: fam)
        case IFA.local: local = d.ip(family: fam)
        default: break
        }
    }
    try d.finish()
    guard let net = address ?? local, let host = local ?? address else { return nil }
    guard let prefix = IPPrefix(address: net, length: Int(plen)) else {
        throw DecodeError("address prefix length /\(plen) does not fit \(net.family)")
    }
    return ConnectedNetwork(prefix: prefix, address: host, interfaceIndex: index)
}

/// A link message: `struct ifinfomsg` + `IFLA_IFNAME`.
func decodeLink(_ m: NetlinkMessage) throws(DecodeError) -> (index: Int32, name: String) {
    let p = m.payload
    guard p.count >= HeaderSize.ifinfomsg, let index = p.i32(4) else {
        throw DecodeError("link message too short for struct ifinfomsg (\(p.count) bytes)")
    }
    var name = ""
    var d = AttributeDecoder(p.suffix(from: HeaderSize.ifinfomsg)!)
    while d.next() {
        if d.type == IFLA.ifname { name = d.value.string }
    }
    try d.finish()
    return (index, name)
}

/// What one message of the route event groups means, or nil when it is none of them.
func decodeEvent(_ m: NetlinkMessage) throws(DecodeError) -> RouteEvent? {
    switch m.type {
    case RTM.newRoute: return try decodeRoute(m).map { .routeAdded($0) }
    case RTM.delRoute: return try decodeRoute(m).map { .routeDeleted($0) }
    case RTM.newNexthop: return .nexthopAdded(try decodeNexthop(m))
    case RTM.delNexthop: return .nexthopDeleted(try decodeNexthop(m))
    default: return nil
    }
}

/// A change the kernel announced on the route and nexthop groups.
public enum RouteEvent: Hashable, Sendable {
    case routeAdded(KernelRoute)
    case routeDeleted(KernelRoute)
    case nexthopAdded(KernelNexthop)
    case nexthopDeleted(KernelNexthop)
    /// Events were lost (`ENOBUFS`): the listener must resynchronise from a full dump.
    case overflow
}
