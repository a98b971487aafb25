// The Netlink module, bottom up:
//   Wire.swift           nlmsghdr/rtattr framing, ByteView (bounds-checked reads), AttributeDecoder, MessageBuilder
//   Constants.swift      the UAPI numbers the codec uses
//   Messages.swift       requests for KernelOperation and dumps; decoders for route, nexthop, address,
//                        link, ACK/extended ACK, DONE and event messages
//   NetlinkError.swift   the error value and traffic statistics
//   RequestEngine.swift  batching with one ACK per request matched by sequence number; dumps with retry
//   SocketTransport.swift, NetworkNamespace.swift   the real socket, opened inside a namespace if asked
//   RouteSocket.swift, RouteEventMonitor.swift   the public API
// The first four files use only the standard library and Model: the fuzz target compiles them alone.
import Model

/// One `NETLINK_ROUTE` socket: dumps routes, nexthops and addresses, and applies batches of route and
/// nexthop changes with one result per change. Use it from one thread at a time.
///
/// ```swift
/// let socket = try RouteSocket(namespace: "blue")          // or RouteSocket() for the current namespace
/// let owned = try socket.routes(family: nil, table: 254).filter(Ownership(proto: 200, table: 254).owns(route:))
/// let spec = RouteSpec(destination: IPPrefix("10.1.0.0/24")!, table: 254, proto: 200,
///                      target: .gateway(IPAddress("203.0.113.10")!, outputInterface: nil))
/// let results = try socket.apply([.addRoute(spec)])       // [nil] on success
/// ```
///
/// Errors are `NetlinkError` values. Dumps ask the kernel to filter (`NETLINK_GET_STRICT_CHK`) and are
/// retried when the kernel reports them interrupted (`NLM_F_DUMP_INTR`).
public final class RouteSocket: @unchecked Sendable {
    let engine: RequestEngine
    /// The most requests one send may carry so that all their ACKs fit the receive buffer.
    private let maxInFlight: Int
    private let maxSendBytes: Int

    /// Measured on Linux 6.18: an ACK takes about 940 bytes of receive buffer (skb truesize), so a
    /// 16 MiB buffer overflowed at about 17,800 ACKs of one send. Budget twice that per ACK.
    static let receiveBufferPerAck = 2048

    /// Opens the socket, inside the named network namespace (`/var/run/netns/<name>`) when one is given.
    /// Throws `NetlinkError`.
    public init(namespace: String? = nil) throws {
        let transport = try inNetworkNamespace(namespace) { try SocketTransport() }
        maxInFlight = max(16, transport.receiveBufferSize / RouteSocket.receiveBufferPerAck)
        maxSendBytes = max(4096, transport.sendBufferSize / 2)
        var limits = BatchLimits()
        limits.maxMessages = min(limits.maxMessages, maxInFlight)
        limits.maxBytes = min(limits.maxBytes, maxSendBytes)
        engine = RequestEngine(transport: transport, limits: limits)
    }

    /// A socket over any transport: tests script one (TestSupport's `ScriptedTransport`) to run the real
    /// codec without a kernel.
    public convenience init(transport: any NetlinkTransport) {
        self.init(transport: transport, limits: BatchLimits())
    }

    init(transport: any NetlinkTransport, limits: BatchLimits) {
        engine = RequestEngine(transport: transport, limits: limits)
        maxInFlight = Int.max
        maxSendBytes = Int.max
    }

    /// Traffic counters since the socket opened.
    public var statistics: NetlinkStatistics { engine.statistics }

    /// At most this many requests go into one `sendmsg` (default 1024; the byte cap is 64 KiB).
    /// Clamped so that the ACKs of one send fit the socket's receive buffer (8,192 with the 16 MiB
    /// a root process gets).
    public var maxMessagesPerSend: Int {
        get { engine.limits.maxMessages }
        set { engine.limits.maxMessages = min(max(1, newValue), maxInFlight) }
    }

