// The netlink wire format: message headers, attributes, and a bounds-checked reader.
//
// This file and the other codec files (Constants, Messages, NetlinkError) use nothing but the
// standard library and Model, so the fuzz target can compile them on their own.
#if canImport(Model)
import Model
#endif

/// Netlink's attribute/message alignment (`NLA_ALIGNTO`, `NLMSG_ALIGNTO`).
@inline(__always)
func netlinkAlign(_ n: Int) -> Int { (n + 3) & ~3 }

/// A read-only window on a byte array. Every read checks its bounds and returns nil past the end,
/// so a decoder built on it cannot over-read, whatever length fields the input claims.
struct ByteView {
    let storage: [UInt8]
    let start: Int
    let end: Int

    init(_ storage: [UInt8]) {
        self.storage = storage
        start = 0
        end = storage.count
    }

    init(storage: [UInt8], start: Int, end: Int) {
        // Clamp so that a view can never extend beyond its storage.
        let s = max(0, min(start, storage.count))
        self.storage = storage
        self.start = s
        self.end = max(s, min(end, storage.count))
    }

    var count: Int { end - start }
    var isEmpty: Bool { end == start }

    /// The sub-view `[offset, offset+length)`, or nil when it does not fit.
    func slice(_ offset: Int, _ length: Int) -> ByteView? {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else { return nil }
        return ByteView(storage: storage, start: start + offset, end: start + offset + length)
    }

    /// Everything from `offset` on, or nil when offset is past the end.
    func suffix(from offset: Int) -> ByteView? {
        guard offset >= 0, offset <= count else { return nil }
        return ByteView(storage: storage, start: start + offset, end: end)
    }

    func u8(_ offset: Int) -> UInt8? {
        guard offset >= 0, offset < count else { return nil }
        return storage[start + offset]
    }

    /// A host-order (little-endian on every Linux target this runs on) 16-bit value.
    func u16(_ offset: Int) -> UInt16? {
        guard offset >= 0, count >= 2, offset <= count - 2 else { return nil }
        let i = start + offset
        let v = UInt16(storage[i]) | UInt16(storage[i + 1]) << 8
        return UInt16(littleEndian: v)
    }

    func u32(_ offset: Int) -> UInt32? {
        guard offset >= 0, count >= 4, offset <= count - 4 else { return nil }
        let i = start + offset
        let v = UInt32(storage[i]) | UInt32(storage[i + 1]) << 8 | UInt32(storage[i + 2]) << 16 | UInt32(storage[i + 3]) << 24
        return UInt32(littleEndian: v)
    }

    func i32(_ offset: Int) -> Int32? { u32(offset).map { Int32(bitPattern: $0) } }

    /// A big-endian (network order) 32-bit value.
    func be32(_ offset: Int) -> UInt32? {
        guard offset >= 0, count >= 4, offset <= count - 4 else { return nil }
        let i = start + offset
        return UInt32(storage[i]) << 24 | UInt32(storage[i + 1]) << 16 | UInt32(storage[i + 2]) << 8 | UInt32(storage[i + 3])
    }

    func be64(_ offset: Int) -> UInt64? {
        guard let hi = be32(offset), let lo = be32(offset + 4) else { return nil }
        return UInt64(hi) << 32 | UInt64(lo)
    }

    var bytes: [UInt8] { Array(storage[start..<end]) }

    /// The view as an IP address: 4 bytes IPv4, 16 bytes IPv6, nil otherwise.
    var ipAddress: IPAddress? {
        switch count {
        case 4: return be32(0).map { IPAddress(v4: $0) }
        case 16:
            guard let h = be64(0), let l = be64(8) else { return nil }
            return IPAddress(v6High: h, low: l)
        default: return nil
        }
    }

    /// A NUL-terminated (or unterminated) string, decoded as UTF-8 with repair.
    var string: String {
        var e = end
        if let nul = storage[start..<end].firstIndex(of: 0) { e = nul }
        return String(decoding: storage[start..<e], as: UTF8.self)
    }
}

