@testable import Netlink
import Model

/// Bytes from hex text: `"34 00 0a"`; whitespace and `|` separators are ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        out.append(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return out
}

func encode(_ op: KernelOperation, sequence: UInt32) -> [UInt8] {
    var b = MessageBuilder()
    b.append(op, sequence: sequence)
    return b.bytes
}

func message(_ bytes: [UInt8]) throws -> NetlinkMessage {
    let all = try parseMessages(bytes)
    precondition(all.count == 1)
    return all[0]
}

// The scripted transport and the reply builders (`ScriptedTransport`, `ackMessage`, `doneMessage`,
// `routeReply`) live in TestSupport (ScriptedNetlink.swift), where the Agent's tests use them too.

func v4(_ s: String) -> IPAddress { IPAddress(s)! }
func prefix(_ s: String) -> IPPrefix { IPPrefix(s)! }
