/// The part of YAML that configuration files use — block mappings and sequences, flow `[…]` and `{…}`
/// (so JSON too), plain, single- and double-quoted scalars, `|` and `>` block scalars, comments — without
/// Foundation, so the self-contained binary carries no ICU (Yams needs full Foundation: +40 MB).
/// Anchors, aliases, tags and several documents in one file are refused with a message naming the line.
/// Scalars stay text: the caller decides what a value means (`isNull`, `bool`).
public indirect enum YAMLNode: Sendable, Equatable {
    /// A scalar's text; `plain` is false when it was quoted or a block scalar (`"null"` is a string).
    case scalar(String, plain: Bool)
    /// A mapping, in the file's order.
    case mapping([YAMLEntry])
    case sequence([YAMLNode])

    /// Parses one document; nil when it holds nothing (only comments or blank lines).
    public static func parse(_ text: String) throws(YAMLError) -> YAMLNode? {
        var p = BlockParser(text)
        return try p.document()
    }

    /// `~`, `null`, `Null`, `NULL` or nothing, unquoted.
    public var isNull: Bool {
        if case .scalar(let s, true) = self { return ["", "~", "null", "Null", "NULL"].contains(s) }
        return false
    }

    /// `true`/`false` (YAML 1.2 core schema spellings), unquoted; nil for anything else.
    public var bool: Bool? {
        guard case .scalar(let s, true) = self else { return nil }
        switch s {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: return nil
        }
    }

    /// A scalar's text (nil for collections and null).
    public var string: String? {
        if isNull { return nil }
        if case .scalar(let s, _) = self { return s }
        return nil
    }
}

