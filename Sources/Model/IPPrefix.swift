/// A CIDR prefix such as `10.0.0.0/24` or `2001:db8::/48`.
///
/// The stored address is always the network address (host bits cleared), so two spellings of one
/// network compare equal. Parsing is strict about the length but, like Neutron, accepts host bits
/// in the text only through `init(lenient:)`.
///
/// ```swift
/// let p = IPPrefix("10.0.0.0/24")!
/// p.contains(IPAddress("10.0.0.5")!)        // true
/// p.overlaps(IPPrefix("10.0.0.0/16")!)      // true
/// ```
public struct IPPrefix: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let address: IPAddress
    public let length: Int

    /// A prefix from an address and a length; host bits are cleared. Nil when the length does not fit the family.
    public init?(address: IPAddress, length: Int) {
        guard length >= 0, length <= address.bitWidth else { return nil }
        self.address = address.masked(to: length)
        self.length = length
    }

    /// Parses `address/length`; a bare address is a host prefix (/32 or /128).
    /// Text with host bits set (`10.0.0.5/24`) is rejected: use `init(lenient:)` for that.
    public init?(_ text: some StringProtocol) {
        guard let p = IPPrefix(lenient: text), p.address == IPPrefix.parseAddress(text) else { return nil }
        self = p
    }

    /// Parses `address/length`, clearing host bits (`10.0.0.5/24` → `10.0.0.0/24`).
    public init?(lenient text: some StringProtocol) {
        guard let a = IPPrefix.parseAddress(text) else { return nil }
        let len: Int
        if let slash = text.firstIndex(of: "/") {
            let digits = text[text.index(after: slash)...]
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let l = Int(digits) else { return nil }
            len = l
        } else {
            len = a.bitWidth
        }
        self.init(address: a, length: len)
    }

    /// Parses the UTF-8 bytes of a prefix's text exactly as `init?(lenient:)` parses the text (host
    /// bits cleared), without making a String first.
    public init?(lenientUTF8 text: UnsafeRawBufferPointer) {
        var slash = -1
        for (i, b) in text.enumerated() where b == UInt8(ascii: "/") {
            slash = i
            break
        }
        guard slash >= 0 else {
            guard let a = IPAddress(utf8: text) else { return nil }
            self.init(address: a, length: a.bitWidth)
            return
        }
        guard let a = IPAddress(utf8: UnsafeRawBufferPointer(rebasing: text[0..<slash])) else { return nil }
        let digits = text.count - slash - 1
        guard digits >= 1, digits <= 3 else { return nil }
        var len = 0
        for i in (slash + 1)..<text.count {
            let b = text[i]
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            len = len * 10 + Int(b - UInt8(ascii: "0"))
        }
        self.init(address: a, length: len)
    }

    private static func parseAddress(_ text: some StringProtocol) -> IPAddress? {
        if let slash = text.firstIndex(of: "/") { return IPAddress(text[text.startIndex..<slash]) }
        return IPAddress(text)
    }

    public var family: AddressFamily { address.family }
    public var description: String { "\(address)/\(length)" }
    /// True for `0.0.0.0/0` and `::/0`.
    public var isDefault: Bool { length == 0 }

    /// True when `ip` lies inside this prefix.
    public func contains(_ ip: IPAddress) -> Bool {
        ip.family == family && ip.masked(to: length) == address
    }

    /// True when `other` is equal to or nested inside this prefix.
    public func contains(_ other: IPPrefix) -> Bool {
        other.family == family && other.length >= length && other.address.masked(to: length) == address
    }

    /// True when the two prefixes share at least one address (one contains the other).
    public func overlaps(_ other: IPPrefix) -> Bool {
        contains(other) || other.contains(self)
    }

    /// Orders by family, then network address, then length (shorter first).
    public static func < (a: IPPrefix, b: IPPrefix) -> Bool {
        if a.address != b.address { return a.address < b.address }
        return a.length < b.length
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = IPPrefix(lenient: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a CIDR prefix: \(s.prefix(64))")
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension IPPrefix {
    /// Well-known prefixes used by the planner's default policy.
    public static let loopbackV4 = IPPrefix("127.0.0.0/8")!
    public static let loopbackV6 = IPPrefix("::1/128")!
    public static let linkLocalV4 = IPPrefix("169.254.0.0/16")!
    public static let linkLocalV6 = IPPrefix("fe80::/10")!
    public static let multicastV4 = IPPrefix("224.0.0.0/4")!
    public static let multicastV6 = IPPrefix("ff00::/8")!
    public static let unspecifiedV4 = IPPrefix("0.0.0.0/32")!
    public static let unspecifiedV6 = IPPrefix("::/128")!
    public static let broadcastV4 = IPPrefix("255.255.255.255/32")!
}
