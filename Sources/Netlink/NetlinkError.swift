#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed netlink request (or socket call), as a value.
///
/// `errno` is positive (`ENETUNREACH` = 101). `extendedMessage` is the kernel's extended ACK text
/// (`NLMSGERR_ATTR_MSG`) when it sent one. `operation` names what was attempted.
///
/// ```swift
/// let e = NetlinkError(errno: 101, extendedMessage: "Nexthop has invalid gateway",
///                      operation: "add route 10.0.0.0/24 via 203.0.113.10 table 254")
/// e.description
/// // "add route 10.0.0.0/24 via 203.0.113.10 table 254: Network is unreachable (ENETUNREACH): Nexthop has invalid gateway"
/// ```
public struct NetlinkError: Error, Hashable, Sendable, CustomStringConvertible {
    public var errno: Int32
    public var extendedMessage: String?
    public var operation: String?

    public init(errno: Int32, extendedMessage: String? = nil, operation: String? = nil) {
        self.errno = errno
        self.extendedMessage = extendedMessage
        self.operation = operation
    }

    /// The symbolic name of the errno (`EEXIST`), or `errno N` when unknown.
    public var errnoName: String { NetlinkError.symbolicName(errno) }

    public var description: String {
        var s = ""
        if let operation, !operation.isEmpty { s = operation + ": " }
        s += "\(NetlinkError.message(errno)) (\(errnoName))"
        if let extendedMessage, !extendedMessage.isEmpty { s += ": " + extendedMessage }
        return s
    }

    /// The error with `operation` filled in when it had none.
    func during(_ op: String) -> NetlinkError {
        var e = self
        if e.operation == nil { e.operation = op }
        return e
    }

    static func message(_ code: Int32) -> String {
        #if canImport(Glibc) || canImport(Musl)
        if let p = strerror(code) { return String(cString: p) }
        #endif
        return "error \(code)"
    }

    static func symbolicName(_ code: Int32) -> String {
        switch code {
        case 1: return "EPERM"
        case 2: return "ENOENT"
        case 3: return "ESRCH"
        case 4: return "EINTR"
        case 5: return "EIO"
        case 6: return "ENXIO"
        case 7: return "E2BIG"
        case 9: return "EBADF"
        case 11: return "EAGAIN"
        case 12: return "ENOMEM"
        case 13: return "EACCES"
        case 14: return "EFAULT"
        case 16: return "EBUSY"
        case 17: return "EEXIST"
        case 19: return "ENODEV"
        case 22: return "EINVAL"
        case 23: return "ENFILE"
        case 24: return "EMFILE"
        case 28: return "ENOSPC"
        case 34: return "ERANGE"
        case 61: return "ENODATA"
        case 74: return "EBADMSG"
        case 75: return "EOVERFLOW"
        case 90: return "EMSGSIZE"
        case 92: return "ENOPROTOOPT"
        case 93: return "EPROTONOSUPPORT"
        case 95: return "EOPNOTSUPP"
        case 97: return "EAFNOSUPPORT"
        case 98: return "EADDRINUSE"
        case 99: return "EADDRNOTAVAIL"
        case 100: return "ENETDOWN"
        case 101: return "ENETUNREACH"
        case 105: return "ENOBUFS"
        case 110: return "ETIMEDOUT"
        case 113: return "EHOSTUNREACH"
        case 125: return "ECANCELED"
        default: return "errno \(code)"
        }
    }

    // Numbers the codec and the request engine raise themselves (Linux values).
    static let EBADMSG: Int32 = 74
    static let ENOBUFS: Int32 = 105
    static let ETIMEDOUT: Int32 = 110
    static let EINTR: Int32 = 4
    static let ECANCELED: Int32 = 125
    static let EOPNOTSUPP: Int32 = 95

    /// A decoding failure as a netlink error (`EBADMSG`).
    init(_ decode: DecodeError, operation: String? = nil) {
        self.init(errno: NetlinkError.EBADMSG, extendedMessage: decode.description, operation: operation)
    }
}

/// Counters of one socket's traffic.
public struct NetlinkStatistics: Hashable, Sendable, CustomStringConvertible {
    public var messagesSent = 0
    public var messagesReceived = 0
    public var bytesSent = 0
    public var bytesReceived = 0
    public var sendCalls = 0
    public var receiveCalls = 0

    public init() {}

    public var description: String {
        "sent \(messagesSent) messages / \(bytesSent) bytes in \(sendCalls) sends; received \(messagesReceived) messages / \(bytesReceived) bytes in \(receiveCalls) receives"
    }
}
