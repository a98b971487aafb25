#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The page is not JSON at all (structure broken, truncated, trailing garbage). Reported as
/// Foundation's `dataCorrupted` at the top level: "the body is not JSON".
struct JSONSyntaxError: Error {}

/// A byte-level pull tokenizer over one JSON document, for `NeutronPageDecoder`.
///
/// It accepts exactly what Foundation's `JSONDecoder` accepted before it (the differential tests
/// hold it to that): values the agent reads are checked strictly (strings: escapes, surrogate
/// pairs, UTF-8, no raw control characters), values it skips are only scanned for their structure
/// (as Foundation scans them before decoding lazily), a trailing comma after the last member or
/// element is tolerated, a byte order mark may lead, and anything but whitespace after the
/// document fails.
struct JSONCursor {
    let bytes: UnsafeRawBufferPointer
    var i: Int

    /// Nesting deeper than this is refused (no stack exhaustion on hostile input).
    static let maxDepth = 512

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        i = bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
    }

    /// The next byte after whitespace (not consumed); nil at the end.
    @inline(__always) mutating func peek() -> UInt8? {
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 } else { return b }
        }
        return nil
    }

    /// Only whitespace may follow the document.
    mutating func finish() throws {
        if peek() != nil { throw JSONSyntaxError() }
    }

    // MARK: Containers

    /// Consumes `{` if it comes next.
    mutating func beginObject() -> Bool {
        guard peek() == UInt8(ascii: "{") else { return false }
        i += 1
        return true
    }

    /// Consumes `[` if it comes next.
    mutating func beginArray() -> Bool {
        guard peek() == UInt8(ascii: "[") else { return false }
        i += 1
        return true
    }

    /// Moves to the next member of an object: returns its key's bytes (between the quotes, the
    /// cursor after the `:`), or nil after the closing `}`.
    mutating func nextKey(_ first: inout Bool) throws -> Range<Int>? {
        guard var b = peek() else { throw JSONSyntaxError() }
        if b == UInt8(ascii: "}") {
            i += 1
            return nil
        }
        if !first {
            guard b == UInt8(ascii: ",") else { throw JSONSyntaxError() }
            i += 1
            guard let c = peek() else { throw JSONSyntaxError() }
            if c == UInt8(ascii: "}") {
                i += 1
                return nil
            }
            b = c
        }
        first = false
        guard b == UInt8(ascii: "\"") else { throw JSONSyntaxError() }
        let key = try skipString()
        guard peek() == UInt8(ascii: ":") else { throw JSONSyntaxError() }
        i += 1
        return key
    }

    /// Moves to the next element of an array: true with the cursor on it, false after `]`.
    mutating func nextElement(_ first: inout Bool) throws -> Bool {
        guard let b = peek() else { throw JSONSyntaxError() }
        if b == UInt8(ascii: "]") {
            i += 1
            return false
        }
        if !first {
            guard b == UInt8(ascii: ",") else { throw JSONSyntaxError() }
            i += 1
            guard let c = peek() else { throw JSONSyntaxError() }
            if c == UInt8(ascii: "]") {
                i += 1
                return false
            }
        }
        first = false
        return true
    }

    // MARK: Scalars

    /// Consumes `null` if it comes next.
    mutating func readNull() throws -> Bool {
        guard peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// A `true` or `false` that comes next; nil (nothing consumed) for any other value.
    mutating func readBool() throws -> Bool? {
        switch peek() {
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        default: return nil
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard bytes.count - i >= n else { throw JSONSyntaxError() }
        let p = word.utf8Start
        for k in 0..<n where bytes[i + k] != p[k] { throw JSONSyntaxError() }
        i += n
    }

    /// What kind of value comes next (for error messages), without consuming it.
    mutating func kindAhead() throws -> String {
        guard let b = peek() else { throw JSONSyntaxError() }
        switch b {
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "{"): return "a dictionary"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "bool"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return "number"
        default: throw JSONSyntaxError()
        }
    }

    /// Skips a string (cursor on its `"`), checking only that it ends; returns its raw bytes' range.
    mutating func skipString() throws -> Range<Int> {
        i += 1
        let start = i
        // Fast path: the closing quote found with memchr, and no backslash before it.
        if let base = bytes.baseAddress, i < bytes.count,
           let q = memchr(base + i, Int32(UInt8(ascii: "\"")), bytes.count - i) {
            let end = base.distance(to: UnsafeRawPointer(q))
            if memchr(base + i, Int32(UInt8(ascii: "\\")), end - i) == nil {
                i = end + 1
                return start..<end
            }
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return start..<(i - 1)
            }
            i += b == UInt8(ascii: "\\") ? 2 : 1
        }
        throw JSONSyntaxError()
    }

    /// Skips one value of any kind, checking its structure only (as Foundation's scanner does
    /// before it decodes lazily: string contents and number spelling are not checked).
    mutating func skipValue(depth: Int = 0) throws {
        guard let b = peek() else { throw JSONSyntaxError() }
        switch b {
        case UInt8(ascii: "\""):
            _ = try skipString()
        case UInt8(ascii: "{"):
            guard depth < Self.maxDepth else { throw JSONSyntaxError() }
            i += 1
            var first = true
            while try nextKey(&first) != nil { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw JSONSyntaxError() }
            i += 1
            var first = true
            while try nextElement(&first) { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            i += 1
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"),
                     UInt8(ascii: "+"), UInt8(ascii: "-"):
                    i += 1
                default:
                    return
                }
            }
        default:
            throw JSONSyntaxError()
        }
    }

    /// Checks that `bytes` is one JSON document by the rules above (structure only).
    static func validate(_ bytes: UnsafeRawBufferPointer) throws {
        var c = JSONCursor(bytes)
        try c.skipValue()
        try c.finish()
    }

    // MARK: Strict strings

    /// A string value the agent reads (cursor on its `"`). Its structure was already scanned
    /// when this returns `nil`-free; a bad escape, a lone surrogate, a raw control character or
    /// invalid UTF-8 throws `StringError` (Foundation's "not valid JSON" for a decoded string).
    mutating func readString() throws -> String {
        let start = i
        let range = try skipString()
        return try Self.decodeString(bytes, range, at: start)
    }

    /// The text of the raw string bytes `range` (between the quotes), strictly.
    static func decodeString(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, at _: Int = 0) throws -> String {
        var plain = true
        for k in range {
            let b = bytes[k]
            if b < 0x20 { throw StringError() }
            if b == UInt8(ascii: "\\") { plain = false; break }
        }
        if plain {
            guard let s = String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) else { throw StringError() }
            return s
        }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var k = range.lowerBound
        func hex4(_ at: Int) throws -> UInt32 {
            guard at + 4 <= range.upperBound else { throw StringError() }
            var v: UInt32 = 0
            for j in at..<(at + 4) {
                let c = bytes[j]
                let d: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
                default: throw StringError()
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while k < range.upperBound {
            let b = bytes[k]
            if b < 0x20 { throw StringError() }
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                k += 1
                continue
            }
            guard k + 1 < range.upperBound else { throw StringError() }
            let e = bytes[k + 1]
            k += 2
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(k)
                k += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard k + 6 <= range.upperBound, bytes[k] == UInt8(ascii: "\\"), bytes[k + 1] == UInt8(ascii: "u") else { throw StringError() }
                    let low = try hex4(k + 2)
                    guard (0xDC00...0xDFFF).contains(low) else { throw StringError() }
                    k += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw StringError()
                }
                guard let u = Unicode.Scalar(scalar) else { throw StringError() }
                out.append(contentsOf: UTF8.encode(u)!)
            default:
                throw StringError()
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw StringError() }
        return s
    }

    /// A string the agent reads is not valid (bad escape, lone surrogate, control character, UTF-8).
    struct StringError: Error {}
}