    /// At most this many bytes of requests go into one `sendmsg` (default 64 KiB); clamped to half
    /// the send buffer.
    public var maxBytesPerSend: Int {
        get { engine.limits.maxBytes }
        set { engine.limits.maxBytes = min(max(64, newValue), maxSendBytes) }
    }

    /// Every route of `table` of every protocol, for one family or (nil) both. Cached clones are left out.
    /// A table that does not exist yet is empty. Multipath routes carry their first path's gateway and interface.
    public func routes(family: AddressFamily?, table: UInt32) throws -> [KernelRoute] {
        var out: [KernelRoute] = []
        for fam in family.map({ [$0] }) ?? [.v4, .v6] {
            do {
                let some: [KernelRoute] = try engine.dump("dump \(fam) routes of table \(table)", request: { b, seq in
                    b.appendRouteDump(family: fam.rawValue, table: table, sequence: seq)
                }, decode: { m throws(DecodeError) in
                    // The kernel filters already; checking again costs little and keeps a kernel
                    // without strict checking (before 4.20) from leaking other tables in.
                    guard m.type == RTM.newRoute, let r = try decodeRoute(m), r.table == table,
                          r.destination.family == fam else { return nil }
                    return r
                })
                if out.isEmpty { out = some } else { out.append(contentsOf: some) }
            } catch let e as NetlinkError where e.errno == 2 {   // ENOENT: "FIB table does not exist"
                continue
            }
        }
        return out
    }

    /// Every interface address (all families and scopes) as a connected network, with interface names.
    public func connectedNetworks() throws -> [ConnectedNetwork] {
        let links = try engine.dump("dump links", request: { b, seq in
            b.appendPlainDump(type: RTM.getLink, headerSize: HeaderSize.ifinfomsg, sequence: seq)
        }, decode: { m throws(DecodeError) in
            m.type == RTM.newLink ? try decodeLink(m) : nil
        })
        var names: [Int32: String] = [:]
        for l in links { names[l.index] = l.name }
        var nets = try engine.dump("dump addresses", request: { b, seq in
            b.appendPlainDump(type: RTM.getAddr, headerSize: HeaderSize.ifaddrmsg, sequence: seq)
        }, decode: { m throws(DecodeError) in
            m.type == RTM.newAddr ? try decodeAddress(m) : nil
        })
        for i in nets.indices { nets[i].interfaceName = names[nets[i].interfaceIndex] ?? "" }
        return nets
    }

    /// Every nexthop object of every protocol. A kernel without nexthop objects answers with an
    /// error (`EOPNOTSUPP` or `EINVAL`), thrown as `NetlinkError`.
    public func nexthops() throws -> [KernelNexthop] {
        try engine.dump("dump nexthops", request: { b, seq in
            b.appendPlainDump(type: RTM.getNexthop, headerSize: HeaderSize.nhmsg, sequence: seq)
        }, decode: { m throws(DecodeError) in
            m.type == RTM.newNexthop ? try decodeNexthop(m) : nil
        })
    }

    /// True when a nexthop dump works here (Linux 5.3+ with nexthop objects). Asks for group nexthops
    /// only, so the probe does not read every nexthop of the table.
    public func supportsNexthopObjects() -> Bool {
        (try? engine.dump("probe nexthops", request: { b, seq in b.appendNexthopGroupDump(sequence: seq) },
                          decode: { m throws(DecodeError) -> Bool? in m.type == RTM.newNexthop ? true : nil })) != nil
    }

    /// Applies the operations in order, many per `sendmsg`, each with its own ACK.
    /// `results[i]` is nil when `ops[i]` succeeded, else its error (`EEXIST`, `ENETUNREACH`, `ESRCH`…);
    /// one failure never stops the others. An ACK lost to a receive-buffer overflow is reported as
    /// `ENOBUFS` for that operation (its outcome is unknown; a later dump tells), and the batch size shrinks.
    /// Throws only when the socket itself is unusable (currently never: such failures become per-operation errors).
    public func apply(_ ops: [KernelOperation]) throws -> [NetlinkError?] {
        engine.apply(ops)
    }
}
