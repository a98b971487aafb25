// Scripted netlink, in the manner of mdlayher/netlink's `nltest`: a transport whose replies a test
// scripts, reply builders, and `ScriptedKernel`, a small rtnetlink "kernel" that answers dumps and
// applies writes. Netlink's real codec runs over them without root and without a kernel.
//
// Everything here parses and builds bytes with its own code and its own copy of the UAPI numbers
// (linux/netlink.h, rtnetlink.h, nexthop.h, if_addr.h, if_link.h), never the codec's: a codec bug
// cannot hide itself by being on both sides.
import Model
import Netlink

/// One netlink message as a scripted kernel sees it: the `nlmsghdr` fields and the payload after it.
public struct ScriptedMessage: Hashable, Sendable {
    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    public var portID: UInt32
    /// The bytes after the 16-byte header.
    public var payload: [UInt8]

    /// Splits a datagram into messages; nil when a length field does not fit.
    public static func parse(_ datagram: [UInt8]) -> [ScriptedMessage]? {
        var out: [ScriptedMessage] = []
        var i = 0
        while i < datagram.count {
            guard datagram.count - i >= 16 else { return nil }
            let len = Int(le32(datagram, i))
            guard len >= 16, i + len <= datagram.count else { return nil }
            out.append(ScriptedMessage(type: le16(datagram, i + 4), flags: le16(datagram, i + 6),
                                       sequence: le32(datagram, i + 8), portID: le32(datagram, i + 12),
                                       payload: Array(datagram[(i + 16)..<(i + len)])))
            i += (len + 3) & ~3
        }
        return out
    }

    /// The attributes after a family header of `headerSize` bytes: type (without flag bits) → value.
    public func attributes(after headerSize: Int) -> [UInt16: [UInt8]] {
        var out: [UInt16: [UInt8]] = [:]
        var i = headerSize
        while i + 4 <= payload.count {
            let len = Int(le16(payload, i))
            guard len >= 4, i + len <= payload.count else { break }
            out[le16(payload, i + 2) & 0x3fff] = Array(payload[(i + 4)..<(i + len)])
            i += (len + 3) & ~3
        }
        return out
    }
}

/// A netlink transport whose replies are scripted: every datagram sent is parsed and handed to `respond`,
/// which returns what the "kernel" queues for receiving (datagrams, or errors such as ENOBUFS to raise).
public final class ScriptedTransport: NetlinkTransport {
    public enum Item { case datagram([UInt8]), failure(NetlinkError) }
    public var respond: ([ScriptedMessage]) -> [Item]
    /// Every datagram sent, in order.
    public private(set) var sent: [[UInt8]] = []
    private var queue: [Item] = []

    public init(respond: @escaping ([ScriptedMessage]) -> [Item]) { self.respond = respond }

    public func send(_ datagram: [UInt8]) throws {
        sent.append(datagram)
        guard let messages = ScriptedMessage.parse(datagram) else {
            throw NetlinkError(errno: 22, extendedMessage: "scripted transport: malformed datagram", operation: "send")
        }
        queue += respond(messages)
    }

    public func receive(timeout: Duration?) throws -> [UInt8]? {
        guard !queue.isEmpty else { return nil }
        switch queue.removeFirst() {
        case .datagram(let d): return d
        case .failure(let e): throw e
        }
    }
}

// MARK: - Reply builders

/// The UAPI numbers the scripted kernel uses.
public enum NL {
    public static let error: UInt16 = 2, done: UInt16 = 3
    public static let request: UInt16 = 0x1, multi: UInt16 = 0x2, ack: UInt16 = 0x4, dumpIntr: UInt16 = 0x10
    public static let replace: UInt16 = 0x100, excl: UInt16 = 0x200, create: UInt16 = 0x400
    public static let capped: UInt16 = 0x100, ackTLVs: UInt16 = 0x200
    public static let newLink: UInt16 = 16, getLink: UInt16 = 18, newAddr: UInt16 = 20, getAddr: UInt16 = 22
    public static let newRoute: UInt16 = 24, delRoute: UInt16 = 25, getRoute: UInt16 = 26
    public static let newNexthop: UInt16 = 104, delNexthop: UInt16 = 105, getNexthop: UInt16 = 106
}

/// Little-endian message bytes, built one message at a time.
struct NetlinkBytes {
    var bytes: [UInt8] = []
    private var start = 0