/// The strings of one Neutron read, each distinct text stored once: a router's ID, the `device_id` of
/// its ports, a network's ID in every gateway, `network:router_interface`, a project ID, a `created_at`
/// all become one shared String storage (a retain instead of an allocation and a copy), looked up by the
/// raw bytes of the JSON string before any String is made.
///
/// Only plain strings (no escape) are shared; a string with an escape is decoded on its own. Probing is
/// bounded, so a crafted set of colliding strings costs table misses (fresh strings), never quadratic time.
/// Not thread-safe: one table per concurrent list.
final class StringTable {
    /// Open addressing: each slot is the upper 32 bits of the hash (a tag) and 1 + the index into
    /// `strings` (0: empty), so a probe reads one word.
    private var slots: [UInt64]
    private var strings: [String] = []
    private var mask: Int
    private let seed: UInt64

    static let maxProbes = 32
    /// Longer strings are not shared (names, descriptions): rarely repeated, and costly to hash.
    static let maxLength = 128
    /// Shorter ones neither: Swift stores up to 15 UTF-8 bytes inline in the String itself, with no
    /// allocation to share.
    static let minLength = 16

    init(capacity: Int = 1024) {
        var n = 64
        while n < capacity * 2 { n <<= 1 }
        slots = Array(repeating: 0, count: n)
        mask = n - 1
        var g = SystemRandomNumberGenerator()
        seed = g.next() | 1
    }

