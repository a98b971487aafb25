// libFuzzer entry for the AMQP frame decoder. Built by scripts/fuzz-amqp.sh together with the codec and the
// connection state machine (Sources/Events/{Wire,Frames,Methods,ConnectionStateMachine}.swift) and the
// notification envelope (OsloNotification.swift), as one module.
//
// The input is read as a broker's byte stream after the protocol header: decoded frame by frame (in chunks
// whose sizes the input itself picks, so partial frames are exercised) and fed to an open connection's
// state machine; the same bytes go through the oslo envelope decoder and the event_type peek.
// Any trap (bounds, overflow, precondition) is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func amqpFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var decoder = FrameDecoder(maxFrameSize: 4096 + UInt32(bytes.first ?? 0) * 512)
    var machine = ConnectionStateMachine(config: ConnectionConfiguration(username: "u", password: "p", heartbeat: 5, maxBodySize: 1 << 16))
    _ = machine.start(now: 0)
    _ = machine.received(.method(channel: 0, .connectionStart(versionMajor: 0, versionMinor: 9, serverProperties: [:], mechanisms: "PLAIN", locales: "")), now: 0)
    _ = machine.received(.method(channel: 0, .connectionTune(TuneParameters(channelMax: 0, frameMax: 4096, heartbeat: 5))), now: 0)
    _ = machine.received(.method(channel: 0, .connectionOpenOk), now: 0)
    _ = machine.received(.method(channel: 1, .channelOpenOk), now: 0)
    var offset = 0
    var now: UInt64 = 0
    let chunk = max(1, Int(bytes.last ?? 1))
    outer: while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        decoder.append(bytes[offset..<end])
        offset = end
        while true {
            do {
                guard let frame = try decoder.next() else { break }
                // Whatever decodes must encode and decode back to itself.
                var again = FrameDecoder(maxFrameSize: 0)
                again.append(frame.encoded())
                if case .some(let copy) = try? again.next(), copy != frame, !containsNaN(frame) {
                    fatalError("frame does not round-trip: \(frame) vs \(copy)")
                }
                now += 1_000_000_000
                _ = machine.received(frame, now: now)
                _ = machine.tick(now: now)
                _ = machine.call(.basicQos(prefetchSize: 0, prefetchCount: 1, global: false), now: now)
            } catch {
                _ = error.description
                _ = machine.decodingFailed(error)
                break outer
            }
        }
    }
    _ = OsloEnvelope.peekEventType(bytes)
    _ = try? OsloEnvelope.decode(bytes)
    return 0
}

/// NaN floats in field tables never compare equal; such frames are exempt from the round-trip check.
private func containsNaN(_ frame: Frame) -> Bool {
    String(describing: frame).contains("nan")
}