    mutating func begin(type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32 = 77) {
        start = bytes.count
        u32(0); u16(type); u16(flags); u32(sequence); u32(portID)
    }
    mutating func end() {
        let len = UInt32(bytes.count - start)
        for k in 0..<4 { bytes[start + k] = UInt8(truncatingIfNeeded: len >> (8 * UInt32(k))) }
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
    mutating func u32(_ v: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
    mutating func attr(_ type: UInt16, _ value: [UInt8]) {
        u16(UInt16(4 + value.count)); u16(type); bytes += value
        while bytes.count % 4 != 0 { bytes.append(0) }
    }
    mutating func attr(_ type: UInt16, u32 v: UInt32) {
        var b = NetlinkBytes(); b.u32(v); attr(type, b.bytes)
    }
}

/// An `NLMSG_ERROR` reply (an ACK when `errno` is 0), capped, with extended ACK text when given.
public func ackMessage(sequence: UInt32, errno: Int32 = 0, requestType: UInt16 = NL.newRoute, text: String? = nil) -> [UInt8] {
    var b = NetlinkBytes()
    b.begin(type: NL.error, flags: NL.capped | (text == nil ? 0 : NL.ackTLVs), sequence: sequence)
    b.u32(UInt32(bitPattern: -errno))
    // The echoed request header.
    b.u32(16); b.u16(requestType); b.u16(NL.request | NL.ack); b.u32(sequence); b.u32(77)
    if let text { b.attr(1, Array(text.utf8) + [0]) }   // NLMSGERR_ATTR_MSG
    b.end()
    return b.bytes
}

/// The `NLMSG_DONE` that ends a dump, with its status (0, or a negative errno).
public func doneMessage(sequence: UInt32, status: Int32 = 0, flags: UInt16 = NL.multi) -> [UInt8] {
    var b = NetlinkBytes()
    b.begin(type: NL.done, flags: flags, sequence: sequence)
    b.u32(UInt32(bitPattern: status))
    b.end()
    return b.bytes
}

/// A route as a dump reply (`RTM_NEWROUTE`): `struct rtmsg` and its attributes, as the kernel sends it.
public func routeReply(_ r: KernelRoute, sequence: UInt32, flags: UInt16 = NL.multi) -> [UInt8] {
    var b = NetlinkBytes()
    b.begin(type: NL.newRoute, flags: flags, sequence: sequence)
    b.u8(r.destination.family == .v4 ? 2 : 10)
    b.u8(UInt8(r.destination.length))
    b.u8(0); b.u8(0)                                   // src_len, tos
    b.u8(r.table < 256 ? UInt8(r.table) : 252)        // RT_TABLE_COMPAT above 255
    b.u8(r.proto)
    b.u8(0)                                            // scope universe
    b.u8(r.type)
    b.u32(0)
    b.attr(15, u32: r.table)                                           // RTA_TABLE
    if r.destination.length > 0 { b.attr(1, r.destination.address.bytes) }  // RTA_DST
    if let m = r.metric { b.attr(6, u32: m) }                          // RTA_PRIORITY
    if let g = r.gateway { b.attr(5, g.bytes) }                        // RTA_GATEWAY
    if let n = r.nexthopID { b.attr(30, u32: n) }                      // RTA_NH_ID
    if let o = r.outputInterface { b.attr(4, u32: UInt32(bitPattern: o)) }  // RTA_OIF
    b.end()
    return b.bytes
}

/// A nexthop object as a dump reply (`RTM_NEWNEXTHOP`): `struct nhmsg`, `NHA_ID`, `NHA_GATEWAY`, `NHA_OIF`.
public func nexthopReply(_ n: KernelNexthop, sequence: UInt32, flags: UInt16 = NL.multi) -> [UInt8] {
    var b = NetlinkBytes()
    b.begin(type: NL.newNexthop, flags: flags, sequence: sequence)
    b.u8(n.gateway.map { $0.family == .v4 ? 2 : 10 } ?? 2)
    b.u8(0); b.u8(n.proto); b.u8(0); b.u32(0)
    b.attr(1, u32: n.id)
    if let g = n.gateway { b.attr(6, g.bytes) }
    if n.outputInterface != 0 { b.attr(5, u32: UInt32(bitPattern: n.outputInterface)) }
    b.end()
    return b.bytes
}

/// An interface address as a dump reply (`RTM_NEWADDR`), `IFA_ADDRESS` and `IFA_LOCAL` both the host's address.
public func addressReply(_ c: ConnectedNetwork, sequence: UInt32) -> [UInt8] {
    var b = NetlinkBytes()
    b.begin(type: NL.newAddr, flags: NL.multi, sequence: sequence)
    b.u8(c.address.family == .v4 ? 2 : 10)
    b.u8(UInt8(c.prefix.length)); b.u8(0); b.u8(0)
    b.u32(UInt32(bitPattern: c.interfaceIndex))
    b.attr(1, c.address.bytes)
    b.attr(2, c.address.bytes)
    b.end()
    return b.bytes
}

/// An interface as a dump reply (`RTM_NEWLINK`): `struct ifinfomsg` and `IFLA_IFNAME`.
public func linkReply(index: Int32, name: String, sequence: UInt32) -> [UInt8] {
    var b = NetlinkBytes()
    b.begin(type: NL.newLink, flags: NL.multi, sequence: sequence)
    b.u8(0); b.u8(0); b.u16(1)                         // family, pad, ARPHRD_ETHER
    b.u32(UInt32(bitPattern: index)); b.u32(1); b.u32(0)  // index, IFF_UP, change
    b.attr(3, Array(name.utf8) + [0])
    b.end()
    return b.bytes
}

// MARK: - A scripted rtnetlink kernel

/// A small rtnetlink kernel behind a `ScriptedTransport`: it answers route, nexthop, link and address dumps
/// from its tables, and applies route and nexthop writes with the kernel's keys (a route is destination, table
/// and effective metric; an exclusive add of an existing key fails with EEXIST; a delete names the protocol),
/// ACKing each request. Every write is recorded, decoded by this file's own code into a `KernelOperation`.
///
/// ```swift
/// let kernel = ScriptedKernel(connected: [...])
/// let socket = RouteSocket(transport: kernel.transport)   // the real codec, no root needed
/// ```
public final class ScriptedKernel: @unchecked Sendable {
    public var routes: [KernelRoute]
    public var nexthops: [KernelNexthop]
    public var connected: [ConnectedNetwork]
    /// Without nexthop objects, a nexthop dump fails with EOPNOTSUPP (a kernel before 5.3).
    public var nexthopSupport: Bool
    /// Writes decoded from the requests received, in order.
    public private(set) var writes: [KernelOperation] = []
    /// Makes writes of routes to a destination fail with an errno.
    public var failures: [IPPrefix: Int32] = [:]

    public init(routes: [KernelRoute] = [], nexthops: [KernelNexthop] = [], connected: [ConnectedNetwork] = [],
                nexthopSupport: Bool = true) {
        self.routes = routes
        self.nexthops = nexthops
        self.connected = connected
        self.nexthopSupport = nexthopSupport
    }

    /// A fresh transport onto this kernel (one per socket).
    public var transport: ScriptedTransport {
        ScriptedTransport { [self] requests in requests.map { .datagram(self.answer($0)) } }
    }

    func answer(_ m: ScriptedMessage) -> [UInt8] {
        let seq = m.sequence
        switch m.type {
        case NL.getRoute:
            let family: AddressFamily? = m.payload.first == 2 ? .v4 : m.payload.first == 10 ? .v6 : nil
            let table = m.attributes(after: 12)[15].map { le32($0, 0) } ?? UInt32(m.payload.count > 4 ? m.payload[4] : 0)
            let rows = routes.filter { $0.destination.family == family && $0.table == table }
            return rows.flatMap { routeReply($0, sequence: seq) } + doneMessage(sequence: seq)
        case NL.getNexthop:
            guard nexthopSupport else { return ackMessage(sequence: seq, errno: 95, requestType: m.type) }
            return nexthops.flatMap { nexthopReply($0, sequence: seq) } + doneMessage(sequence: seq)
        case NL.getLink:
            var names: [Int32: String] = [:]
            for c in connected { names[c.interfaceIndex] = c.interfaceName }
            return names.keys.sorted().flatMap { linkReply(index: $0, name: names[$0]!, sequence: seq) } + doneMessage(sequence: seq)
        case NL.getAddr:
            return connected.flatMap { addressReply($0, sequence: seq) } + doneMessage(sequence: seq)
        case NL.newRoute, NL.delRoute, NL.newNexthop, NL.delNexthop:
            guard let op = decodeWrite(m) else { return ackMessage(sequence: seq, errno: 22, requestType: m.type, text: "malformed request") }
            writes.append(op)
            return ackMessage(sequence: seq, errno: apply(op), requestType: m.type)
        default:
            return ackMessage(sequence: seq, errno: 95, requestType: m.type)
        }
    }

    /// The request as the operation it asks for; nil when it is malformed.
    func decodeWrite(_ m: ScriptedMessage) -> KernelOperation? {
        let p = m.payload
        if m.type == NL.newNexthop || m.type == NL.delNexthop {
            guard p.count >= 8 else { return nil }
            let a = m.attributes(after: 8)
            guard let id = a[1].map({ le32($0, 0) }) else { return nil }
            if m.type == NL.delNexthop { return .deleteNexthop(id: id) }
            let n = KernelNexthop(id: id, gateway: a[6].flatMap { IPAddress(bytes: $0) },
                                  outputInterface: a[5].map { Int32(bitPattern: le32($0, 0)) } ?? 0, proto: p[2])
            return m.flags & NL.replace != 0 ? .replaceNexthop(n) : .addNexthop(n)
        }
        guard p.count >= 12, p[0] == 2 || p[0] == 10 else { return nil }
        let a = m.attributes(after: 12)
        let zero = p[0] == 2 ? IPAddress(v4: 0) : IPAddress(v6High: 0, low: 0)
        guard let dst = IPPrefix(address: a[1].flatMap { IPAddress(bytes: $0) } ?? zero, length: Int(p[1])) else { return nil }
        let table = a[15].map { le32($0, 0) } ?? UInt32(p[4])
        let target: RouteTarget
        if let id = a[30] {
            target = .nexthop(le32(id, 0))
        } else {
            target = .gateway(a[5].flatMap { IPAddress(bytes: $0) } ?? dst.family.unspecified,
                              outputInterface: a[4].map { Int32(bitPattern: le32($0, 0)) })
        }
        let spec = RouteSpec(destination: dst, table: table, proto: p[5], target: target, metric: a[6].map { le32($0, 0) })
        if m.type == NL.delRoute { return .deleteRoute(spec) }
        return m.flags & NL.replace != 0 ? .replaceRoute(spec) : .addRoute(spec)
    }

    /// Applies a write to the tables; the errno to ACK with (0: success).
    func apply(_ op: KernelOperation) -> Int32 {
        func metric(_ m: UInt32?, _ f: AddressFamily) -> UInt32 { m.flatMap { $0 == 0 ? nil : $0 } ?? (f == .v6 ? 1024 : 0) }
        func sameKey(_ r: KernelRoute, _ s: RouteSpec) -> Bool {
            r.destination == s.destination && r.table == s.table && metric(r.metric, r.destination.family) == metric(s.metric, s.destination.family)
        }
        func route(_ s: RouteSpec) -> KernelRoute {
            switch s.target {
            case .nexthop(let id):
                return KernelRoute(destination: s.destination, table: s.table, proto: s.proto, metric: s.metric, nexthopID: id)
            case .gateway(let g, let oif):
                return KernelRoute(destination: s.destination, table: s.table, proto: s.proto, metric: s.metric, gateway: g, outputInterface: oif)
            }
        }
        switch op {
        case .addRoute(let s), .replaceRoute(let s):
            if let e = failures[s.destination] { return e }
            if case .nexthop(let id) = s.target, !nexthops.contains(where: { $0.id == id }) { return 22 }
            let existing = routes.firstIndex { sameKey($0, s) }
            if case .addRoute = op, existing != nil { return 17 }
            if let i = existing { routes[i] = route(s) } else { routes.append(route(s)) }
        case .deleteRoute(let s):
            if let e = failures[s.destination] { return e }
            guard let i = routes.firstIndex(where: { $0.destination == s.destination && $0.table == s.table && $0.proto == s.proto
                && (s.metric == nil || metric($0.metric, $0.destination.family) == metric(s.metric, s.destination.family)) }) else { return 3 }
            routes.remove(at: i)
        case .addNexthop(let n), .replaceNexthop(let n):
            let existing = nexthops.firstIndex { $0.id == n.id }
            if case .addNexthop = op, existing != nil { return 17 }
            if let i = existing { nexthops[i] = n } else { nexthops.append(n) }
        case .deleteNexthop(let id):
            guard let i = nexthops.firstIndex(where: { $0.id == id }) else { return 2 }
            nexthops.remove(at: i)
            routes.removeAll { $0.nexthopID == id }   // the kernel removes the routes that use it
        }
        return 0
    }
}

extension AddressFamily {
    fileprivate var unspecified: IPAddress { self == .v4 ? IPAddress(v4: 0) : IPAddress(v6High: 0, low: 0) }
}

private func le16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
private func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}