    /// Distinct strings held.
    var count: Int { strings.count }

    /// The text of the raw JSON string bytes `range` (between the quotes) when it has no escape:
    /// the shared copy if one exists, else a new one (validated as UTF-8, raw control characters
    /// refused) that later equal strings share. nil when it has an escape (decode it instead).
    /// - Throws: `JSONCursor.StringError` for a raw control character or invalid UTF-8.
    @inline(__always)
    func intern(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws -> String? {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[range])
        let n = raw.count
        guard n >= Self.minLength, n <= Self.maxLength else { return nil }
        // One pass, eight bytes at a time: the hash, and whether any byte is a control character
        // (< 0x20) or a backslash (exact SWAR tests: no false negatives).
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var h = seed ^ UInt64(n)
        var special: UInt64 = 0
        var k = 0
        while k + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)
            let bs = w ^ (0x5C &* ones)
            special |= ((w &- 0x20 &* ones) & ~w & highs) | ((bs &- ones) & ~bs & highs)
            h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            k += 8
        }
        if k < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while k < n {
                let b = raw[k]
                if b < 0x20 || b == UInt8(ascii: "\\") { special = 1 }
                w |= UInt64(b) << shift
                shift += 8
                k += 1
            }
            h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
        }
        guard special == 0 else { return nil }
        h ^= h >> 32
        h &*= 0xBF58_476D_1CE4_E5B9
        h ^= h >> 29
        if strings.count * 2 >= mask { grow() }
        // The slot comes from the tag's bits too, so growing needs no hashing again.
        let tag = h & 0xFFFF_FFFF_0000_0000
        var i = Int(truncatingIfNeeded: h >> 32) & mask
        for _ in 0..<Self.maxProbes {
            let s = slots[i]
            if s == 0 {
                guard let text = String(validating: raw, as: UTF8.self) else { throw JSONCursor.StringError() }
                strings.append(text)
                slots[i] = tag | UInt64(strings.count)
                return text
            }
            if s & 0xFFFF_FFFF_0000_0000 == tag {
                let k = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                if Self.equal(strings[k], raw) { return strings[k] }
            }
            i = (i + 1) & mask
        }
        guard let text = String(validating: raw, as: UTF8.self) else { throw JSONCursor.StringError() }
        return text
    }

    @inline(__always)
    private static func equal(_ s: String, _ raw: UnsafeRawBufferPointer) -> Bool {
        var s = s
        return s.withUTF8 { u in
            u.count == raw.count && (u.count == 0 || memcmp(u.baseAddress!, raw.baseAddress!, u.count) == 0)
        }
    }

    /// Twice the slots; every entry moves to its place for the new mask (from its tag).
    private func grow() {
        let n = (mask + 1) * 2
        let old = slots
        slots = Array(repeating: 0, count: n)
        mask = n - 1
        for s in old where s != 0 {
            var i = Int(truncatingIfNeeded: s >> 32) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }
}
