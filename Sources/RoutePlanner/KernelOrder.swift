import Model

/// A total order on kernel routes for deterministic choices.
func routeOrder(_ a: KernelRoute, _ b: KernelRoute) -> Bool {
    if a.destination != b.destination { return a.destination < b.destination }
    if a.table != b.table { return a.table < b.table }
    if effectiveMetric(a) != effectiveMetric(b) { return effectiveMetric(a) < effectiveMetric(b) }
    if a.proto != b.proto { return a.proto < b.proto }
    if a.type != b.type { return a.type < b.type }
    if a.nexthopID != b.nexthopID { return lessOptional(a.nexthopID, b.nexthopID) }
    if a.gateway != b.gateway { return lessOptional(a.gateway, b.gateway) }
    if a.outputInterface != b.outputInterface { return lessOptional(a.outputInterface, b.outputInterface) }
    return lessOptional(a.metric, b.metric)
}

/// The metric the kernel uses for a route: IPv4 defaults to 0, IPv6 to 1024 (`IP6_RT_PRIO_USER`).
public func effectiveMetric(_ r: KernelRoute) -> UInt32 {
    effectiveMetric(r.metric, r.destination.family)
}

public func effectiveMetric(_ metric: UInt32?, _ family: AddressFamily) -> UInt32 {
    if let m = metric, m != 0 { return m }
    return family == .v6 ? 1024 : 0
}
