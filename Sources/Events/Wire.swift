// AMQP 0-9-1 primitive encodings: integers in network order, short and long strings, bits, field tables.
// Standard library only, so the fuzz target can compile this file on its own (scripts/fuzz-amqp.sh).

/// A malformed or unsupported piece of AMQP wire data.
public enum AMQPWireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The data ended before `what` was complete.
    case truncated(String)
    /// A frame did not end with the frame-end octet 0xCE.
    case badFrameEnd(UInt8)
    /// A frame type other than method (1), header (2), body (3) or heartbeat (8).
    case unknownFrameType(UInt8)
    /// A frame larger than the negotiated frame_max.
    case frameTooLarge(size: UInt32, max: UInt32)
    /// A method the client does not implement.
    case unknownMethod(classID: UInt16, methodID: UInt16)
    /// A field-table value type the client does not know.
    case unknownFieldType(UInt8)
    /// Something inside a frame that makes no sense (text says what).
    case malformed(String)
    /// The peer did not answer the protocol header with `connection.start` but with this protocol header.
    case protocolVersionRejected([UInt8])

    public var description: String {
        switch self {
        case .truncated(let what): return "AMQP data ended inside \(what)"
        case .badFrameEnd(let b): return "AMQP frame does not end with 0xCE (found 0x\(String(b, radix: 16)))"
        case .unknownFrameType(let t): return "unknown AMQP frame type \(t)"
        case .frameTooLarge(let size, let max): return "AMQP frame of \(size) bytes exceeds frame_max \(max)"
        case .unknownMethod(let c, let m): return "unsupported AMQP method \(c).\(m)"
        case .unknownFieldType(let t): return "unknown AMQP field-table type 0x\(String(t, radix: 16))"
        case .malformed(let text): return "malformed AMQP data: \(text)"
        case .protocolVersionRejected(let header):
            return "the broker refused AMQP 0-9-1 and offered protocol header \(header); is this a RabbitMQ AMQP port?"
        }
    }
}

/// Reads AMQP primitives from a byte slice. It can never read past its end: every read checks first.
struct WireReader {
    private let bytes: ArraySlice<UInt8>
    private(set) var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    var remaining: Int { bytes.endIndex - index }
    var isAtEnd: Bool { index >= bytes.endIndex }

    mutating func take(_ count: Int, _ what: String) throws(AMQPWireError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else { throw .truncated(what) }
        let slice = bytes[index..<(index + count)]
        index += count
        return slice
    }

    mutating func u8(_ what: String = "octet") throws(AMQPWireError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(what) }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func u16(_ what: String = "short") throws(AMQPWireError) -> UInt16 {
        let s = try take(2, what)
        return UInt16(s[s.startIndex]) << 8 | UInt16(s[s.startIndex + 1])
    }

    mutating func u32(_ what: String = "long") throws(AMQPWireError) -> UInt32 {
        let s = try take(4, what)
        var v: UInt32 = 0
        for b in s { v = v << 8 | UInt32(b) }
        return v
    }

    mutating func u64(_ what: String = "longlong") throws(AMQPWireError) -> UInt64 {
        let s = try take(8, what)
        var v: UInt64 = 0
        for b in s { v = v << 8 | UInt64(b) }
        return v
    }

    mutating func shortString(_ what: String = "short string") throws(AMQPWireError) -> String {
        let n = Int(try u8(what))
        return String(decoding: try take(n, what), as: UTF8.self)
    }

    mutating func longBytes(_ what: String = "long string") throws(AMQPWireError) -> [UInt8] {
        let n = Int(try u32(what))
        return Array(try take(n, what))
    }

    mutating func longString(_ what: String = "long string") throws(AMQPWireError) -> String {
        String(decoding: try longBytes(what), as: UTF8.self)
    }

    mutating func table(_ what: String = "field table", depth: Int = 0) throws(AMQPWireError) -> FieldTable {
        let n = Int(try u32(what))
        var inner = WireReader(try take(n, what))
        var table = FieldTable()
        while !inner.isAtEnd {
            let key = try inner.shortString("\(what) key")
            table[key] = try inner.fieldValue(depth: depth + 1)
        }
        return table
    }

