/// The part of YAML 1.2 that configuration files use, without Foundation, so the self-contained binary carries
/// no ICU (Yams needs full Foundation: +40 MB):
/// - block mappings and sequences (also a sequence at its key's indentation, `- key: v` items), keys plain or
///   quoted; flow `[…]` and `{…}` over several lines, with trailing commas (so JSON too);
/// - plain scalars (continued on more-indented lines, folded), single- and double-quoted scalars (all YAML
///   escapes, over several lines), block scalars `|` `>` with chomping `-`/`+` and an indentation digit;
/// - comments (a `#` at the start or after whitespace, outside quotes), `%YAML`, `---`, `...`, CRLF, a BOM.
/// Refused with a one-line message naming the line: anchors, aliases, tags, merge keys (`<<`), complex keys
/// (`?`), several documents, duplicate keys, tabs in indentation, control characters, nesting deeper than 64.
/// Scalars stay text: the caller decides what a value means (`isNull`, `bool`; YAML 1.1 spellings such as
/// `yes`/`no`/`on` are text, not booleans). Differences from PyYAML (YAML 1.1), which openstacksdk uses: a tab
/// may separate tokens (YAML 1.2), a duplicate key is an error where PyYAML silently keeps the last, `? ` keys
/// are refused, and so is `?` inside an unquoted value in a flow collection (YAML 1.2 reads it, PyYAML refuses).
/// DifferentialTests compares with PyYAML.
public indirect enum YAMLNode: Sendable, Equatable {
    /// A scalar's text; `plain` is false when it was quoted or a block scalar (`"null"` is a string).
    case scalar(String, plain: Bool)
    /// A mapping, in the file's order.
    case mapping([YAMLEntry])
    case sequence([YAMLNode])

    /// Parses one document; nil when it holds nothing (only comments or blank lines).
    public static func parse(_ text: String) throws(YAMLError) -> YAMLNode? {
        var p = try BlockParser(text)
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

/// How deep collections may nest (block and flow together): far beyond any configuration file, and small
/// enough that the recursive parser cannot exhaust a thread's stack.
let maxNesting = 64

private struct Line {
    let number: Int
    let indent: Int
    /// Without indentation, trailing spaces and comment.
    let text: Substring
    /// Whether a comment followed the content (a plain value cannot continue on the next line then).
    let hadComment: Bool

    /// `---` or `...` at the start of a line: the end of the document's content.
    var isDocumentMarker: Bool { indent == 0 && (text == "---" || text == "..." || text.hasPrefix("--- ")) }
}

private func isBlank(_ c: Character?) -> Bool { c == nil || c == " " || c == "\t" }

private struct BlockParser {
    let raw: [Substring]
    /// Whether the last line ended with a line break (a block scalar's last line keeps it then).
    let endsWithBreak: Bool
    /// A line replaced by the text after "- " shifted to its column (see inlineBlock).
    var override: (index: Int, text: Substring)?
    var pos = 0   // index into raw of the next line to look at
    var depth = 0

    init(_ text: String) throws(YAMLError) {
        var t = Substring(text)
        if t.first == "\u{FEFF}" { t = t.dropFirst() }   // a UTF-8 byte order mark
        // "\r\n" is one Character in Swift: split on both line ends.
        var lines = t.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
        endsWithBreak = lines.count > 1 && lines.last!.isEmpty
        if endsWithBreak { lines.removeLast() }
        for (n, l) in lines.enumerated() {
            for u in l.unicodeScalars {
                let v = u.value
                if (v < 0x20 && v != 0x09) || v == 0x7F || (v >= 0x80 && v < 0xA0) || v == 0xFEFF || v == 0xFFFE || v == 0xFFFF {
                    throw YAMLError(line: n + 1, message: "control character U+\(String(v, radix: 16, uppercase: true)) is not allowed in YAML; remove it")
                }
                if v == 0x2028 || v == 0x2029 {
                    // YAML 1.1 parsers (PyYAML) read these (and U+0085) as line breaks, YAML 1.2 as text.
                    throw YAMLError(line: n + 1, message: "U+\(String(v, radix: 16, uppercase: true)) (a Unicode line separator) is read differently by YAML 1.1 and 1.2; remove it or write it as an escape (\\L, \\P) in double quotes")
                }
            }
            // The parser works on Characters: a combining mark after a space or an indicator would hide it.
            for c in l where c.unicodeScalars.count > 1 && c != "\r\n" {
                if let f = c.unicodeScalars.first, f.isASCII, " \t-?:,[]{}#&*!|>'\"%@`\\".unicodeScalars.contains(f) {
                    throw YAMLError(line: n + 1, message: "a combining character right after '\(Character(f))'; remove it or write it as a \\u escape in double quotes")
                }
            }
        }
        raw = lines
    }

    func rawLine(_ i: Int) -> Substring {
        if let o = override, o.index == i { return o.text }
        return raw[i]
    }

    /// The next line with content, skipping blanks and comments (pos is not moved).
    mutating func peek() throws(YAMLError) -> Line? {
        var i = pos
        while i < raw.count {
            let r = rawLine(i)
            let body = r.drop { $0 == " " }
            if body.first == "\t" { throw YAMLError(line: i + 1, message: "a tab in the indentation; indent with spaces") }
            var scan = Scan()
            let text = scan.strip(body)
            if !text.isEmpty {
                return Line(number: i + 1, indent: r.count - body.count, text: text, hadComment: scan.comment)
            }
            i += 1
            pos = i
        }
        return nil
    }

    mutating func document() throws(YAMLError) -> YAMLNode? {
        while let first = try peek(), first.indent == 0, first.text.first == "%" {
            let version = first.text.dropFirst(5).drop { $0 == " " }.split(separator: ".", omittingEmptySubsequences: false)
            guard first.text.hasPrefix("%YAML "), version.count == 2, version.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else {
                throw YAMLError(line: first.number, message: "the directive '\(first.text)' is not supported; remove it")
            }
            pos += 1
            guard let next = try peek(), next.indent == 0, next.text.hasPrefix("---") else {
                throw YAMLError(line: first.number, message: "a '%YAML' directive must be followed by '---'")
            }
        }
        if let first = try peek(), first.indent == 0, first.text == "---" || first.text.hasPrefix("--- ") {
            let rest = first.text.dropFirst(3).drop { $0 == " " }
            let restIsKey = try splitKey(rest, line: first.number) != nil
            if rest.first == "|" || rest.first == ">" || isSequenceItem(rest) || restIsKey {
                throw YAMLError(line: first.number, message: "a block collection or block scalar after '---' on the same line; start it on the next line")
            }
            if rest.isEmpty {
                pos += 1
            } else {
                // `--- {a: 1}` or `--- text`: the node starts after the marker.
                override = (first.number - 1, Substring(String(repeating: " ", count: first.text.count - rest.count) + rest))
            }
        }
        guard let first = try peek() else { return nil }
        if first.indent == 0, first.text == "..." {
            pos += 1
            if let more = try peek() { throw YAMLError(line: more.number, message: "content after the end of the document ('...')") }
            return nil
        }
        let node = try block(indent: first.indent)
        if let extra = try peek() {
            if extra.indent == 0, extra.text == "..." {
                pos += 1
                if let more = try peek() { throw YAMLError(line: more.number, message: "content after the end of the document ('...')") }
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
        let isKey = try splitKey(line.text, line: line.number) != nil
        if isSequenceItem(line.text) || isKey {
            depth += 1
            defer { depth -= 1 }
            if depth > maxNesting { throw YAMLError(line: line.number, message: "nested more than \(maxNesting) levels deep") }
            if isSequenceItem(line.text) { return try sequence(indent: indent) }
            return try mapping(indent: indent)
        }
        pos = line.number
        return try value(line.text, line: line, parentIndent: indent - 1)
    }

    func isSequenceItem(_ t: Substring) -> Bool { t == "-" || t.hasPrefix("- ") || t.hasPrefix("-\t") }

    mutating func sequence(indent: Int) throws(YAMLError) -> YAMLNode {
        var items: [YAMLNode] = []
        while let line = try peek(), line.indent == indent, !line.isDocumentMarker, isSequenceItem(line.text) {
            let rest = line.text.dropFirst(1).drop { $0 == " " || $0 == "\t" }
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
        var sub = self
        sub.override = (line.number - 1, Substring(String(repeating: " ", count: column) + text))
        sub.pos = line.number - 1
        let node = try sub.block(indent: column)
        pos = sub.pos
        return node
    }

    mutating func mapping(indent: Int) throws(YAMLError) -> YAMLNode {
        var entries: [YAMLEntry] = []
        var seen = Set<String>()
        while let line = try peek(), line.indent == indent, !line.isDocumentMarker {
            guard let (key, rest) = try splitKey(line.text, line: line.number) else {
                throw YAMLError(line: line.number, message: "expected 'key: value' in a mapping")
            }
            if key == "<<" { throw YAMLError(line: line.number, message: "merge keys ('<<') are not supported in this file") }
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
            var scan = Scan()
            var source = String(scan.strip(text))
            if line.hadComment { scan.comment = true }   // peek() already took the comment off `text`
            while scan.flowDepth > 0 {
                guard pos < raw.count else { throw YAMLError(line: line.number, message: "unclosed '\(text.first!)'") }
                // Lines stay apart ("\n") so that keys can be checked to sit on one line and scalars fold;
                // U+0001 (refused in the input) marks a comment, which ends a plain scalar.
                source += (scan.comment ? "\u{1}\n" : "\n") + scan.strip(rawLine(pos).drop { $0 == " " || $0 == "\t" })
                pos += 1
            }
            var flow = FlowParser(source, line: line.number, depth: depth)
            let node = try flow.node()
            try flow.end()
            return node
        case "\"", "'":
            // A quoted value may continue on the next lines: line breaks fold into spaces.
            var scan = Scan()
            var source = String(scan.strip(text))
            while scan.quote != nil {
                guard pos < raw.count else { break }   // the flow parser reports the unclosed quote
                let r = rawLine(pos)
                pos += 1
                let body = r.drop { $0 == " " || $0 == "\t" }
                if !body.isEmpty, r.count - body.count <= parentIndent || (r.count == body.count && (body.hasPrefix("---") || body.hasPrefix("..."))) {
                    throw YAMLError(line: pos, message: "a quoted value continued on this line must be indented more than its key")
                }
                source += "\n" + scan.strip(body)
            }
            var flow = FlowParser(source, line: line.number, block: true, depth: depth)
            let node = try flow.node()
            try flow.end()
            return node
        default:
            var flow = FlowParser(String(text), line: line.number, block: true, depth: depth)
            guard case .scalar(var s, let plain) = try flow.node() else { throw YAMLError(line: line.number, message: "internal error") }
            try flow.end()
            if !line.hadComment { s += try plainContinuation(parentIndent: parentIndent) }
            return .scalar(s, plain: plain)
        }
    }

    /// The lines that continue a plain value (indented more than its key), folded: one line break is a
    /// space, n empty lines are n line breaks. A comment ends the value.
    mutating func plainContinuation(parentIndent: Int) throws(YAMLError) -> String {
        var out = ""
        var i = pos
        var emptyLines = 0
        while i < raw.count {
            let r = rawLine(i)
            let body = r.drop { $0 == " " }
            if body.first == "\t" { throw YAMLError(line: i + 1, message: "a tab in the indentation; indent with spaces") }
            if body.isEmpty { emptyLines += 1; i += 1; continue }
            let indent = r.count - body.count
            if indent <= parentIndent || body.first == "#" { break }
            if indent == 0, body == "---" || body == "..." || body.hasPrefix("--- ") { break }
            var scan = Scan()
            let text = scan.strip(body, inPlain: true)
            try FlowParser(String(text), line: i + 1, block: true, depth: depth).checkPlainContinuation()
            out += emptyLines == 0 ? " " : String(repeating: "\n", count: emptyLines)
            out += text
            emptyLines = 0
            i += 1
            pos = i
            if scan.comment { break }
        }
        return out
    }

    mutating func blockScalar(_ header: Substring, line: Line, parentIndent: Int) throws(YAMLError) -> YAMLNode {
        let folded = header.first == ">"
        var chomp: Character = " "
        var explicitIndent: Int?
        for c in header.dropFirst() {
            if (c == "-" || c == "+"), chomp == " " {
                chomp = c
            } else if let d = c.wholeNumberValue, d >= 1, d <= 9, c.isASCII, explicitIndent == nil {
                explicitIndent = d
            } else {
                throw YAMLError(line: line.number, message: "unsupported block scalar header '\(header)'; use |, >, |-, >+ or an indentation digit such as |2")
            }
        }
        // The content's indentation: given, or that of the first non-empty line.
        // Content at column 0 never belongs to a block scalar (as in libyaml and PyYAML).
        let parentIndent = max(parentIndent, 0)
        let base = parentIndent
        var indent: Int? = explicitIndent.map { base + $0 }
        var lines: [Substring] = []
        var lastTerminated = true
        while pos < raw.count {
            let r = rawLine(pos)
            let body = r.drop { $0 == " " }
            let n = r.count - body.count
            if body.isEmpty {
                // A blank line: empty, or content when longer than the indentation.
                pos += 1
                if let ind = indent, n > ind {
                    lines.append(r.dropFirst(ind))
                    lastTerminated = pos < raw.count || endsWithBreak
                } else {
                    lines.append("")
                }
                continue
            }
            if n <= parentIndent { break }
            if indent == nil {
                if body.first == "\t" { throw YAMLError(line: pos + 1, message: "a tab in the indentation; indent with spaces") }
                indent = n
            }
            if n < indent! { break }   // the enclosing block goes on (or reports the indentation)
            lines.append(r.dropFirst(indent!))
            pos += 1
            lastTerminated = pos < raw.count || endsWithBreak
        }
        var trailing = 0
        while let last = lines.last, last.isEmpty { lines.removeLast(); trailing += 1 }
        if trailing > 0 { lastTerminated = true }
        var text = ""
        var empties = 0
        var prevMoreIndented = false
        var started = false
        for l in lines {
            if l.isEmpty { empties += 1; continue }
            let moreIndented = l.first == " " || l.first == "\t"
            if !started {
                text += String(repeating: "\n", count: empties)
            } else if !folded || moreIndented || prevMoreIndented {
                text += String(repeating: "\n", count: empties + 1)
            } else {
                text += empties == 0 ? " " : String(repeating: "\n", count: empties)
            }
            text += l
            empties = 0
            started = true
            prevMoreIndented = moreIndented
        }
        switch chomp {
        case "-": break
        case "+":
            if started { text += (lastTerminated ? "\n" : "") + String(repeating: "\n", count: trailing) }
            else { text += String(repeating: "\n", count: trailing) }
        default: if started && lastTerminated { text += "\n" }
        }
        return .scalar(text, plain: false)
    }

    /// `key: rest` (rest without leading spaces), or nil when the line is not a mapping entry.
    func splitKey(_ t: Substring, line: Int) throws(YAMLError) -> (String, Substring)? {
        var flow = FlowParser(String(t), line: line, block: true, depth: depth)
        guard let key = try flow.mappingKey() else { return nil }
        return (key, Substring(flow.rest))
    }
}

private func trimTrailing(_ s: Substring) -> Substring {
    var e = s.endIndex
    while e > s.startIndex, s[s.index(before: e)] == " " || s[s.index(before: e)] == "\t" { e = s.index(before: e) }
    return s[s.startIndex..<e]
}

/// Finds where a line's comment starts (a `#` after whitespace, outside quotes) and tracks quotes and
/// flow brackets across the lines of a flow collection or quoted value. A quote opens a quoted scalar only
/// where a value starts; inside a plain value (`it's`) it is an ordinary character.
private struct Scan {
    var flowDepth = 0
    var quote: Character?
    var comment = false

    /// `inPlain`: the line continues a plain scalar (quotes in it are ordinary characters).
    mutating func strip(_ s: Substring, inPlain plainLine: Bool = false) -> Substring {
        comment = false
        var inPlain = plainLine
        var prev: Character = " "
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            let n = s.index(after: i)
            let next: Character? = n < s.endIndex ? s[n] : nil
            if let q = quote {
                // An escape (`\"`) or a doubled single quote (`''`) does not end the quotes.
                if (c == "\\" && q == "\"") || (c == "'" && q == "'" && next == "'") {
                    if next != nil { prev = s[n]; i = s.index(after: n); continue }
                } else if c == q {
                    quote = nil
                    inPlain = false
                }
            } else if c == "#" && (prev == " " || prev == "\t") {
                comment = true
                return trimTrailing(s[s.startIndex..<i])
            } else if c == " " || c == "\t" {
            } else if !inPlain {
                switch c {
                case "\"", "'": quote = c
                case "[", "{": flowDepth += 1
                case "]", "}": flowDepth -= 1
                case ",": if flowDepth == 0 { inPlain = true }
                case "-", "?", ":":
                    if !(isBlank(next) || (flowDepth > 0 && c == ":" && ",[]{}".contains(next!))) { inPlain = true }
                default: inPlain = true
                }
            } else if c == ":" && (isBlank(next) || (flowDepth > 0 && ",[]{}".contains(next!))) {
                inPlain = false
            } else if flowDepth > 0 && ",[]{}".contains(c) {
                inPlain = false
                if c == "[" || c == "{" { flowDepth += 1 } else if c == "]" || c == "}" { flowDepth -= 1 }
            }
            prev = c
            i = n
        }
        return trimTrailing(s)
    }
}

/// Scalars and flow collections on one (joined) line. `block` means plain scalars may hold `,[]{}`.
private struct FlowParser {
    let chars: [Character]
    var i = 0
    let line: Int
    let block: Bool
    var depth: Int

    init(_ text: String, line: Int, block: Bool = false, depth: Int) {
        chars = Array(text)
        self.line = line
        self.block = block
        self.depth = depth
    }

    var rest: String { String(chars[min(i, chars.count)...]) }

    func fail(_ m: String) -> YAMLError {
        YAMLError(line: line + chars[..<min(i, chars.count)].reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }, message: m)
    }

    mutating func skipSpaces() {
        while i < chars.count, chars[i] == " " || chars[i] == "\t" || chars[i] == "\n" || chars[i] == "\u{1}" { i += 1 }
    }

    /// After a line break inside quotes: the break and the next line's indentation fold into one space,
    /// or into n line breaks when n empty lines follow.
    /// `keep`: how many characters of `out` stay (escaped ones: `\t` before a line break is kept).
    mutating func foldLineBreak(into out: inout String, keep: Int = 0) {
        while out.count > keep, out.last == " " || out.last == "\t" { out.removeLast() }
        var breaks = 0
        while i < chars.count, chars[i] == "\n" || chars[i] == " " || chars[i] == "\t" {
            if chars[i] == "\n" { breaks += 1 }
            i += 1
        }
        out += breaks == 1 ? " " : String(repeating: "\n", count: breaks - 1)
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
        case "?" where !block, ":" where !block:
            throw fail("a value in a flow collection cannot start with '\(chars[i])'; quote it")
        case "@", "`", "%", "#", "|", ">", ",", "]", "}":
            if !block && (chars[i] == "," || chars[i] == "]" || chars[i] == "}") {
                // `[a, , b]`: PyYAML refuses an empty entry; only a trailing comma is allowed.
                throw fail("an empty entry before '\(chars[i])' in a flow collection")
            }
            throw fail("a value cannot start with '\(chars[i])'; quote it")
        case "-" where isBlankAt(i + 1) || (!block && ",[]{}".contains(chars[i + 1])),
             "?" where isBlankAt(i + 1) || (!block && ",[]{}".contains(chars[i + 1])),
             ":" where isBlankAt(i + 1) || (!block && ",[]{}".contains(chars[i + 1])):
            throw fail(chars[i] == "-" ? "a list item ('- ') cannot follow here; start the list on the next line"
                                       : "'\(chars[i])' followed by a space cannot start a value; quote it")
        default:
            let s = try plain(stopAtColon: false)
            if block { try checkNoColon(s) }
            return .scalar(s, plain: true)
        }
    }

    func isBlankAt(_ j: Int) -> Bool { j >= chars.count || chars[j] == " " || chars[j] == "\t" || chars[j] == "\n" || chars[j] == "\u{1}" }

    /// A plain value in a block cannot hold ': ' or end in ':' (it would be a key); a real parser refuses it.
    func checkNoColon(_ s: String) throws(YAMLError) {
        let c = Array(s)
        for j in c.indices where c[j] == ":" && (j + 1 == c.count || c[j + 1] == " " || c[j + 1] == "\t") {
            throw fail("': ' inside a plain value (a mapping is not allowed here); quote the value")
        }
    }

    /// A line that continues a plain value.
    func checkPlainContinuation() throws(YAMLError) { try checkNoColon(String(chars)) }

    /// A plain scalar up to the end (block) or to `,]}` (flow); `stopAtColon` for keys.
    mutating func plain(stopAtColon: Bool) throws(YAMLError) -> String {
        let start = i
        while i < chars.count {
            let c = chars[i]
            if c == "?" && !block {
                // YAML 1.2 reads `[a?b]` as "a?b"; YAML 1.1 parsers (PyYAML, which openstacksdk uses) refuse it.
                throw fail("'?' inside an unquoted value in a flow collection ([...] or {...}); quote the value")
            }
            if c == "\u{1}" { break }   // a comment ended the line
            if !block && (c == "," || c == "[" || c == "]" || c == "{" || c == "}") { break }
            if c == ":" && (stopAtColon || !block) && (isBlankAt(i + 1) || (!block && ",[]{}".contains(chars[i + 1]))) { break }
            i += 1
        }
        // In a flow collection a plain scalar may go on over lines: they fold into spaces.
        var s = chars[start..<i].split(separator: "\n").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }.joined(separator: " ")
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
        case "[", "{", "#", "@", "`", "%", "|", ">", "!", "&", "*", ",", "]", "}": return nil
        case "-" where i + 1 < chars.count && chars[i + 1] == " ": return nil
        case "?" where isBlankAt(i + 1): throw fail("complex keys ('?') are not supported")
        default:
            key = try plain(stopAtColon: true)
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
        depth += 1
        defer { depth -= 1 }
        if depth > maxNesting { throw fail("nested more than \(maxNesting) levels deep") }
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
            throw inner.fail("expected ',' or ']' in a flow sequence")
        }
        i = inner.i
        return .sequence(items)
    }

    init(copying p: FlowParser, block: Bool) {
        chars = p.chars
        i = p.i
        line = p.line
        self.block = block
        depth = p.depth
    }

    /// An item of a flow sequence: a value, or a one-entry mapping `key: value`.
    mutating func flowItem() throws(YAMLError) -> YAMLNode {
        skipSpaces()
        let start = i
        let first = try node()
        skipSpaces()
        if i < chars.count, chars[i] == ":" {
            if chars[start..<i].contains("\n") { throw fail("a key in a flow collection must be on one line") }
            guard case .scalar(let key, _) = first else { throw fail("a collection as a mapping key") }
            i += 1
            skipSpaces()
            if i < chars.count, chars[i] == "," || chars[i] == "]" { return .mapping([YAMLEntry(key: key, value: .scalar("", plain: true))]) }
            return .mapping([YAMLEntry(key: key, value: try node())])
        }
        return first
    }

    mutating func flowMapping() throws(YAMLError) -> YAMLNode {
        depth += 1
        defer { depth -= 1 }
        if depth > maxNesting { throw fail("nested more than \(maxNesting) levels deep") }
        i += 1
        var p = FlowParser(copying: self, block: false)
        var entries: [YAMLEntry] = []
        var seen = Set<String>()
        while true {
            p.skipSpaces()
            guard p.i < p.chars.count else { throw fail("unclosed '{'") }
            if p.chars[p.i] == "}" { p.i += 1; break }
            let keyStart = p.i
            let keyNode = try p.node()
            guard case .scalar(let key, _) = keyNode else { throw p.fail("a collection as a mapping key") }
            if key == "<<" { throw p.fail("merge keys ('<<') are not supported in this file") }
            p.skipSpaces()
            var value = YAMLNode.scalar("", plain: true)
            if p.i < p.chars.count, p.chars[p.i] == ":" {
                if p.chars[keyStart..<p.i].contains("\n") { throw p.fail("a key in a flow mapping must be on one line") }
                p.i += 1
                p.skipSpaces()
                if p.i < p.chars.count, p.chars[p.i] != ",", p.chars[p.i] != "}" { value = try p.node() }
            }
            guard seen.insert(key).inserted else { throw p.fail("duplicate key '\(key)'") }
            entries.append(YAMLEntry(key: key, value: value))
            p.skipSpaces()
            guard p.i < p.chars.count else { throw fail("unclosed '{'") }
            if p.chars[p.i] == "," { p.i += 1; continue }
            if p.chars[p.i] == "}" { p.i += 1; break }
            throw p.fail("expected ',' or '}' in a flow mapping")
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
            if chars[i] == "\n" { foldLineBreak(into: &out); continue }
            out.append(chars[i])
            i += 1
        }
        throw fail("unclosed single quote")
    }

    mutating func doubleQuoted() throws(YAMLError) -> String {
        i += 1
        var out = ""
        var escaped = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\"" { i += 1; return out }
            if c == "\n" { foldLineBreak(into: &out, keep: escaped); continue }
            if c == "\\" {
                defer { escaped = out.count }
                i += 1
                guard i < chars.count else { break }
                if chars[i] == "\n" {
                    // An escaped line break: the lines join without a space.
                    while i < chars.count, chars[i] == "\n" || chars[i] == " " || chars[i] == "\t" { i += 1 }
                    continue
                }
                switch chars[i] {
                case "n": out.append("\n")
                case "t", "\t": out.append("\t")
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "e": out.append("\u{1B}")
                case "f": out.append("\u{0C}")
                case "v": out.append("\u{0B}")
                case "N": out.append("\u{85}")
                case "_": out.append("\u{A0}")
                case "L": out.append("\u{2028}")
                case "P": out.append("\u{2029}")
                case "r": out.append("\r")
                case "0": out.append("\0")
                case "\\": out.append("\\")
                case "\"": out.append("\"")
                case "/": out.append("/")
                case " ": out.append(" ")
                case "x", "u", "U":
                    let n = chars[i] == "x" ? 2 : chars[i] == "u" ? 4 : 8
                    guard i + n < chars.count, chars[(i + 1)...(i + n)].allSatisfy(\.isHexDigit),
                          let v = UInt32(String(chars[(i + 1)...(i + n)]), radix: 16),
                          let u = Unicode.Scalar(v) else { throw fail("bad escape '\\\(chars[i])' in a double-quoted string (\\x needs 2 hex digits, \\u 4, \\U 8, and no surrogates)") }
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

private extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
