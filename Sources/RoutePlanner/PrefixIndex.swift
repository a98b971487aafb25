import Model

/// Prefixes with values, answering "which stored prefixes overlap this one" without a full scan:
/// ancestors by at most 129 hash lookups, descendants by a binary search in the sorted prefixes.
struct PrefixIndex<Value> {
    /// Prefix → its position in `sorted`.
    private var slot: [IPPrefix: Int] = [:]
    /// The distinct prefixes, ascending.
    private var sorted: [IPPrefix] = []
    /// The values of `sorted[k]` are `values[start[k] ..< start[k + 1]]`, in the order they were given
    /// (one flat array instead of an array per prefix).
    private var start: [Int] = []
    private var values: [Value] = []
    /// The prefix lengths present, per family, ascending: ancestors are looked up only at these
    /// (a handful) instead of at every length up to the query's (65 hash lookups for a /64).
    private var lengthsV4: [Int] = []
    private var lengthsV6: [Int] = []

    init(_ items: some Sequence<(IPPrefix, Value)>) {
        let items = Array(items)
        let order = items.indices.sorted { a, b in items[a].0 != items[b].0 ? items[a].0 < items[b].0 : a < b }
        values.reserveCapacity(items.count)
        for i in order {
            if sorted.last != items[i].0 {
                sorted.append(items[i].0)
                start.append(values.count)
            }
            values.append(items[i].1)
        }
        start.append(values.count)
        slot.reserveCapacity(sorted.count)
        for (k, p) in sorted.enumerated() { slot[p] = k }
        var v4 = Set<Int>(), v6 = Set<Int>()
        for p in sorted { if p.family == .v4 { v4.insert(p.length) } else { v6.insert(p.length) } }
        lengthsV4 = v4.sorted()
        lengthsV6 = v6.sorted()
    }

    var isEmpty: Bool { sorted.isEmpty }

    /// Every stored (prefix, value) whose prefix equals, contains or lies inside `prefix`.
    func overlapping(_ prefix: IPPrefix) -> [(IPPrefix, Value)] {
        var out: [(IPPrefix, Value)] = []
        forEachOverlapping(prefix) { out.append(($0, $1)) }
        return out
    }

    /// `overlapping`, without building an array: calls `body` with each (prefix, value), ancestors first.
    func forEachOverlapping(_ prefix: IPPrefix, _ body: (IPPrefix, Value) -> Void) {
        for length in prefix.family == .v4 ? lengthsV4 : lengthsV6 {
            if length > prefix.length { break }
            guard let a = IPPrefix(address: prefix.address, length: length), let k = slot[a] else { continue }
            for i in start[k]..<start[k + 1] { body(a, values[i]) }
        }
        var k = lowerBound(prefix)
        while k < sorted.count, prefix.contains(sorted[k].address) {
            let p = sorted[k]
            if p.length > prefix.length {
                for i in start[k]..<start[k + 1] { body(p, values[i]) }
            }
            k += 1
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
