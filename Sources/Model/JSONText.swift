/// `s` as a JSON string literal, quotes included: `"`, `\` and control characters escaped (`\n`, `\r`, `\t`,
/// else `\u00XX`). The one JSON string writer of the modules that write JSON by hand (log lines, Keystone
/// request bodies), so none of them needs Foundation's serializer.
public func jsonQuoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}
