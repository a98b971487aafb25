#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Netlink
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One writer per (network namespace, table, protocol): an abstract unix socket named
/// `@metadata-route-agent/<table>/<protocol>`, bound in the network namespace the agent writes into.
///
/// Abstract sockets belong to a network namespace and vanish with the last descriptor, so the lock needs
/// no file (nothing to go stale after `kill -9`, nothing writable under `ProtectSystem=strict`). A second
/// writer's bind fails with EADDRINUSE; it then connects, learns the holder's PID from the kernel
/// (`SO_PEERCRED`) and exits 2 naming it. The holder answers each connection with one line, `pid N`, and
/// reads one request line: `force-delete` asks it to carry out its held deletions
/// (`sync --force-delete` while a daemon runs).
public final class TableLock: @unchecked Sendable {
    private let fd: Int32
    private let isClosed = Mutex(false)
    public let name: String

    /// The socket name (without the leading NUL) for a table and protocol.
    public static func name(table: UInt32, proto: UInt8) -> String { "metadata-route-agent/\(table)/\(proto)" }

    private init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    /// What another holder said: its PID (from the kernel) and its reply line.
    public struct Holder: Sendable, Equatable {
        public var pid: Int32?
        public var reply: String
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        /// Another process holds the lock.
        case held(Holder)
        case system(String)

        public var description: String {
            switch self {
            case .held(let h): return "another metadata-route-agent (PID \(h.pid.map { "\($0)" } ?? "unknown")) is writing this table"
            case .system(let m): return m
            }
        }
    }

    /// Takes the lock in `netns` (nil: this namespace). `onRequest` answers request lines from other
    /// processes (on a thread of the lock's own); its answer is sent back as one line.
    public static func acquire(table: UInt32, proto: UInt8, netns: String?,
                               onRequest: @escaping @Sendable (String) -> String) throws(Failure) -> TableLock {
        let name = Self.name(table: table, proto: proto)
        let fd: Int32
        do {
            fd = try inNetworkNamespace(netns) { () throws(Failure) -> Int32 in
                let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                guard s >= 0 else { throw .system("cannot create the lock socket: \(String(cString: strerror(errno)))") }
                let rc = withAbstractAddress(name) { bind(s, $0, $1) }
                if rc != 0 {
                    let e = errno
                    close(s)
                    if e == EADDRINUSE { throw .held(Holder(pid: nil, reply: "")) }
                    throw .system("cannot bind the lock socket @\(name): \(String(cString: strerror(e)))")
                }
                guard listen(s, 8) == 0 else {
                    let e = errno
                    close(s)
                    throw .system("cannot listen on the lock socket @\(name): \(String(cString: strerror(e)))")
                }
                return s
            }
        } catch let f as Failure {
            if case .held = f { throw .held(Self.contact(table: table, proto: proto, netns: netns, request: nil) ?? Holder(pid: nil, reply: "")) }
            throw f
        } catch {
            throw .system("cannot enter network namespace \(netns ?? "-") for the lock: \(error)")
        }
        let lock = TableLock(fd: fd, name: name)
        guard startThread(name: "mra-lock", { lock.serve(onRequest) }) else {
            lock.release()
            throw .system("cannot start the lock's thread")
        }
        return lock
    }

    /// Connects to the holder, sends `request` (if any) and returns its PID and reply; nil when nobody holds it.
    public static func contact(table: UInt32, proto: UInt8, netns: String?, request: String?, timeout: Double = 10) -> Holder? {
        let name = Self.name(table: table, proto: proto)
        guard let s = try? inNetworkNamespace(netns, { () -> Int32 in
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { return -1 }
            if withAbstractAddress(name, { connect(s, $0, $1) }) != 0 { close(s); return -1 }
            return s
        }), s >= 0 else { return nil }
        defer { close(s) }
        var cred = PeerCredentials()
        var len = socklen_t(MemoryLayout<PeerCredentials>.size)
        let pid: Int32? = getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : nil
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = readLine(s)   // "pid N"
        var reply = ""
        if let request {
            _ = writeAll(s, request + "\n")
            reply = readLine(s) ?? ""
        } else {
            _ = writeAll(s, "\n")
        }
        return Holder(pid: pid, reply: reply)
    }

    /// Releases the lock (also done by the kernel when the process ends).
    public func release() {
        let first = isClosed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func serve(_ onRequest: @Sendable (String) -> String) {
        defer { close(fd) }
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return   // shut down (release) or a fatal error: the lock is gone either way
            }
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            _ = Self.writeAll(c, "pid \(getpid())\n")
            if let line = Self.readLine(c), !line.isEmpty {
                _ = Self.writeAll(c, onRequest(line) + "\n")
            }
            close(c)
        }
    }

    private static func withAbstractAddress<R>(_ name: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8.prefix(100))
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw[0] = 0
            for (i, b) in bytes.enumerated() { raw[i + 1] = b }
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, len) } }
    }

    private static func writeAll(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// One line (up to 512 bytes), without its newline; nil on timeout or EOF before any byte.
    private static func readLine(_ fd: Int32) -> String? {
        var out: [UInt8] = []
        var b: UInt8 = 0
        while out.count < 512 {
            let n = recv(fd, &b, 1, 0)
            if n <= 0 { return out.isEmpty ? nil : String(decoding: out, as: UTF8.self) }
            if b == UInt8(ascii: "\n") { break }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// `struct ucred` (Linux `SO_PEERCRED`), which Glibc hides behind _GNU_SOURCE.
private struct PeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
