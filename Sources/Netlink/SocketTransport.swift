import CNetlink
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The last `errno` as a `NetlinkError`.
func lastError(_ operation: String) -> NetlinkError {
    NetlinkError(errno: errno, operation: operation)
}

/// A `NETLINK_ROUTE` socket: strict dump checking, extended and capped ACKs, large buffers.
final class SocketTransport: NetlinkTransport {
    let fd: Int32
    private var buffer: [UInt8]

    /// Opens the socket in the calling thread's network namespace.
    /// - Parameters:
    ///   - groups: `RTNLGRP_*` multicast groups to join (event listeners).
    ///   - receiveBuffer: bytes asked for with `SO_RCVBUFFORCE` (root), falling back to `SO_RCVBUF`.
    init(groups: [UInt32] = [], receiveBuffer: Int = 8 << 20, sendBuffer: Int = 4 << 20) throws {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_ROUTE)
        guard fd >= 0 else { throw lastError("open netlink socket") }
        self.fd = fd
        buffer = [UInt8](repeating: 0, count: 256 * 1024)
        func setInt(_ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
            var v = value
            return setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0
        }
        // Extended ACK text, ACKs without the echoed request, kernel-side dump filters.
        _ = setInt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        _ = setInt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        _ = setInt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        if !setInt(SOL_SOCKET, SO_RCVBUFFORCE, Int32(clamping: receiveBuffer)) {
            _ = setInt(SOL_SOCKET, SO_RCVBUF, Int32(clamping: receiveBuffer))
        }
        if !setInt(SOL_SOCKET, SO_SNDBUFFORCE, Int32(clamping: sendBuffer)) {
            _ = setInt(SOL_SOCKET, SO_SNDBUF, Int32(clamping: sendBuffer))
        }
        var addr = sockaddr_nl()
        addr.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
            }
        }
        guard bound == 0 else {
            let e = lastError("bind netlink socket")
            Glibc.close(fd)
            throw e
        }
        for g in groups {
            guard setInt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, Int32(g)) else {
                let e = lastError("join netlink group \(g)")
                Glibc.close(fd)
                throw e
            }
        }
    }

    deinit { Glibc.close(fd) }

    /// The receive buffer the kernel granted (it doubles the requested value for bookkeeping).
    var receiveBufferSize: Int { intOption(SO_RCVBUF) }

    /// The send buffer the kernel granted; one datagram must stay below it.
    var sendBufferSize: Int { intOption(SO_SNDBUF) }

    private func intOption(_ name: Int32) -> Int {
        var v: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, name, &v, &len) == 0 ? Int(v) : 0
    }

    func send(_ datagram: [UInt8]) throws {
        var addr = sockaddr_nl()
        addr.nl_family = sa_family_t(AF_NETLINK)
        while true {
            let n = datagram.withUnsafeBytes { buf in
                withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buf.baseAddress, buf.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                    }
                }
            }
            if n >= 0 { return }
            if errno == EINTR { continue }
            throw lastError("send netlink request")
        }
    }

    func receive(timeout: Duration?) throws -> [UInt8]? {
        if let timeout {
            guard try waitReadable(fd: fd, timeout: timeout) else { return nil }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_TRUNC) | (timeout == nil ? 0 : Int32(MSG_DONTWAIT))) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
                throw lastError("receive netlink reply")
            }
            if n > buffer.count {
                // The datagram was cut short; grow for the future and report it.
                buffer = [UInt8](repeating: 0, count: max(n, buffer.count * 2))
                throw NetlinkError(errno: 90, extendedMessage: "netlink datagram of \(n) bytes did not fit the receive buffer", operation: "receive netlink reply")
            }
            return Array(buffer[0..<n])
        }
    }
}

/// Waits until `fd` is readable; false on timeout. EINTR restarts the wait with the time left.
func waitReadable(fd: Int32, timeout: Duration) throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        let left = deadline - ContinuousClock.now
        let ms = max(0, milliseconds(left))
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, Int32(clamping: ms))
        if r > 0 { return true }
        if r == 0 { return false }
        if errno == EINTR { continue }
        throw lastError("poll netlink socket")
    }
}

func milliseconds(_ d: Duration) -> Int64 {
    let (s, atto) = d.components
    if s < 0 { return 0 }
    let ms = s.multipliedReportingOverflow(by: 1000)
    if ms.overflow { return Int64.max }
    return ms.partialValue + (atto + 999_999_999_999_999) / 1_000_000_000_000_000
}
