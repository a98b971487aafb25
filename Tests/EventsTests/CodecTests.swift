import Testing
@testable import Events

/// Hex text ("01 0002 ce") to bytes; spaces and newlines are ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { $0.isHexDigit })
    precondition(digits.count % 2 == 0, "odd hex digit count")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// The bytes of a short string: length octet then UTF-8.
func short(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }

/// Decodes exactly one frame from `bytes`, requiring nothing left over.
func decodeOne(_ bytes: [UInt8], maxFrameSize: UInt32 = 131_072) throws -> Frame {
    var d = FrameDecoder(maxFrameSize: maxFrameSize)
    d.append(bytes)
    let frame = try #require(try d.next())
    #expect(try d.next() == nil)
    return frame
}

@Suite("AMQP frame codec against exact bytes")
struct CodecTests {
    @Test func protocolHeaderIsAMQP0091() {
        #expect(amqpProtocolHeader == [0x41, 0x4D, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01])
    }

    @Test func heartbeatFrameIsTypeEightOnChannelZeroWithEmptyPayload() throws {
        let bytes = hex("08 0000 00000000 ce")
        #expect(Frame.heartbeat.encoded() == bytes)
        #expect(try decodeOne(bytes) == .heartbeat)
    }

    @Test func tuneOkEncodesChannelMaxFrameMaxAndHeartbeat() throws {
        let frame = Frame.method(channel: 0, .connectionTuneOk(TuneParameters(channelMax: 16, frameMax: 131_072, heartbeat: 10)))
        let bytes = hex("01 0000 0000000c  000a 001f  0010 00020000 000a  ce")
        #expect(frame.encoded() == bytes)
        #expect(try decodeOne(bytes) == frame)
    }

    @Test func connectionStartFromTheBrokerDecodesPropertiesAndMechanisms() throws {
        // server-properties: {"product": S "RabbitMQ", "capabilities": F {"consumer_cancel_notify": t 1}}
        let caps = short("consumer_cancel_notify") + hex("74 01")
        let props = short("product") + hex("53 00000008") + Array("RabbitMQ".utf8)
            + short("capabilities") + hex("46") + be32(caps.count) + caps
        let payload = hex("000a 000a 00 09") + be32(props.count) + props
            + be32(14) + Array("AMQPLAIN PLAIN".utf8) + be32(5) + Array("en_US".utf8)
        let bytes = hex("01 0000") + be32(payload.count) + payload + [0xce]
        guard case .method(0, .connectionStart(0, 9, let table, let mechanisms, let locales)) = try decodeOne(bytes) else {
            Issue.record("not a connection.start"); return
        }
        #expect(table["product"] == .longString("RabbitMQ"))
        #expect(table["capabilities"] == .table(["consumer_cancel_notify": .bool(true)]))
        #expect(mechanisms == "AMQPLAIN PLAIN")
        #expect(locales == "en_US")
    }

    @Test func startOkCarriesPlainResponseAsNulUserNulPassword() throws {
        let m = Method.connectionStartOk(clientProperties: [:], mechanism: "PLAIN", response: [0] + Array("u".utf8) + [0] + Array("p".utf8), locale: "en_US")
        let payload = hex("000a 000b 00000000") + short("PLAIN") + hex("00000004 00 75 00 70") + short("en_US")
        #expect(Frame.method(channel: 0, m).encoded() == hex("01 0000") + be32(payload.count) + payload + [0xce])
    }

    @Test func connectionOpenNamesTheVhostWithEmptyCapabilitiesAndInsistOff() {
        let payload = hex("000a 0028") + short("/") + hex("00 00")
        #expect(Frame.method(channel: 0, .connectionOpen(virtualHost: "/")).encoded() == hex("01 0000") + be32(payload.count) + payload + [0xce])
    }

    @Test func passiveExchangeDeclarePacksPassiveAsTheLowestBit() throws {
        let frame = Frame.method(channel: 1, .exchangeDeclare(ExchangeDeclare(exchange: "neutron", passive: true)))
        let payload = hex("0028 000a 0000") + short("neutron") + short("topic") + hex("01") + hex("00000000")
        let bytes = hex("01 0001") + be32(payload.count) + payload + [0xce]
        #expect(frame.encoded() == bytes)
        #expect(try decodeOne(bytes) == frame)
    }