/// Why a netlink byte stream could not be decoded.
struct DecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    var reason: String
    var description: String { "malformed netlink data: \(reason)" }
    init(_ reason: String) { self.reason = reason }
}

/// The 16-byte `struct nlmsghdr` plus the message's payload.
struct NetlinkMessage {
    static let headerSize = 16
    var length: UInt32
    var type: UInt16
    var flags: UInt16
    var sequence: UInt32
    var portID: UInt32
    /// The bytes after the header, `length - 16` of them.
    var payload: ByteView
}

/// Splits one datagram into netlink messages. Each `nlmsg_len` is checked against what is really
/// there: a header shorter than 16 bytes, a length below 16 or beyond the datagram is an error.
func parseMessages(_ datagram: [UInt8]) throws(DecodeError) -> [NetlinkMessage] {
    var out: [NetlinkMessage] = []
    try forEachMessage(ByteView(datagram)) { out.append($0) }
    return out
}

func forEachMessage(_ view: ByteView, _ body: (NetlinkMessage) throws(DecodeError) -> Void) throws(DecodeError) {
    var offset = 0
    while offset < view.count {
        let remaining = view.count - offset
        guard remaining >= NetlinkMessage.headerSize, let len32 = view.u32(offset),
              let type = view.u16(offset + 4), let flags = view.u16(offset + 6),
              let seq = view.u32(offset + 8), let pid = view.u32(offset + 12) else {
            throw DecodeError("truncated message header at offset \(offset) (\(remaining) bytes left)")
        }
        let len = Int(len32)
        guard len >= NetlinkMessage.headerSize else {
            throw DecodeError("message length \(len) at offset \(offset) is shorter than its header")
        }
        guard len <= remaining, let payload = view.slice(offset + NetlinkMessage.headerSize, len - NetlinkMessage.headerSize) else {
            throw DecodeError("message length \(len) at offset \(offset) exceeds the \(remaining) bytes left")
        }
        try body(NetlinkMessage(length: len32, type: type, flags: flags, sequence: seq, portID: pid, payload: payload))
        // The last message of a datagram need not be padded.
        offset += min(netlinkAlign(len), remaining)
    }
}

/// Walks the attributes (`struct rtattr`/`nlattr`: u16 length, u16 type, value, padding to 4) of a
/// buffer. It never throws while walking: the first problem is remembered in `error` and ends the walk,
/// so a caller decodes with a plain loop and checks once at the end (the mdlayher/netlink shape).
struct AttributeDecoder {
    private let view: ByteView
    private var offset = 0
    private(set) var error: DecodeError?
    /// The current attribute's type without the nested/byte-order flag bits.
    private(set) var type: UInt16 = 0
    /// The current attribute's value (without header and padding).
    private(set) var value = ByteView([])

    init(_ view: ByteView) { self.view = view }

    /// Moves to the next attribute; false at the end or after the first error.
    mutating func next() -> Bool {
        guard error == nil, offset < view.count else { return false }
        guard let len16 = view.u16(offset), let t = view.u16(offset + 2) else {
            error = DecodeError("truncated attribute header at offset \(offset)")
            return false
        }
        let len = Int(len16)
        guard len >= 4 else {
            error = DecodeError("attribute length \(len) at offset \(offset) is shorter than its header")
            return false
        }
        guard let v = view.slice(offset + 4, len - 4) else {
            error = DecodeError("attribute type \(t & 0x3fff) length \(len) at offset \(offset) exceeds the \(view.count - offset) bytes left")
            return false
        }
        type = t & 0x3fff
        value = v
        offset = min(offset + netlinkAlign(len), view.count)
        return true
    }

    /// Records a problem with the current attribute's value (first one wins) and ends the walk.
    mutating func fail(_ reason: String) {
        if error == nil { error = DecodeError(reason) }
        offset = view.count
    }

