#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Model
import Netlink
import Synchronization

/// The kernel as the agent uses it: read the table, write a batch. The real one speaks rtnetlink
/// (`NetlinkKernel`); the Agent's tests use an in-memory one.
public protocol RoutingKernel: Sendable {
    /// Every route of `table` (all protocols, both families), every nexthop object, the connected networks.
    func view(table: UInt32, includeNexthops: Bool) throws -> KernelView
    /// Applies a batch; `results[i]` is nil when `ops[i]` succeeded.
    func apply(_ ops: [KernelOperation]) throws -> [KernelWriteError?]
    /// Whether the kernel has nexthop objects (Linux 5.3+).
    func supportsNexthopObjects() -> Bool
}

/// Why one kernel write failed.
public struct KernelWriteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `errno` (EEXIST, ENETUNREACH, EPERM…).
    public var code: Int32
    /// The errno's symbolic name (`EEXIST`), used as a metric label.
    public var name: String
    public var description: String

    public init(code: Int32, name: String, description: String) {
        self.code = code
        self.name = name
        self.description = description
    }
}

/// The kernel could not be read or written at all (socket, permission, namespace).
public struct KernelAccessError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The real kernel through rtnetlink, optionally inside a named network namespace.
public final class NetlinkKernel: RoutingKernel {
    private let socket: Mutex<RouteSocket>

    public init(namespace: String?) throws(KernelAccessError) {
        do {
            socket = Mutex(try RouteSocket(namespace: namespace))
        } catch {
            let place = namespace.map { "in network namespace '\($0)'" } ?? "in this network namespace"
            throw KernelAccessError("cannot open a netlink route socket \(place): \(error)" + Self.namespaceHint(namespace, error))
        }
    }

    /// The kernel behind an already open socket (tests: a socket over a scripted transport).
    public init(socket: RouteSocket) {
        self.socket = Mutex(socket)
    }

    /// Why entering a namespace was refused, when it was: setns(2) needs CAP_SYS_ADMIN, which the shipped
    /// systemd unit does not grant (it also restricts namespaces with RestrictNamespaces=).
    static func namespaceHint(_ namespace: String?, _ error: any Error) -> String {
        guard namespace != nil, let e = error as? NetlinkError, e.errno == EPERM || e.errno == EACCES else { return "" }
        return "; entering a network namespace (--netns) needs CAP_SYS_ADMIN, which the shipped systemd unit does not grant and its RestrictNamespaces= forbids: add CAP_SYS_ADMIN to AmbientCapabilities= and CapabilityBoundingSet= and allow 'net' in RestrictNamespaces= in a drop-in, or run the agent inside the namespace instead"
    }

    public func view(table: UInt32, includeNexthops: Bool) throws -> KernelView {
        try socket.withLock { s in
            do {
                let routes = try s.routes(family: nil, table: table)
                let nexthops = includeNexthops ? try s.nexthops() : []
                let connected = try s.connectedNetworks()
                return KernelView(routes: routes, nexthops: nexthops, connected: connected)
            } catch {
                throw KernelAccessError("cannot read the kernel's routes: \(error)")
            }
        }
    }

    public func apply(_ ops: [KernelOperation]) throws -> [KernelWriteError?] {
        try socket.withLock { s in
            let results: [NetlinkError?]
            do {
                results = try s.apply(ops)
            } catch {
                throw KernelAccessError("cannot write to the kernel: \(error)")
            }
            return results.map { r in
                r.map { KernelWriteError(code: $0.errno, name: errnoName($0.errno), description: "\($0)") }
            }
        }
    }

    public func supportsNexthopObjects() -> Bool {
        socket.withLock { $0.supportsNexthopObjects() }
    }

    /// Netlink traffic so far (for the benchmark and debug logs).
    public var statistics: NetlinkStatistics { socket.withLock { $0.statistics } }
}

/// The symbolic name of an errno (`EEXIST`), or `errno N`.
public func errnoName(_ code: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", ENOBUFS: "ENOBUFS",
        EEXIST: "EEXIST", ENODEV: "ENODEV", EINVAL: "EINVAL", ENOSPC: "ENOSPC", EBUSY: "EBUSY",
        ENETUNREACH: "ENETUNREACH", EHOSTUNREACH: "EHOSTUNREACH", EOPNOTSUPP: "EOPNOTSUPP",
        EAFNOSUPPORT: "EAFNOSUPPORT", EACCES: "EACCES", ENOMEM: "ENOMEM", EMSGSIZE: "EMSGSIZE",
        EADDRNOTAVAIL: "EADDRNOTAVAIL", ENETDOWN: "ENETDOWN", ERANGE: "ERANGE",
    ]
    return names[code] ?? "errno \(code)"
}