    @Test func durableQueueDeclareCarriesExpiresAndMaxLengthAsLongLongs() throws {
        let q = QueueDeclare(queue: "q.one", durable: true, arguments: ["x-expires": .int64(1000), "x-max-length": .int64(10)])
        let table = short("x-expires") + hex("6c 00000000000003e8") + short("x-max-length") + hex("6c 000000000000000a")
        let payload = hex("0032 000a 0000") + short("q.one") + hex("02") + be32(table.count) + table
        let bytes = hex("01 0001") + be32(payload.count) + payload + [0xce]
        #expect(Frame.method(channel: 1, .queueDeclare(q)).encoded() == bytes)
        #expect(try decodeOne(bytes) == .method(channel: 1, .queueDeclare(q)))
    }

    @Test func queueBindAndConsumeAndAckLayouts() {
        let bind = hex("0032 0014 0000") + short("q") + short("neutron") + short("notifications.info") + hex("00 00000000")
        #expect(Frame.method(channel: 1, .queueBind(QueueBind(queue: "q", exchange: "neutron", routingKey: "notifications.info"))).encoded()
                == hex("01 0001") + be32(bind.count) + bind + [0xce])
        let consume = hex("003c 0014 0000") + short("q") + short("") + hex("00 00000000")
        #expect(Frame.method(channel: 1, .basicConsume(BasicConsume(queue: "q"))).encoded() == hex("01 0001") + be32(consume.count) + consume + [0xce])
        #expect(Frame.method(channel: 1, .basicAck(deliveryTag: 42, multiple: false)).encoded()
                == hex("01 0001 0000000d 003c 0050 000000000000002a 00 ce"))
        #expect(Frame.method(channel: 1, .basicQos(prefetchSize: 0, prefetchCount: 200, global: false)).encoded()
                == hex("01 0001 0000000b 003c 000a 00000000 00c8 00 ce"))
    }

    @Test func deliverDecodesTagRedeliveredExchangeAndRoutingKey() throws {
        let payload = hex("003c 003c") + short("ctag-1") + hex("0000000000000007 01") + short("neutron") + short("notifications.info")
        let frame = try decodeOne(hex("01 0001") + be32(payload.count) + payload + [0xce])
        #expect(frame == .method(channel: 1, .basicDeliver(BasicDeliver(consumerTag: "ctag-1", deliveryTag: 7, redelivered: true,
                                                                          exchange: "neutron", routingKey: "notifications.info"))))
    }

    @Test func contentHeaderFlagsFollowThePropertyOrder() throws {
        // content-type (bit 15) and delivery-mode (bit 12): flags 0x9000.
        let header = ContentHeader(bodySize: 300, properties: BasicProperties(contentType: "application/json", deliveryMode: 2))
        let payload = hex("003c 0000 000000000000012c 9000") + short("application/json") + hex("02")
        let bytes = hex("02 0001") + be32(payload.count) + payload + [0xce]
        #expect(Frame.header(channel: 1, header).encoded() == bytes)
        #expect(try decodeOne(bytes) == .header(channel: 1, header))
    }

    @Test func everyPropertyRoundTrips() throws {
        var p = BasicProperties(contentType: "a", deliveryMode: 1, headers: ["k": .longString("v")], messageID: "m")
        p.contentEncoding = "utf-8"; p.priority = 3; p.correlationID = "c"; p.replyTo = "r"; p.expiration = "60000"
        p.timestamp = 1_700_000_000; p.type = "t"; p.userID = "u"; p.appID = "app"; p.clusterID = "cl"
        let frame = Frame.header(channel: 1, ContentHeader(bodySize: 1, properties: p))
        #expect(try decodeOne(frame.encoded()) == frame)
    }

    @Test func fieldTableDecodesEveryTypeRabbitMQUses() throws {
        let entries: [(String, [UInt8], FieldValue)] = [
            ("t", hex("74 01"), .bool(true)),
            ("b", hex("62 ff"), .int8(-1)),
            ("B", hex("42 ff"), .uint8(255)),
            ("s", hex("73 fffe"), .int16(-2)),
            ("u", hex("75 fffe"), .uint16(65534)),
            ("I", hex("49 fffffffd"), .int32(-3)),
            ("i", hex("69 fffffffd"), .uint32(4_294_967_293)),
            ("l", hex("6c fffffffffffffffc"), .int64(-4)),
            ("f", hex("66 3fc00000"), .float(1.5)),
            ("d", hex("64 3ff8000000000000"), .double(1.5)),
            ("D", hex("44 02 000004d2"), .decimal(scale: 2, value: 1234)),
            ("S", hex("53 00000002 6869"), .longString("hi")),
            ("x", hex("78 00000002 0102"), .bytes([1, 2])),
            ("T", hex("54 0000000065000000"), .timestamp(0x6500_0000)),
            ("V", hex("56"), .void),
            ("A", hex("41 00000004 74 00 62 05"), .array([.bool(false), .int8(5)])),
        ]
        for (key, bytes, value) in entries {
            var r = WireReader(short(key) + bytes)
            #expect(try r.shortString() == key)
            #expect(try r.fieldValue(depth: 0) == value, "type \(key)")
            #expect(r.isAtEnd)
            var w = WireWriter()
            w.fieldValue(value)
            #expect(w.bytes == bytes, "encoding of \(key)")
        }
        // A nested table {"k": V}.
        var r = WireReader(hex("46 00000003 01 6b 56"))
        #expect(try r.fieldValue(depth: 0) == .table(["k": .void]))
    }

    @Test func unknownFieldTypeAndDeepNestingAreErrorsNotCrashes() {
        var r = WireReader(hex("5a 00"))
        #expect(throws: AMQPWireError.unknownFieldType(0x5a)) { try r.fieldValue(depth: 0) }
        // 40 nested arrays, each holding the next.
        var bytes: [UInt8] = hex("56")
        for _ in 0..<40 { bytes = hex("41") + be32(bytes.count) + bytes }
        var deep = WireReader(bytes)
        #expect(throws: AMQPWireError.malformed("field tables nested deeper than 32")) { try deep.fieldValue(depth: 0) }
    }

    @Test func decoderWaitsForTheWholeFrameWhenFedByteByByte() throws {
        let frame = Frame.method(channel: 1, .basicAck(deliveryTag: 9, multiple: true))
        var d = FrameDecoder()
        for b in frame.encoded().dropLast() {
            d.append([b])
            #expect(try d.next() == nil)
        }
        d.append([0xce])
        #expect(try d.next() == frame)
    }

    @Test func twoFramesInOneReadComeOutInOrder() throws {
        var d = FrameDecoder()
        d.append(Frame.heartbeat.encoded() + Frame.body(channel: 1, [1, 2, 3]).encoded())
        #expect(try d.next() == .heartbeat)
        #expect(try d.next() == .body(channel: 1, [1, 2, 3]))
        #expect(try d.next() == nil)
    }

    @Test func aWrongFrameEndIsAFrameError() {
        var d = FrameDecoder()
        d.append(hex("08 0000 00000000 cd"))
        #expect(throws: AMQPWireError.badFrameEnd(0xcd)) { try d.next() }
    }

    @Test func anUnknownFrameTypeIsAnError() {
        var d = FrameDecoder()
        d.append(hex("04 0000 00000000 ce"))
        #expect(throws: AMQPWireError.unknownFrameType(4)) { try d.next() }
    }

    @Test func aFrameAboveFrameMaxIsRefusedBeforeItsPayloadArrives() {
        var d = FrameDecoder(maxFrameSize: 4096)
        d.append(hex("03 0001 7fffffff"))
        #expect(throws: AMQPWireError.frameTooLarge(size: 0x7fff_ffff, max: 4096)) { try d.next() }
    }

    @Test func aBrokerRefusingTheVersionAnswersWithItsProtocolHeader() {
        var d = FrameDecoder()
        d.append(hex("414d5150 00 00 09 01"))
        #expect(throws: AMQPWireError.protocolVersionRejected(hex("414d5150 00 00 09 01"))) { try d.next() }
    }

    @Test func truncatedMethodArgumentsAndTrailingBytesAreErrors() {
        var d = FrameDecoder()
        d.append(hex("01 0001 00000006 003c 0050 0000 ce"))  // basic.ack with a 2-byte delivery tag
        #expect(throws: AMQPWireError.truncated("basic.ack")) { try d.next() }
        var e = FrameDecoder()
        e.append(hex("01 0001 00000005 003c 000b 00 ce"))  // qos-ok with one extra byte
        #expect(throws: AMQPWireError.malformed("1 unexpected trailing bytes after basic.qos-ok")) { try e.next() }
    }

    @Test func anUnsupportedMethodIsNamed() {
        var d = FrameDecoder()
        d.append(hex("01 0001 00000004 005a 000a ce"))  // tx.select
        #expect(throws: AMQPWireError.unknownMethod(classID: 90, methodID: 10)) { try d.next() }
    }

    @Test func serverCloseCarriesCodeTextAndTheFailingMethod() throws {
        let payload = hex("0014 0028 0194") + short("NOT_FOUND - no exchange 'neutron' in vhost '/'") + hex("0028 000a")
        let frame = try decodeOne(hex("01 0001") + be32(payload.count) + payload + [0xce])
        #expect(frame == .method(channel: 1, .channelClose(CloseReason(replyCode: 404, replyText: "NOT_FOUND - no exchange 'neutron' in vhost '/'",
                                                                        classID: 40, methodID: 10))))
    }
}

func be32(_ n: Int) -> [UInt8] { [UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] }