    mutating func u32() -> UInt32 {
        guard value.count == 4, let v = value.u32(0) else {
            fail("attribute type \(type) has \(value.count) bytes, expected 4")
            return 0
        }
        return v
    }

    mutating func u8() -> UInt8 {
        guard value.count >= 1, let v = value.u8(0) else {
            fail("attribute type \(type) is empty, expected 1 byte")
            return 0
        }
        return v
    }

    mutating func ip(family: UInt8) -> IPAddress? {
        let want = family == AF.inet ? 4 : 16
        guard value.count == want, let a = value.ipAddress else {
            fail("address attribute type \(type) has \(value.count) bytes, expected \(want)")
            return nil
        }
        return a
    }

    /// Throws the first error seen, if any.
    func finish() throws(DecodeError) {
        if let error { throw error }
    }
}

/// Builds netlink messages into one growing buffer: a whole batch of requests is encoded back to back.
struct MessageBuilder {
    private(set) var bytes: [UInt8] = []
    private var messageStart = 0
    private(set) var messageCount = 0

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    var count: Int { bytes.count }

    /// Starts a message; finish it with `endMessage()`, which fills in the length.
    mutating func beginMessage(type: UInt16, flags: UInt16, sequence: UInt32, portID: UInt32 = 0) {
        messageStart = bytes.count
        append32(0)
        append16(type)
        append16(flags)
        append32(sequence)
        append32(portID)
    }

    mutating func endMessage() {
        let len = UInt32(bytes.count - messageStart)
        put32(len, at: messageStart)
        pad()
        messageCount += 1
    }

    mutating func append8(_ v: UInt8) { bytes.append(v) }

    mutating func append16(_ v: UInt16) {
        let le = v.littleEndian
        bytes.append(UInt8(truncatingIfNeeded: le))
        bytes.append(UInt8(truncatingIfNeeded: le >> 8))
    }

    mutating func append32(_ v: UInt32) {
        let le = v.littleEndian
        bytes.append(UInt8(truncatingIfNeeded: le))
        bytes.append(UInt8(truncatingIfNeeded: le >> 8))
        bytes.append(UInt8(truncatingIfNeeded: le >> 16))
        bytes.append(UInt8(truncatingIfNeeded: le >> 24))
    }

    mutating func put32(_ v: UInt32, at i: Int) {
        let le = v.littleEndian
        bytes[i] = UInt8(truncatingIfNeeded: le)
        bytes[i + 1] = UInt8(truncatingIfNeeded: le >> 8)
        bytes[i + 2] = UInt8(truncatingIfNeeded: le >> 16)
        bytes[i + 3] = UInt8(truncatingIfNeeded: le >> 24)
    }

    mutating func pad() {
        while bytes.count & 3 != 0 { bytes.append(0) }
    }

    // MARK: attributes

    mutating func attribute(_ type: UInt16, u32 v: UInt32) {
        append16(8)
        append16(type)
        append32(v)
    }

    mutating func attribute(_ type: UInt16, address a: IPAddress) {
        switch a.family {
        case .v4:
            append16(8)
            append16(type)
            let v = UInt32(truncatingIfNeeded: a.low)
            bytes.append(UInt8(truncatingIfNeeded: v >> 24))
            bytes.append(UInt8(truncatingIfNeeded: v >> 16))
            bytes.append(UInt8(truncatingIfNeeded: v >> 8))
            bytes.append(UInt8(truncatingIfNeeded: v))
        case .v6:
            append16(20)
            append16(type)
            for w in [a.high, a.low] {
                for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: w >> UInt64(s))) }
            }
        }
    }

    /// A flag attribute (no value).
    mutating func attribute(_ type: UInt16) {
        append16(4)
        append16(type)
    }

    mutating func attribute(_ type: UInt16, bytes value: [UInt8]) {
        append16(UInt16(4 + value.count))
        append16(type)
        bytes.append(contentsOf: value)
        pad()
    }
}
