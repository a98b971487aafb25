/// An IPv4 or IPv6 address, stored as a 128-bit value.
///
/// IPv4 addresses keep their 32 bits in the low word of `low`; the family is explicit, so
/// `10.0.0.1` and `::a00:1` are different values.
///
/// ```swift
/// let gw = IPAddress("203.0.113.10")!
/// gw.family            // .v4
/// gw.description       // "203.0.113.10"
/// IPAddress("2001:db8::1")!.bytes.count   // 16
/// ```
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let family: AddressFamily
    /// High 64 bits (always 0 for IPv4).
    public let high: UInt64
    /// Low 64 bits (IPv4: the address in the low 32 bits).
    public let low: UInt64

    public init(v4 value: UInt32) {
        family = .v4
        high = 0
        low = UInt64(value)
    }

    public init(v6High high: UInt64, low: UInt64) {
        family = .v6
        self.high = high
        self.low = low
    }

    /// The address from network-order bytes: 4 for IPv4, 16 for IPv6; nil for any other length.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        switch bytes.count {
        case 4:
            var v: UInt32 = 0
            for b in bytes { v = v << 8 | UInt32(b) }
            self.init(v4: v)
        case 16:
            var h: UInt64 = 0, l: UInt64 = 0
            for (i, b) in bytes.enumerated() {
                if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
            }
            self.init(v6High: h, low: l)
        default:
            return nil
        }
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (including `::` and an embedded IPv4 tail).
    /// Zone suffixes (`%eth0`) and leading zeros in IPv4 octets are rejected.
    public init?(_ text: some StringProtocol) {
        var copy = String(text)
        guard let v = copy.withUTF8({ IPAddress.parse($0) }) else { return nil }
        self = v
    }

    /// Parses the UTF-8 bytes of an address's text exactly as `init?(_:)` parses the text, without
    /// making a String first (the Neutron decoder reads addresses straight from a page's bytes).
    public init?(utf8 text: UnsafeRawBufferPointer) {
        guard let v = IPAddress.parse(UnsafeBufferPointer(start: text.baseAddress?.assumingMemoryBound(to: UInt8.self), count: text.count)) else {
            return nil
        }
        self = v
    }

    /// Network-order bytes: 4 for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch family {
        case .v4:
            let v = UInt32(truncatingIfNeeded: low)
            return [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
        case .v6:
            var out = [UInt8](repeating: 0, count: 16)
            for i in 0..<8 {
                out[i] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(i)))
                out[8 + i] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(i)))
            }
            return out
        }
    }

    /// The number of bits in an address of this family (32 or 128).
    public var bitWidth: Int { family.bitWidth }

    public var description: String {
        switch family {
        case .v4:
            let b = bytes
            return "\(b[0]).\(b[1]).\(b[2]).\(b[3])"
        case .v6:
            return IPAddress.formatV6(high: high, low: low)
        }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.family != b.family { return a.family == .v4 }
        if a.high != b.high { return a.high < b.high }
        return a.low < b.low
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = IPAddress(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an IP address: \(s.prefix(64))")
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    // MARK: - Bit access used by prefixes

    /// The address with every bit after the first `length` bits cleared.
    public func masked(to length: Int) -> IPAddress {
        let width = bitWidth
        let n = max(0, min(length, width))
        switch family {
        case .v4:
            let mask: UInt64 = n == 0 ? 0 : (UInt64(0xffff_ffff) << UInt64(32 - n)) & 0xffff_ffff
            return IPAddress(v4: UInt32(truncatingIfNeeded: low & mask))
        case .v6:
            let hm: UInt64 = n >= 64 ? ~0 : (n == 0 ? 0 : ~0 << UInt64(64 - n))
            let lm: UInt64 = n <= 64 ? 0 : (n == 128 ? ~0 : ~0 << UInt64(128 - n))
            return IPAddress(v6High: high & hm, low: low & lm)
        }
    }

    // MARK: - Parsing (on UTF-8 bytes: addresses are parsed by the hundred thousand per cycle)

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        if b.contains(UInt8(ascii: ":")) {
            guard let (h, l) = parseV6(b) else { return nil }
            return IPAddress(v6High: h, low: l)
        }
        guard let v = parseV4(b[...]) else { return nil }
        return IPAddress(v4: v)
    }

    /// Four decimal octets, no leading zeros, nothing else.
    static func parseV4(_ b: Slice<UnsafeBufferPointer<UInt8>>) -> UInt32? {
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, parts = 0
        var first: UInt8 = 0
        for c in b {
            if c == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | octet
                parts += 1
                octet = 0
                digits = 0
            } else if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                if digits == 0 { first = c } else if first == UInt8(ascii: "0") { return nil }
                digits += 1
                octet = octet * 10 + UInt32(c - UInt8(ascii: "0"))
                guard digits <= 3, octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        return value << 8 | octet
    }

    /// Up to eight hex groups with at most one `::`, optionally ending in an IPv4 address.
    static func parseV6(_ b: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64)? {
        let n = b.count
        if n < 2 || n > 45 { return nil }
        var groups = (UInt64(0), UInt64(0))  // packed later
        // Eight groups on the stack (an array here would be one allocation per parsed address).
        var storage: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &storage) { raw -> (UInt64, UInt64)? in
        let words = raw.bindMemory(to: UInt16.self)
        var count = 0
        var gap = -1
        var i = 0
        if b[0] == UInt8(ascii: ":") {
            guard b[1] == UInt8(ascii: ":") else { return nil }
            gap = 0
            i = 2
            if i == n { return (0, 0) }
        }
        while i < n {
            // One group: hex digits up to ':' or the end, or an IPv4 tail.
            var j = i
            var value: UInt32 = 0
            while j < n, let d = hexValue(b[j]) {
                value = value << 4 | UInt32(d)
                j += 1
                if j - i > 4 { break }
            }
            if j < n && b[j] == UInt8(ascii: ".") {
                // IPv4 tail: must be the last thing and fit in two groups.
                guard count <= 6, let v4 = parseV4(b[i..<n]) else { return nil }
                words[count] = UInt16(v4 >> 16)
                words[count + 1] = UInt16(v4 & 0xffff)
                count += 2
                i = n
                break
            }
            let len = j - i
            guard len >= 1, len <= 4, count < 8 else { return nil }
            words[count] = UInt16(value)
            count += 1
            if j == n { i = n; break }
            guard b[j] == UInt8(ascii: ":") else { return nil }
            if j + 1 < n && b[j + 1] == UInt8(ascii: ":") {
                guard gap < 0 else { return nil }
                gap = count
                i = j + 2
                if i == n { break }
            } else {
                i = j + 1
                guard i < n else { return nil }  // a single trailing ':'
            }
        }
        if gap >= 0 {
            guard count <= 7 else { return nil }
            let tail = count - gap
            for k in 0..<tail { words[7 - k] = words[count - 1 - k] }
            for k in gap..<(8 - tail) { words[k] = 0 }
        } else {
            guard count == 8 else { return nil }
        }
        for k in 0..<4 { groups.0 = groups.0 << 16 | UInt64(words[k]) }
        for k in 4..<8 { groups.1 = groups.1 << 16 | UInt64(words[k]) }
        return groups
        }
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// RFC 5952 text: lower case, the longest run (≥ 2) of zero groups compressed, the first one on a tie.
    static func formatV6(high: UInt64, low: UInt64) -> String {
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(i)))
            groups[4 + i] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(i)))
        }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
    }
}

/// An address family, with the kernel's `AF_*` numbers.
public enum AddressFamily: UInt8, Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    case v4 = 2   // AF_INET
    case v6 = 10  // AF_INET6

    public var bitWidth: Int { self == .v4 ? 32 : 128 }
    public var description: String { self == .v4 ? "IPv4" : "IPv6" }

    public static func < (a: AddressFamily, b: AddressFamily) -> Bool { a.rawValue < b.rawValue }
}