public struct YAMLEntry: Sendable, Equatable {
    public let key: String
    public let value: YAMLNode
    public init(key: String, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

private struct Line {
    let number: Int
    let indent: Int
    /// Without indentation, trailing spaces and comment.
    let text: Substring
    let raw: Substring

    /// `---` or `...` at the start of a line: the end of the document's content.
    var isDocumentMarker: Bool { indent == 0 && (text == "---" || text == "..." || text.hasPrefix("--- ")) }
}

private struct BlockParser {
    let raw: [Substring]
    var pos = 0   // index into raw of the next line to look at

    init(_ text: String) {
        // "\r\n" is one Character in Swift: split on both line ends.
        raw = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }

    /// The next line with content, skipping blanks and comments (pos is not moved).
    mutating func peek() throws(YAMLError) -> Line? {
        var i = pos
        while i < raw.count {
            let r = raw[i]
            let body = r.drop { $0 == " " }
            if body.first == "\t" { throw YAMLError(line: i + 1, message: "a tab in the indentation; indent with spaces") }
            let text = try stripComment(body, line: i + 1)
            if !text.isEmpty { return Line(number: i + 1, indent: r.count - body.count, text: text, raw: r) }
            i += 1
            pos = i
        }
        return nil
    }

    mutating func document() throws(YAMLError) -> YAMLNode? {
        if let first = try peek(), first.indent == 0, first.text == "---" || first.text.hasPrefix("--- ") {
            let rest = first.text.dropFirst(3).drop { $0 == " " }
            if !rest.isEmpty { throw YAMLError(line: first.number, message: "content after '---'; start it on the next line") }
            pos += 1
        }
        guard let first = try peek() else { return nil }
        let node = try block(indent: first.indent)
        if let extra = try peek() {
            if extra.indent == 0, extra.text == "..." {
                pos += 1
                if let more = try peek() { throw YAMLError(line: more.number, message: "content after the end of the document") }
            } else if extra.indent == 0, extra.text.hasPrefix("---") {
                throw YAMLError(line: extra.number, message: "a second document; a configuration file holds one")
            } else {
                throw YAMLError(line: extra.number, message: "unexpected indentation or content")
            }
        }
        return node
    }

    /// The node whose first line is at `indent`.
    mutating func block(indent: Int) throws(YAMLError) -> YAMLNode {
        guard let line = try peek() else { return .scalar("", plain: true) }
        if isSequenceItem(line.text) { return try sequence(indent: indent) }
        if try splitKey(line.text, line: line.number) != nil { return try mapping(indent: indent) }
        pos = line.number
        return try value(line.text, line: line, parentIndent: indent - 1)
    }

    func isSequenceItem(_ t: Substring) -> Bool { t == "-" || t.hasPrefix("- ") }

    mutating func sequence(indent: Int) throws(YAMLError) -> YAMLNode {
        var items: [YAMLNode] = []
        while let line = try peek(), line.indent == indent, !line.isDocumentMarker, isSequenceItem(line.text) {
            let rest = line.text.dropFirst(1).drop { $0 == " " }
            pos = line.number
            if rest.isEmpty {
                if let next = try peek(), next.indent > indent {
                    items.append(try block(indent: next.indent))
                } else {
                    items.append(.scalar("", plain: true))
                }
            } else {
                // "- key: value" or "- - x": the item is a block that starts at the column of `rest`.
                let column = line.indent + (line.text.count - rest.count)
                let isKey = try splitKey(rest, line: line.number) != nil
                if isSequenceItem(rest) || isKey {
                    items.append(try inlineBlock(rest, line: line, column: column))
                } else {
                    items.append(try value(rest, line: line, parentIndent: indent))
                }
            }
        }
        if let line = try peek(), line.indent > indent {
            throw YAMLError(line: line.number, message: "unexpected indentation")
        }
        return .sequence(items)
    }

    /// A block that starts in the middle of a line (after "- "): parsed as if that text began its own line
    /// at `column`, the following lines continuing it.
    mutating func inlineBlock(_ text: Substring, line: Line, column: Int) throws(YAMLError) -> YAMLNode {
        var sub = BlockParser(rawLines: raw, replacing: line.number - 1, with: String(repeating: " ", count: column) + text)
        sub.pos = line.number - 1
        let node = try sub.block(indent: column)
        pos = sub.pos
        return node
    }

    init(rawLines: [Substring], replacing index: Int, with text: String) {
        var r = rawLines
        r[index] = Substring(text)
        raw = r
    }

    mutating func mapping(indent: Int) throws(YAMLError) -> YAMLNode {
        var entries: [YAMLEntry] = []
        var seen = Set<String>()
        while let line = try peek(), line.indent == indent, !line.isDocumentMarker {
            guard let (key, rest) = try splitKey(line.text, line: line.number) else {
                throw YAMLError(line: line.number, message: "expected 'key: value' in a mapping")
            }
            guard seen.insert(key).inserted else { throw YAMLError(line: line.number, message: "duplicate key '\(key)'") }
            pos = line.number
            let node: YAMLNode
            if rest.isEmpty {
                if let next = try peek(), next.indent > indent || (next.indent == indent && isSequenceItem(next.text)) {
                    node = try block(indent: next.indent)
                } else {
                    node = .scalar("", plain: true)
                }
            } else {
                node = try value(rest, line: line, parentIndent: indent)
            }
            entries.append(YAMLEntry(key: key, value: node))
        }
        if let line = try peek(), line.indent > indent {
            throw YAMLError(line: line.number, message: "unexpected indentation")
        }
        return .mapping(entries)
    }

    /// A value that starts on `line` (pos is already past it): scalar, flow collection or block scalar.
    mutating func value(_ text: Substring, line: Line, parentIndent: Int) throws(YAMLError) -> YAMLNode {
        switch text.first {
        case "&", "*", "!":
            throw YAMLError(line: line.number, message: "anchors, aliases and tags are not supported in this file")
        case "|", ">":
            return try blockScalar(text, line: line, parentIndent: parentIndent)
        case "[", "{":
            var source = String(text)
            var flow = FlowParser(source, line: line.number)
            while !(try flow.isBalanced()) {
                guard pos < raw.count else { throw YAMLError(line: line.number, message: "unclosed '\(text.first!)'") }
                source += " " + (try stripComment(raw[pos].drop { $0 == " " || $0 == "\t" }, line: pos + 1))
                pos += 1
                flow = FlowParser(source, line: line.number)
            }
            let node = try flow.node()
            try flow.end()
            return node
        default:
            var flow = FlowParser(String(text), line: line.number, block: true)
            let node = try flow.node()
            try flow.end()
            if let next = try peek(), next.indent > line.indent {
                throw YAMLError(line: next.number, message: "unexpected indentation (a value continued on the next line is not supported; put it on one line or quote it)")
            }
            return node
        }
    }

    mutating func blockScalar(_ header: Substring, line: Line, parentIndent: Int) throws(YAMLError) -> YAMLNode {
        let folded = header.first == ">"
        let chomp = header.dropFirst()
        guard chomp.isEmpty || chomp == "-" || chomp == "+" else {
            throw YAMLError(line: line.number, message: "unsupported block scalar header '\(header)'")
        }
        var lines: [Substring] = []
        var indent: Int?
        while pos < raw.count {
            let r = raw[pos]
            let body = r.drop { $0 == " " }
            if body.isEmpty { lines.append(""); pos += 1; continue }
            let n = r.count - body.count
            if n <= parentIndent { break }
            if indent == nil { indent = n }
            if n < indent! { break }
            lines.append(r.dropFirst(indent!))
            pos += 1
        }
        var trailing = 0
        while let last = lines.last, last.isEmpty { lines.removeLast(); trailing += 1 }
        var text = ""
        for (i, l) in lines.enumerated() {
            if !folded {
                text += (i > 0 ? "\n" : "") + l
            } else if l.isEmpty {
                text += "\n"   // an empty line in folded text is a line break
            } else {
                text += (i > 0 && !lines[i - 1].isEmpty ? " " : "") + l
            }
        }
        switch chomp {
        case "-": break
        case "+": text += String(repeating: "\n", count: trailing + (lines.isEmpty ? 0 : 1))
        default: if !lines.isEmpty { text += "\n" }
        }
        return .scalar(text, plain: false)
    }

    /// `key: rest` (rest without leading spaces), or nil when the line is not a mapping entry.
    func splitKey(_ t: Substring, line: Int) throws(YAMLError) -> (String, Substring)? {
        var flow = FlowParser(String(t), line: line, block: true)
        guard let key = try flow.mappingKey() else { return nil }
        return (key, Substring(flow.rest))
    }
}

/// Drops a comment: `#` at the start or after a space, outside quotes.
private func stripComment(_ s: Substring, line: Int) throws(YAMLError) -> Substring {
    var quote: Character?
    var prev: Character = " "
    var i = s.startIndex
    while i < s.endIndex {
        let c = s[i]
        if let q = quote {
            if c == "\\" && q == "\"" {
                i = s.index(after: i)
                if i == s.endIndex { break }
            } else if c == q {
                quote = nil
            }
        } else if c == "#" && (prev == " " || prev == "\t") {
            return trimTrailing(s[s.startIndex..<i])
        } else if (c == "\"" || c == "'") && (prev == " " || prev == "[" || prev == "{" || prev == "," || prev == ":" || i == s.startIndex) {
            quote = c
        }
        prev = c
        i = s.index(after: i)
    }
    return trimTrailing(s)
}

private func trimTrailing(_ s: Substring) -> Substring {
    var e = s.endIndex
    while e > s.startIndex, s[s.index(before: e)] == " " || s[s.index(before: e)] == "\t" { e = s.index(before: e) }
    return s[s.startIndex..<e]
}

/// Scalars and flow collections on one (joined) line. `block` means plain scalars may hold `,[]{}`.
private struct FlowParser {
    let chars: [Character]
    var i = 0
    let line: Int
    let block: Bool

    init(_ text: String, line: Int, block: Bool = false) {
        chars = Array(text)
        self.line = line
        self.block = block
    }

    var rest: String { String(chars[min(i, chars.count)...]) }

    func fail(_ m: String) -> YAMLError { YAMLError(line: line, message: m) }

    mutating func skipSpaces() { while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 } }

    /// Whether the brackets close (outside quotes).
    func isBalanced() throws(YAMLError) -> Bool {
        var depth = 0
        var quote: Character?
        var j = 0
        while j < chars.count {
            let c = chars[j]
            if let q = quote {
                if c == "\\" && q == "\"" { j += 1 } else if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "[" || c == "{" {
                depth += 1
            } else if c == "]" || c == "}" {
                depth -= 1
                if depth < 0 { throw fail("unbalanced '\(c)'") }
            }
            j += 1
        }
        return depth == 0 && quote == nil
    }

    mutating func end() throws(YAMLError) {
        skipSpaces()
        if i < chars.count { throw fail("unexpected '\(String(chars[i...]))' after a value") }
    }

    mutating func node() throws(YAMLError) -> YAMLNode {
        skipSpaces()
        guard i < chars.count else { return .scalar("", plain: true) }
        switch chars[i] {
        case "[": return try flowSequence()
        case "{": return try flowMapping()
        case "\"": return .scalar(try doubleQuoted(), plain: false)
        case "'": return .scalar(try singleQuoted(), plain: false)
        case "&", "*", "!": throw fail("anchors, aliases and tags are not supported in this file")
        default: return .scalar(plain(stopAtColon: false), plain: true)
        }
    }

    /// A plain scalar up to the end (block) or to `,]}` (flow); `stopAtColon` for keys.
    mutating func plain(stopAtColon: Bool) -> String {
        let start = i
        while i < chars.count {
            let c = chars[i]
            if !block && (c == "," || c == "]" || c == "}") { break }
            if c == ":" && (stopAtColon || !block) {
                let next = i + 1 < chars.count ? chars[i + 1] : " "
                if next == " " || next == "\t" || (!block && (next == "," || next == "]" || next == "}")) { break }
            }
            i += 1
        }
        var s = String(chars[start..<i])
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return s
    }

    /// In a block line: `key:` followed by a space or the end; the key plain or quoted.
    mutating func mappingKey() throws(YAMLError) -> String? {
        skipSpaces()
        guard i < chars.count else { return nil }
        let key: String
        switch chars[i] {
        case "\"": guard let k = try? doubleQuoted() else { return nil }; key = k
        case "'": guard let k = try? singleQuoted() else { return nil }; key = k
        case "[", "{", "#": return nil
        case "-" where i + 1 < chars.count && chars[i + 1] == " ": return nil
        case "?": throw fail("complex keys ('?') are not supported")
        default:
            key = plain(stopAtColon: true)
            if key.isEmpty { return nil }
        }
        skipSpaces()
        guard i < chars.count, chars[i] == ":" else { return nil }
        if i + 1 < chars.count, chars[i + 1] != " ", chars[i + 1] != "\t" { return nil }
        i += 1
        skipSpaces()
        return key
    }

    mutating func flowSequence() throws(YAMLError) -> YAMLNode {
        i += 1
        var items: [YAMLNode] = []
        var inner = FlowParser(copying: self, block: false)
        while true {
            inner.skipSpaces()
            guard inner.i < inner.chars.count else { throw fail("unclosed '['") }
            if inner.chars[inner.i] == "]" { inner.i += 1; break }
            items.append(try inner.flowItem())
            inner.skipSpaces()
            guard inner.i < inner.chars.count else { throw fail("unclosed '['") }
            if inner.chars[inner.i] == "," { inner.i += 1; continue }
            if inner.chars[inner.i] == "]" { inner.i += 1; break }
            throw fail("expected ',' or ']' in a flow sequence")
        }
        i = inner.i
        return .sequence(items)
    }

    init(copying p: FlowParser, block: Bool) {
        chars = p.chars
        i = p.i
        line = p.line
        self.block = block
    }

    /// An item of a flow sequence: a value, or a one-entry mapping `key: value`.
    mutating func flowItem() throws(YAMLError) -> YAMLNode {
        let first = try node()
        skipSpaces()
        if i < chars.count, chars[i] == ":" {
            guard case .scalar(let key, _) = first else { throw fail("a collection as a mapping key") }
            i += 1
            return .mapping([YAMLEntry(key: key, value: try node())])
        }
        return first
    }

    mutating func flowMapping() throws(YAMLError) -> YAMLNode {
        i += 1
        var p = FlowParser(copying: self, block: false)
        var entries: [YAMLEntry] = []
        var seen = Set<String>()
        while true {
            p.skipSpaces()
            guard p.i < p.chars.count else { throw fail("unclosed '{'") }
            if p.chars[p.i] == "}" { p.i += 1; break }
            let keyNode = try p.node()
            guard case .scalar(let key, _) = keyNode else { throw fail("a collection as a mapping key") }
            p.skipSpaces()
            var value = YAMLNode.scalar("", plain: true)
            if p.i < p.chars.count, p.chars[p.i] == ":" {
                p.i += 1
                value = try p.node()
            }
            guard seen.insert(key).inserted else { throw fail("duplicate key '\(key)'") }
            entries.append(YAMLEntry(key: key, value: value))
            p.skipSpaces()
            guard p.i < p.chars.count else { throw fail("unclosed '{'") }
            if p.chars[p.i] == "," { p.i += 1; continue }
            if p.chars[p.i] == "}" { p.i += 1; break }
            throw fail("expected ',' or '}' in a flow mapping")
        }
        i = p.i
        return .mapping(entries)
    }

    mutating func singleQuoted() throws(YAMLError) -> String {
        i += 1
        var out = ""
        while i < chars.count {
            if chars[i] == "'" {
                if i + 1 < chars.count, chars[i + 1] == "'" { out.append("'"); i += 2; continue }
                i += 1
                return out
            }
            out.append(chars[i])
            i += 1
        }
        throw fail("unclosed single quote")
    }

    mutating func doubleQuoted() throws(YAMLError) -> String {
        i += 1
        var out = ""
        while i < chars.count {
            let c = chars[i]
            if c == "\"" { i += 1; return out }
            if c == "\\" {
                i += 1
                guard i < chars.count else { break }
                switch chars[i] {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "0": out.append("\0")
                case "\\": out.append("\\")
                case "\"": out.append("\"")
                case "/": out.append("/")
                case " ": out.append(" ")
                case "x", "u", "U":
                    let n = chars[i] == "x" ? 2 : chars[i] == "u" ? 4 : 8
                    guard i + n < chars.count, let v = UInt32(String(chars[(i + 1)...(i + n)]), radix: 16),
                          let u = Unicode.Scalar(v) else { throw fail("bad escape in a double-quoted string") }
                    out.unicodeScalars.append(u)
                    i += n
                default: throw fail("unknown escape '\\\(chars[i])' in a double-quoted string")
                }
                i += 1
                continue
            }
            out.append(c)
            i += 1
        }
        throw fail("unclosed double quote")
    }
}
