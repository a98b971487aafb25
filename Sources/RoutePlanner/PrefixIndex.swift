import Model

/// Prefixes with values, answering "which stored prefixes overlap this one" without a full scan:
/// ancestors by at most 129 hash lookups, descendants by a binary search in the sorted prefixes.
struct PrefixIndex<Value> {
    private var exact: [IPPrefix: [Value]] = [:]
    private var sorted: [IPPrefix] = []
    /// The prefix lengths present, per family, ascending: ancestors are looked up only at these
    /// (a handful) instead of at every length up to the query's (65 hash lookups for a /64).
    private var lengthsV4: [Int] = []
    private var lengthsV6: [Int] = []

    init(_ items: some Sequence<(IPPrefix, Value)>) {
        for (p, v) in items { exact[p, default: []].append(v) }
        sorted = exact.keys.sorted()
        lengthsV4 = Set(sorted.filter { $0.family == .v4 }.map(\.length)).sorted()
        lengthsV6 = Set(sorted.filter { $0.family == .v6 }.map(\.length)).sorted()
    }

    var isEmpty: Bool { sorted.isEmpty }

    /// Every stored (prefix, value) whose prefix equals, contains or lies inside `prefix`.
    func overlapping(_ prefix: IPPrefix) -> [(IPPrefix, Value)] {
        var out: [(IPPrefix, Value)] = []
        for length in prefix.family == .v4 ? lengthsV4 : lengthsV6 {
            if length > prefix.length { break }
            guard let a = IPPrefix(address: prefix.address, length: length), let values = exact[a] else { continue }
            for v in values { out.append((a, v)) }
        }
        var i = lowerBound(prefix)
        while i < sorted.count, prefix.contains(sorted[i].address) {
            let p = sorted[i]
            if p.length > prefix.length, let values = exact[p] {
                for v in values { out.append((p, v)) }
            }
            i += 1
        }
        return out
    }

    /// `overlapping`, without building an array: calls `body` with each (prefix, value), ancestors first.
    func forEachOverlapping(_ prefix: IPPrefix, _ body: (IPPrefix, Value) -> Void) {
        for length in prefix.family == .v4 ? lengthsV4 : lengthsV6 {
            if length > prefix.length { break }
            guard let a = IPPrefix(address: prefix.address, length: length), let values = exact[a] else { continue }
            for v in values { body(a, v) }
        }
        var i = lowerBound(prefix)
        while i < sorted.count, prefix.contains(sorted[i].address) {
            let p = sorted[i]
            if p.length > prefix.length, let values = exact[p] {
                for v in values { body(p, v) }
            }
            i += 1
        }
    }

    private func lowerBound(_ prefix: IPPrefix) -> Int {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < prefix { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

extension AddressFamily {
    /// `0.0.0.0` or `::`.
    var unspecifiedAddress: IPAddress { self == .v4 ? IPAddress(v4: 0) : IPAddress(v6High: 0, low: 0) }
}

extension PrefixIndex: Sendable where Value: Sendable {}
