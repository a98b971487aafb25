@testable import Netlink
import Model

/// Bytes from hex text: `"34 00 0a"`; whitespace and `|` separators are ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        out.append(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return out
}

func encode(_ op: KernelOperation, sequence: UInt32) -> [UInt8] {
    var b = MessageBuilder()
    b.append(op, sequence: sequence)
    return b.bytes
}

func message(_ bytes: [UInt8]) throws -> NetlinkMessage {
    let all = try parseMessages(bytes)
    precondition(all.count == 1)
    return all[0]
}

/// An `NLMSG_ERROR` reply (ACK when `errno` is 0), capped, with extended ACK text when given.
func ackMessage(sequence: UInt32, errno: Int32 = 0, requestType: UInt16 = RTM.newRoute, text: String? = nil) -> [UInt8] {
    var b = MessageBuilder()
    b.beginMessage(type: NLMsgType.error, flags: NLMFlag.capped | (text == nil ? 0 : NLMFlag.ackTLVs), sequence: sequence, portID: 77)
    b.append32(UInt32(bitPattern: -errno))
    // The echoed request header.
    b.append32(16)
    b.append16(requestType)
    b.append16(NLMFlag.request | NLMFlag.ack)
    b.append32(sequence)
    b.append32(77)
    if let text { b.attribute(NLMsgErrAttr.msg, bytes: Array(text.utf8) + [0]) }
    b.endMessage()
    return b.bytes
}

func doneMessage(sequence: UInt32, status: Int32 = 0, flags: UInt16 = NLMFlag.multi) -> [UInt8] {
    var b = MessageBuilder()
    b.beginMessage(type: NLMsgType.done, flags: flags, sequence: sequence, portID: 77)
    b.append32(UInt32(bitPattern: status))
    b.endMessage()
    return b.bytes
}

/// A route as a dump reply message (what the kernel sends for `RTM_GETROUTE`).
func routeReply(_ r: KernelRoute, sequence: UInt32, flags: UInt16 = NLMFlag.multi) -> [UInt8] {
    var b = MessageBuilder()
    b.beginMessage(type: RTM.newRoute, flags: flags, sequence: sequence, portID: 77)
    b.append8(r.destination.family.rawValue)
    b.append8(UInt8(r.destination.length))
    b.append8(0); b.append8(0)
    b.append8(r.table < 256 ? UInt8(r.table) : 252)
    b.append8(r.proto)
    b.append8(0)
    b.append8(r.type)
    b.append32(0)
    b.attribute(RTA.table, u32: r.table)
    if r.destination.length > 0 { b.attribute(RTA.dst, address: r.destination.address) }
    if let m = r.metric { b.attribute(RTA.priority, u32: m) }
    if let g = r.gateway { b.attribute(RTA.gateway, address: g) }
    if let n = r.nexthopID { b.attribute(RTA.nhID, u32: n) }
    if let o = r.outputInterface { b.attribute(RTA.oif, u32: UInt32(bitPattern: o)) }
    b.endMessage()
    return b.bytes
}

/// A transport whose replies are scripted: every sent datagram is handed to `respond`, which returns
/// what the "kernel" queues (datagrams, or errors such as ENOBUFS to raise on a receive).
final class ScriptedTransport: NetlinkTransport {
    enum Item { case datagram([UInt8]), failure(NetlinkError) }
    var respond: ([NetlinkMessage]) -> [Item]
    private(set) var sent: [[UInt8]] = []
    private var queue: [Item] = []

    init(respond: @escaping ([NetlinkMessage]) -> [Item]) { self.respond = respond }

    func send(_ datagram: [UInt8]) throws {
        sent.append(datagram)
        queue += respond(try parseMessages(datagram))
    }

    func receive(timeout: Duration?) throws -> [UInt8]? {
        guard !queue.isEmpty else { return nil }
        switch queue.removeFirst() {
        case .datagram(let d): return d
        case .failure(let e): throw e
        }
    }
}

func v4(_ s: String) -> IPAddress { IPAddress(s)! }
func prefix(_ s: String) -> IPPrefix { IPPrefix(s)! }
