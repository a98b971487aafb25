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
import RoutePlanner
import Synchronization

/// The kernel as the agent uses it: read the table, write a batch. The real one speaks rtnetlink;
/// tests use `InMemoryKernel`.
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
            throw KernelAccessError("cannot open a netlink route socket \(place): \(error)")
        }
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

/// A routing table in memory, with the kernel's semantics as `RoutePlanner.simulate` models them,
/// and failures that tests can script per destination or per operation kind.
public final class InMemoryKernel: RoutingKernel {
    struct State {
        var view: KernelView
        var failures: [IPPrefix: Int32] = [:]
        var readFailure: String?
        var nexthopSupport = true
        var writes: [KernelOperation] = []
    }
    private let state: Mutex<State>

    public init(_ view: KernelView = KernelView(), nexthopSupport: Bool = true) {
        state = Mutex(State(view: view, nexthopSupport: nexthopSupport))
    }

    /// The table as it is now.
    public var current: KernelView { state.withLock { $0.view } }
    /// Every write applied so far, in order.
    public var writes: [KernelOperation] { state.withLock { $0.writes } }

    /// Changes the table behind the agent's back (an operator's `ip route del`, a reboot…).
    public func mutate(_ body: (inout KernelView) -> Void) { state.withLock { body(&$0.view) } }
    /// Makes every write of a route to `destination` fail with `errno`; nil clears it.
    public func failWrites(to destination: IPPrefix, errno: Int32?) { state.withLock { $0.failures[destination] = errno } }
    /// Makes reads fail (nil: succeed again).
    public func failReads(_ message: String?) { state.withLock { $0.readFailure = message } }

    public func view(table: UInt32, includeNexthops: Bool) throws -> KernelView {
        try state.withLock { s in
            if let m = s.readFailure { throw KernelAccessError(m) }
            var v = s.view
            v.routes = v.routes.filter { $0.table == table }
            if !includeNexthops { v.nexthops = [] }
            return v
        }
    }

    public func apply(_ ops: [KernelOperation]) throws -> [KernelWriteError?] {
        state.withLock { s in
            ops.map { op -> KernelWriteError? in
                s.writes.append(op)
                let dst: IPPrefix?
                switch op {
                case .addRoute(let r), .replaceRoute(let r), .deleteRoute(let r): dst = r.destination
                default: dst = nil
                }
                if let d = dst, let e = s.failures[d] {
                    return KernelWriteError(code: e, name: errnoName(e), description: "\(op.summary): \(errnoName(e))")
                }
                if case .addRoute(let r) = op, s.view.routes.contains(where: {
                    $0.destination == r.destination && $0.table == r.table
                        && effectiveMetric($0) == effectiveMetric(r.metric, r.destination.family)
                }) {
                    return KernelWriteError(code: EEXIST, name: "EEXIST", description: "\(op.summary): File exists (EEXIST)")
                }
                s.view = simulate([op], on: s.view)
                return nil
            }
        }
    }

    public func supportsNexthopObjects() -> Bool { state.withLock { $0.nexthopSupport } }
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