    mutating func fieldValue(depth: Int) throws(AMQPWireError) -> FieldValue {
        // Nesting is bounded so a hostile peer cannot exhaust the stack.
        guard depth <= 32 else { throw .malformed("field tables nested deeper than 32") }
        let type = try u8("field type")
        switch type {
        case UInt8(ascii: "t"): return .bool(try u8("boolean") != 0)
        case UInt8(ascii: "b"): return .int8(Int8(bitPattern: try u8("int8")))
        case UInt8(ascii: "B"): return .uint8(try u8("uint8"))
        case UInt8(ascii: "s"): return .int16(Int16(bitPattern: try u16("int16")))
        case UInt8(ascii: "u"): return .uint16(try u16("uint16"))
        case UInt8(ascii: "I"): return .int32(Int32(bitPattern: try u32("int32")))
        case UInt8(ascii: "i"): return .uint32(try u32("uint32"))
        case UInt8(ascii: "l"): return .int64(Int64(bitPattern: try u64("int64")))
        case UInt8(ascii: "f"): return .float(Float(bitPattern: try u32("float")))
        case UInt8(ascii: "d"): return .double(Double(bitPattern: try u64("double")))
        case UInt8(ascii: "D"):
            let scale = try u8("decimal scale")
            return .decimal(scale: scale, value: try u32("decimal value"))
        case UInt8(ascii: "S"): return .longString(try longString("string value"))
        case UInt8(ascii: "x"): return .bytes(try longBytes("byte array"))
        case UInt8(ascii: "T"): return .timestamp(try u64("timestamp"))
        case UInt8(ascii: "F"): return .table(try table("nested table", depth: depth))
        case UInt8(ascii: "V"): return .void
        case UInt8(ascii: "A"):
            let n = Int(try u32("array"))
            var inner = WireReader(try take(n, "array"))
            var values: [FieldValue] = []
            while !inner.isAtEnd { values.append(try inner.fieldValue(depth: depth + 1)) }
            return .array(values)
        default:
            throw .unknownFieldType(type)
        }
    }

    /// Fails when bytes are left over after a method's or header's last field.
    func expectEnd(_ what: String) throws(AMQPWireError) {
        if !isAtEnd { throw .malformed("\(remaining) unexpected trailing bytes after \(what)") }
    }
}

/// Appends AMQP primitives to a byte array.
struct WireWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xff)) }
    mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((v >> UInt32(s)) & 0xff)) } }
    mutating func u64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(s)) & 0xff)) } }

    /// A short string; longer than 255 bytes is a programming error caught before encoding (see `Method.validate`).
    mutating func shortString(_ s: String) {
        let utf8 = Array(s.utf8.prefix(255))
        u8(UInt8(utf8.count))
        bytes += utf8
    }

    mutating func longBytes(_ b: [UInt8]) { u32(UInt32(b.count)); bytes += b }
    mutating func longString(_ s: String) { longBytes(Array(s.utf8)) }

    /// Packs consecutive bit fields into one octet, first bit in the lowest position.
    mutating func bits(_ flags: Bool...) {
        var v: UInt8 = 0
        for (i, f) in flags.enumerated() where f { v |= 1 << UInt8(i) }
        u8(v)
    }

    mutating func table(_ t: FieldTable) {
        var inner = WireWriter()
        for (key, value) in t.entries {
            inner.shortString(key)
            inner.fieldValue(value)
        }
        longBytes(inner.bytes)
    }

    mutating func fieldValue(_ v: FieldValue) {
        switch v {
        case .bool(let b): u8(UInt8(ascii: "t")); u8(b ? 1 : 0)
        case .int8(let i): u8(UInt8(ascii: "b")); u8(UInt8(bitPattern: i))
        case .uint8(let i): u8(UInt8(ascii: "B")); u8(i)
        case .int16(let i): u8(UInt8(ascii: "s")); u16(UInt16(bitPattern: i))
        case .uint16(let i): u8(UInt8(ascii: "u")); u16(i)
        case .int32(let i): u8(UInt8(ascii: "I")); u32(UInt32(bitPattern: i))
        case .uint32(let i): u8(UInt8(ascii: "i")); u32(i)
        case .int64(let i): u8(UInt8(ascii: "l")); u64(UInt64(bitPattern: i))
        case .float(let f): u8(UInt8(ascii: "f")); u32(f.bitPattern)
        case .double(let d): u8(UInt8(ascii: "d")); u64(d.bitPattern)
        case .decimal(let scale, let value): u8(UInt8(ascii: "D")); u8(scale); u32(value)
        case .longString(let s): u8(UInt8(ascii: "S")); longString(s)
        case .bytes(let b): u8(UInt8(ascii: "x")); longBytes(b)
        case .timestamp(let t): u8(UInt8(ascii: "T")); u64(t)
        case .table(let t): u8(UInt8(ascii: "F")); table(t)
        case .void: u8(UInt8(ascii: "V"))
        case .array(let values):
            var inner = WireWriter()
            for value in values { inner.fieldValue(value) }
            u8(UInt8(ascii: "A")); longBytes(inner.bytes)
        }
    }
}

/// A value in an AMQP field table, with the type letters RabbitMQ uses (which differ from the 0-9-1 text for
/// `s` = int16 and `l` = int64, as RabbitMQ documents in its errata).
public indirect enum FieldValue: Equatable, Sendable {
    case bool(Bool)
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case float(Float)
    case double(Double)
    case decimal(scale: UInt8, value: UInt32)
    case longString(String)
    case bytes([UInt8])
    case timestamp(UInt64)
    case table(FieldTable)
    case array([FieldValue])
    case void
}

/// An AMQP field table: keys in the order they were written (the wire order), unique.
public struct FieldTable: Equatable, Sendable, ExpressibleByDictionaryLiteral {
    public private(set) var entries: [(key: String, value: FieldValue)] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, FieldValue)...) {
        for (k, v) in elements { self[k] = v }
    }

    public subscript(key: String) -> FieldValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }

    public static func == (a: FieldTable, b: FieldTable) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
