import CNetlink
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A subscription to the kernel's route and nexthop announcements (`RTNLGRP_IPV4_ROUTE`,
/// `RTNLGRP_IPV6_ROUTE`, `RTNLGRP_NEXTHOP`).
///
/// ```swift
/// let monitor = try RouteEventMonitor()
/// while true {
///     let events = try monitor.next(timeout: .seconds(30))
///     if events.contains(.overflow) { /* resync from a full dump */ }
/// }
/// ```
///
/// Events of every table and protocol arrive; filter them yourself. The kernel does not announce
/// every removal: IPv4 routes that go away with their nexthop object or interface vanish silently,
/// so a listener should still resynchronise from a dump on a timer. `close()` may be called from
/// another thread and wakes a waiting `next`, which then throws `ECANCELED`; the socket itself is
/// released when the monitor is deallocated.
public final class RouteEventMonitor: @unchecked Sendable {
    private let transport: SocketTransport
    private let wakeFD: Int32
    private let state = Mutex(State())

    private struct State {
        var closed = false
        var waiting = false
    }

    /// Subscribes, inside the named network namespace when one is given. The socket asks for a 32 MiB
    /// receive buffer so bursts of changes rarely overflow. Throws `NetlinkError`.
    public init(namespace: String? = nil) throws {
        transport = try inNetworkNamespace(namespace) {
            try SocketTransport(groups: [RTNLGroup.ipv4Route, RTNLGroup.ipv6Route, RTNLGroup.nexthop],
                                receiveBuffer: 32 << 20)
        }
        let e = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard e >= 0 else { throw lastError("create event monitor wake-up descriptor") }
        wakeFD = e
    }

    deinit { Glibc.close(wakeFD) }

    /// The netlink socket (tests shrink its buffer to provoke an overflow).
    var socketDescriptor: Int32 { transport.fd }

    /// Waits up to `timeout` (nil: forever) for announcements and returns what has arrived;
    /// `[]` on timeout. When the kernel dropped announcements (`ENOBUFS`) it returns `[.overflow]`:
    /// the caller must resynchronise from a dump. Messages that do not decode are skipped.
    /// Throws `NetlinkError` (`ECANCELED` once `close()` was called).
    public func next(timeout: Duration?) throws -> [RouteEvent] {
        let closedAlready = state.withLock { s -> Bool in
            if s.closed { return true }
            s.waiting = true
            return false
        }
        if closedAlready { throw closedError }
        defer { state.withLock { $0.waiting = false } }

        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            var fds = [pollfd(fd: transport.fd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
            let ms: Int32 = deadline.map { Int32(clamping: milliseconds($0 - ContinuousClock.now)) } ?? -1
            let r = poll(&fds, 2, ms)
            if r < 0 {
                if errno == EINTR { continue }
                throw lastError("wait for route events")
            }
            if state.withLock({ $0.closed }) { throw closedError }
            if r == 0 { return [] }
            if fds[0].revents != 0 { break }
        }

        var events: [RouteEvent] = []
        // Drain what is queued now, bounded so a flood cannot hold the caller forever.
        for _ in 0..<512 {
            let datagram: [UInt8]?
            do {
                datagram = try transport.receive(timeout: .zero)
            } catch let e as NetlinkError where e.errno == NetlinkError.ENOBUFS {
                return [.overflow]
            }
            guard let datagram else { break }
            try? forEachMessage(ByteView(datagram)) { m throws(DecodeError) in
                if let e = try? decodeEvent(m) { events.append(e) }
            }
        }
        return events
    }

    /// Stops the subscription; a `next` waiting in another thread wakes and throws `ECANCELED`.
    public func close() {
        state.withLock { $0.closed = true }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    private var closedError: NetlinkError {
        NetlinkError(errno: NetlinkError.ECANCELED, extendedMessage: "the event monitor was closed", operation: "wait for route events")
    }
}
