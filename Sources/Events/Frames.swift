// AMQP 0-9-1 frames in and out: the protocol header, method / content-header / body / heartbeat frames
// and the frame-end octet. Standard library only (fuzzed by scripts/fuzz-amqp.sh).

/// The octets a client sends first: "AMQP" 0 0 9 1.
public let amqpProtocolHeader: [UInt8] = [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1]

let frameEndOctet: UInt8 = 0xCE

/// One decoded frame.
public enum Frame: Equatable, Sendable {
    case method(channel: UInt16, Method)
    case header(channel: UInt16, ContentHeader)
    case body(channel: UInt16, [UInt8])
    case heartbeat

    var channel: UInt16 {
        switch self {
        case .method(let c, _), .header(let c, _), .body(let c, _): return c
        case .heartbeat: return 0
        }
    }

    /// The frame's bytes on the wire, frame end included.
    public func encoded() -> [UInt8] {
        var payload = WireWriter()
        let type: UInt8
        switch self {
        case .method(_, let m): type = 1; m.encode(into: &payload)
        case .header(_, let h): type = 2; h.encode(into: &payload)
        case .body(_, let b): type = 3; payload.bytes = b
        case .heartbeat: type = 8
        }
        var w = WireWriter()
        w.u8(type)
        w.u16(channel)
        w.u32(UInt32(payload.bytes.count))
        w.bytes += payload.bytes
        w.u8(frameEndOctet)
        return w.bytes
    }
}

/// The properties of a message (the basic class's content header).
public struct BasicProperties: Equatable, Sendable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: FieldTable?
    public var deliveryMode: UInt8?
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    public var expiration: String?
    public var messageID: String?
    public var timestamp: UInt64?
    public var type: String?
    public var userID: String?
    public var appID: String?
    public var clusterID: String?

    public init(contentType: String? = nil, deliveryMode: UInt8? = nil, headers: FieldTable? = nil, messageID: String? = nil) {
        self.contentType = contentType
        self.deliveryMode = deliveryMode
        self.headers = headers
        self.messageID = messageID
    }
}

/// A content header frame's payload: which class, how many body bytes follow, the properties.
public struct ContentHeader: Equatable, Sendable {
    public var classID: UInt16
    public var bodySize: UInt64
    public var properties: BasicProperties

    public init(classID: UInt16 = 60, bodySize: UInt64, properties: BasicProperties = BasicProperties()) {
        self.classID = classID
        self.bodySize = bodySize
        self.properties = properties
    }

    func encode(into w: inout WireWriter) {
        w.u16(classID)
        w.u16(0)  // weight, unused
        w.u64(bodySize)
        let p = properties
        var flags: UInt16 = 0
        let present: [Bool] = [p.contentType != nil, p.contentEncoding != nil, p.headers != nil, p.deliveryMode != nil,
                               p.priority != nil, p.correlationID != nil, p.replyTo != nil, p.expiration != nil,
                               p.messageID != nil, p.timestamp != nil, p.type != nil, p.userID != nil, p.appID != nil,
                               p.clusterID != nil]
        for (i, set) in present.enumerated() where set { flags |= 1 << UInt16(15 - i) }
        w.u16(flags)
        if let v = p.contentType { w.shortString(v) }
        if let v = p.contentEncoding { w.shortString(v) }
        if let v = p.headers { w.table(v) }
        if let v = p.deliveryMode { w.u8(v) }
        if let v = p.priority { w.u8(v) }
        if let v = p.correlationID { w.shortString(v) }
        if let v = p.replyTo { w.shortString(v) }
        if let v = p.expiration { w.shortString(v) }
        if let v = p.messageID { w.shortString(v) }
        if let v = p.timestamp { w.u64(v) }
        if let v = p.type { w.shortString(v) }
        if let v = p.userID { w.shortString(v) }
        if let v = p.appID { w.shortString(v) }
        if let v = p.clusterID { w.shortString(v) }
    }

