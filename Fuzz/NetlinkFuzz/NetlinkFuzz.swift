// libFuzzer entry for the netlink decoder. Built by scripts/fuzz-netlink.sh together with the codec
// sources (Sources/Netlink/{Wire,Constants,Messages,NetlinkError}.swift) and Sources/Model, as one module.
//
// Every message of the input is decoded as every kind the agent reads, whatever its type says, so the
// fuzzer reaches each decoder with arbitrary payloads. Any trap (bounds, overflow) is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func netlinkFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let messages: [NetlinkMessage]
    do {
        messages = try parseMessages(bytes)
    } catch {
        _ = error.description
        return 0
    }
    for m in messages {
        _ = try? decodeRoute(m)
        _ = try? decodeNexthop(m)
        _ = try? decodeAddress(m)
        _ = try? decodeLink(m)
        _ = try? decodeAcknowledgement(m)
        _ = try? decodeDone(m)
        _ = try? decodeEvent(m)
        var d = AttributeDecoder(m.payload)
        while d.next() {
            _ = d.value.string
            _ = d.value.ipAddress
        }
    }
    return 0
}
