import Model

/// Which candidate a router's subnet is: a router has each subnet once.
struct CandidateKey: Hashable, Sendable, Comparable {
    var routerID: String
    var subnetID: String

    static func < (a: CandidateKey, b: CandidateKey) -> Bool { (a.routerID, a.subnetID) < (b.routerID, b.subnetID) }
}

/// Distinct prefixes kept sorted (`IPPrefix`'s order) in chunks of a few hundred, so that an insert or a remove
/// moves at most one chunk instead of the whole array, and "every stored prefix inside P" is a contiguous run
/// from P's lower bound (a prefix sorts before everything it contains, and those follow it without a gap).
struct SortedPrefixSet: Sendable {
    private var chunks: [[IPPrefix]] = []
    private static let chunkSize = 256

    init(sorted: [IPPrefix]) {
        var i = 0
        while i < sorted.count {
            let end = min(i + Self.chunkSize, sorted.count)
            chunks.append(Array(sorted[i..<end]))
            i = end
        }
    }

    /// The chunk whose last element is the first ≥ p (the last chunk when p is beyond every element).
    private func chunk(for p: IPPrefix) -> Int {
        var lo = 0, hi = chunks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if chunks[mid][chunks[mid].count - 1] < p { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private static func lowerBound(_ xs: [IPPrefix], _ p: IPPrefix) -> Int {
        var lo = 0, hi = xs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if xs[mid] < p { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    mutating func insert(_ p: IPPrefix) {
        if chunks.isEmpty { chunks = [[p]]; return }
        let c = min(chunk(for: p), chunks.count - 1)
        let i = Self.lowerBound(chunks[c], p)
        if i < chunks[c].count && chunks[c][i] == p { return }
        chunks[c].insert(p, at: i)
        if chunks[c].count > 2 * Self.chunkSize {
            let tail = Array(chunks[c][Self.chunkSize...])
            chunks[c].removeSubrange(Self.chunkSize...)
            chunks.insert(tail, at: c + 1)
        }
    }

    mutating func remove(_ p: IPPrefix) {
        let c = chunk(for: p)
        guard c < chunks.count else { return }
        let i = Self.lowerBound(chunks[c], p)
        guard i < chunks[c].count && chunks[c][i] == p else { return }
        chunks[c].remove(at: i)
        if chunks[c].isEmpty { chunks.remove(at: c) }
    }

    /// Calls `body` with every stored prefix equal to or inside `p`, in order.
    func forEach(inside p: IPPrefix, _ body: (IPPrefix) -> Void) {
        var c = chunk(for: p)
        guard c < chunks.count else { return }
        var i = Self.lowerBound(chunks[c], p)
        while c < chunks.count {
            let xs = chunks[c]
            while i < xs.count {
                guard p.contains(xs[i]) else { return }
                body(xs[i])
                i += 1
            }
            c += 1
            i = 0
        }
    }

    var count: Int { chunks.reduce(0) { $0 + $1.count } }
}

/// The candidates by prefix, for the incremental planner's two questions: the shortest candidate prefix that
/// contains a prefix (its overlap root), and every candidate inside a prefix.
struct CandidateIndex: Sendable {
    private(set) var byPrefix: [IPPrefix: [CandidateKey]] = [:]
    private var sorted = SortedPrefixSet(sorted: [])
    /// How many distinct prefixes of each length are stored: IPv4 lengths at 0...32, IPv6 at 33...161.
    private var lengthCount = [Int](repeating: 0, count: 33 + 129)

    init(_ items: [(IPPrefix, CandidateKey)]) {
        for (p, k) in items { byPrefix[p, default: []].append(k) }
        for p in byPrefix.keys { lengthCount[Self.slot(p.family, p.length)] += 1 }
        sorted = SortedPrefixSet(sorted: byPrefix.keys.sorted())
    }

    private static func slot(_ family: AddressFamily, _ length: Int) -> Int { family == .v4 ? length : 33 + length }

    mutating func insert(_ p: IPPrefix, _ key: CandidateKey) {
        if byPrefix[p] == nil {
            sorted.insert(p)
            lengthCount[Self.slot(p.family, p.length)] += 1
        }
        byPrefix[p, default: []].append(key)
    }

    mutating func remove(_ p: IPPrefix, _ key: CandidateKey) {
        guard var keys = byPrefix[p], let i = keys.firstIndex(of: key) else { return }
        keys.remove(at: i)
        if keys.isEmpty {
            byPrefix[p] = nil
            sorted.remove(p)
            lengthCount[Self.slot(p.family, p.length)] -= 1
        } else {
            byPrefix[p] = keys
        }
    }

    /// The shortest stored prefix that equals or contains `p`, if any.
    func shortestContaining(_ p: IPPrefix) -> IPPrefix? {
        for length in 0...p.length where lengthCount[Self.slot(p.family, length)] > 0 {
            if let a = IPPrefix(address: p.address, length: length), byPrefix[a] != nil { return a }
        }
        return nil
    }

    /// Every stored prefix equal to or inside `p`, in order.
    func prefixes(inside p: IPPrefix) -> [IPPrefix] {
        var out: [IPPrefix] = []
        sorted.forEach(inside: p) { out.append($0) }
        return out
    }
}