    static func decode(_ r: inout WireReader) throws(AMQPWireError) -> ContentHeader {
        let classID = try r.u16("content header class")
        _ = try r.u16("content header weight")
        let size = try r.u64("content body size")
        // Property flags: 15 flags per short, bit 0 set means another flags short follows.
        var flagWords: [UInt16] = []
        repeat {
            flagWords.append(try r.u16("property flags"))
        } while flagWords.last! & 1 == 1 && flagWords.count < 8
        if flagWords.last! & 1 == 1 { throw .malformed("more than 8 property-flag words") }
        let flags = flagWords[0]
        if flagWords.dropFirst().contains(where: { $0 != 0 }) || flags & 0x0002 != 0 {
            throw .malformed("property flags beyond the basic class's 14 properties")
        }
        func has(_ i: Int) -> Bool { flags & (1 << UInt16(15 - i)) != 0 }
        var p = BasicProperties()
        if has(0) { p.contentType = try r.shortString("content-type") }
        if has(1) { p.contentEncoding = try r.shortString("content-encoding") }
        if has(2) { p.headers = try r.table("headers") }
        if has(3) { p.deliveryMode = try r.u8("delivery-mode") }
        if has(4) { p.priority = try r.u8("priority") }
        if has(5) { p.correlationID = try r.shortString("correlation-id") }
        if has(6) { p.replyTo = try r.shortString("reply-to") }
        if has(7) { p.expiration = try r.shortString("expiration") }
        if has(8) { p.messageID = try r.shortString("message-id") }
        if has(9) { p.timestamp = try r.u64("timestamp") }
        if has(10) { p.type = try r.shortString("type") }
        if has(11) { p.userID = try r.shortString("user-id") }
        if has(12) { p.appID = try r.shortString("app-id") }
        if has(13) { p.clusterID = try r.shortString("cluster-id") }
        try r.expectEnd("content header")
        return ContentHeader(classID: classID, bodySize: size, properties: p)
    }
}

/// Splits a byte stream into frames. Feed it whatever the socket delivered; it keeps partial frames.
///
/// `maxFrameSize` bounds a frame (header and end octet included) before its payload is buffered, so a
/// hostile length cannot make the client allocate; it is the negotiated frame_max once tuned.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    /// The largest frame accepted; frame_max as negotiated (0 = no limit, as in the protocol).
    public var maxFrameSize: UInt32

    public init(maxFrameSize: UInt32 = 131_072) {
        self.maxFrameSize = maxFrameSize
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed. Errors are fatal for the connection.
    public mutating func next() throws(AMQPWireError) -> Frame? {
        let available = buffer.count - start
        guard available >= 7 else { return nil }
        // A server that refuses the protocol answers with its own protocol header ("AMQP" + version).
        if buffer[start] == 0x41 && available >= 8 && Array(buffer[start..<start + 4]) == [0x41, 0x4D, 0x51, 0x50] {
            throw .protocolVersionRejected(Array(buffer[start..<start + 8]))
        }
        var r = WireReader(buffer[start..<start + 7])
        let type = try r.u8()
        let channel = try r.u16()
        let size = try r.u32()
        guard [1, 2, 3, 8].contains(type) else { throw .unknownFrameType(type) }
        if maxFrameSize != 0 && UInt64(size) + 8 > UInt64(maxFrameSize) {
            throw .frameTooLarge(size: size, max: maxFrameSize)
        }
        let total = 7 + Int(size) + 1
        guard available >= total else { return nil }
        let payload = buffer[(start + 7)..<(start + 7 + Int(size))]
        let end = buffer[start + total - 1]
        guard end == frameEndOctet else { throw .badFrameEnd(end) }
        start += total
        return try Self.decodePayload(type: type, channel: channel, payload: payload)
    }

    static func decodePayload(type: UInt8, channel: UInt16, payload: ArraySlice<UInt8>) throws(AMQPWireError) -> Frame {
        var r = WireReader(payload)
        switch type {
        case 1:
            return .method(channel: channel, try Method.decode(&r))
        case 2:
            return .header(channel: channel, try ContentHeader.decode(&r))
        case 3:
            return .body(channel: channel, Array(payload))
        default:
            guard channel == 0, payload.isEmpty else { throw .malformed("heartbeat frame on channel \(channel) or with a payload") }
            return .heartbeat
        }
    }
}
