import Model

/// One `NETLINK_ROUTE` socket: dumps routes, nexthops and addresses, and applies batches of route and
/// nexthop changes with one result per change. Use it from one thread at a time.
///
/// ```swift
/// let socket = try RouteSocket(namespace: "blue")          // or RouteSocket() for the current namespace
/// let owned = try socket.routes(family: nil, table: 254).filter { $0.proto == 200 }
/// let spec = RouteSpec(destination: IPPrefix("10.1.0.0/24")!, table: 254, proto: 200,
///                      target: .gateway(IPAddress("203.0.113.10")!, outputInterface: nil))
/// let results = try socket.apply([.addRoute(spec)])       // [nil] on success
/// ```
///
/// Errors are `NetlinkError` values. Dumps ask the kernel to filter (`NETLINK_GET_STRICT_CHK`) and are
/// retried when the kernel reports them interrupted (`NLM_F_DUMP_INTR`).
public final class RouteSocket: @unchecked Sendable {
    let engine: RequestEngine

    /// Opens the socket, inside the named network namespace (`/var/run/netns/<name>`) when one is given.
    /// Throws `NetlinkError`.
    public init(namespace: String? = nil) throws {
        let transport = try inNetworkNamespace(namespace) { try SocketTransport() }
        engine = RequestEngine(transport: transport)
    }

    /// A socket over any transport (tests script one).
    init(transport: any NetlinkTransport, limits: BatchLimits = BatchLimits()) {
        engine = RequestEngine(transport: transport, limits: limits)
    }

    /// Traffic counters since the socket opened.
    public var statistics: NetlinkStatistics { engine.statistics }

    /// At most this many requests go into one `sendmsg` (default 1024; the byte cap is 64 KiB).
    public var maxMessagesPerSend: Int {
        get { engine.limits.maxMessages }
        set { engine.limits.maxMessages = max(1, newValue) }
    }

    /// At most this many bytes of requests go into one `sendmsg` (default 64 KiB).
    public var maxBytesPerSend: Int {
        get { engine.limits.maxBytes }
        set { engine.limits.maxBytes = max(64, newValue) }
    }

    /// Every route of `table` of every protocol, for one family or (nil) both. Cached clones are left out.
    /// A table that does not exist yet is empty. Multipath routes carry their first path's gateway and interface.
    public func routes(family: AddressFamily?, table: UInt32) throws -> [KernelRoute] {
        var out: [KernelRoute] = []
        for fam in family.map({ [$0] }) ?? [.v4, .v6] {
            do {
                out += try engine.dump("dump \(fam) routes of table \(table)", request: { b, seq in
                    b.appendRouteDump(family: fam.rawValue, table: table, sequence: seq)
                }, decode: { m throws(DecodeError) in
                    m.type == RTM.newRoute ? try decodeRoute(m) : nil
                })
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

    /// True when a nexthop dump works here (Linux 5.3+ with nexthop objects).
    public func supportsNexthopObjects() -> Bool {
        (try? nexthops()) != nil
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
