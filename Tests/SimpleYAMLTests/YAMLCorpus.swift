#if canImport(SimpleYAML)
import SimpleYAML
#endif

/// Documents for the differential test against PyYAML: hand-written files in the shapes operators write
/// (openstacksdk's clouds.yaml/secure.yaml examples, the agent's config.yaml), edge cases, and random nested
/// structures rendered in block and flow style with random quoting. Deterministic (seeded), no Foundation.
enum YAMLCorpus {
    /// The JSON text (ASCII, as Python's `json.dumps(ensure_ascii=True, separators=(',', ':'))` writes it) of a
    /// node with every scalar as its text, which is what PyYAML's BaseLoader gives.
    static func json(_ node: YAMLNode?) -> String {
        guard let node else { return "null" }
        switch node {
        case .scalar(let s, _): return jsonString(s)
        case .sequence(let items): return "[" + items.map { json($0) }.joined(separator: ",") + "]"
        case .mapping(let e): return "{" + e.map { jsonString($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        func hex4(_ v: UInt32) -> String {
            let h = String(v, radix: 16)
            return "\\u" + String(repeating: "0", count: max(0, 4 - h.count)) + h
        }
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value >= 0x20 && u.value < 0x7F {
                    out.unicodeScalars.append(u)
                } else if u.value > 0xFFFF {
                    let v = u.value - 0x10000
                    out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                } else {
                    out += hex4(u.value)
                }
            }
        }
        return out + "\""
    }

    /// A case: the text and whether SimpleYAML may refuse it (a construct it does not support) or accept it
    /// where PyYAML refuses (a YAML 1.2 rule PyYAML does not follow).
    struct Case {
        var name: String
        var text: String
        var mayRefuse = false
        var mayAcceptWherePyYAMLRefuses = false
    }

    static let handWritten: [Case] = [
        Case(name: "openstacksdk password cloud", text: """
        clouds:
          mtvexx:
            profile: https://vexxhost.com
            auth:
              username: mordred@inaugust.com
              password: XXXXXXXXX
              project_name: mordred@inaugust.com
            region_name: ca-ymq-1
            dns_api_version: 1
          mordred:
            region_name: RegionOne
            auth:
              username: 'mordred'
              password: XXXXXXX
              project_name: 'shade'
              auth_url: 'https://montytaylor-sjc.openstack.blueboxgrid.com:5001/v2.0'
          infra:
            profile: rackspace
            auth:
              username: openstackci
              password: XXXXXXXX
              project_id: 610275
            regions:
            - DFW
            - ORD
            - IAD
        """),
        Case(name: "application credential, regions as mappings", text: """
        # clouds.yaml for the agent
        clouds:
          neutron-routes:
            auth_type: v3applicationcredential
            auth:
              auth_url: https://keystone.example.org:5000/v3   # public endpoint
              application_credential_id: "21dced0fd20347869b93710d2b98aae0"
              application_credential_secret: 'x#y: z''"'
            region_name: RegionOne
            interface: internal
            identity_api_version: 3
            verify: false
            cacert: /etc/ssl/certs/ca-certificates.crt
            regions:
              - name: RegionOne
                values:
                  networks:
                    - name: public
                      routes_externally: true
              - name: RegionTwo
        """),
        Case(name: "secure.yaml", text: """
        ---
        clouds:
          prod:
            auth:
              password: "p@ss: w#rd \\"quoted\\" \\u00e9"
          dev:
            auth: {password: 12345, username: '0123'}
        ...
        """),
        Case(name: "agent config.yaml", text: """
        os-cloud: neutron-routes
        table: 254          # main
        protocol: 0x1F
        interval: 1e10
        jitter: .5
        allowed-prefix: [10.0.0.0/8, 172.16.0.0/12, fc00::/7]
        protected-prefix: []
        external-network:
        - public
        - "ext net 2"
        log-format: logfmt
        metrics-address: 127.0.0.1:9100
        url: http://x:5000/v3#frag
        description: >
          Routes to tenant subnets
          via their routers.

          Second paragraph.
        banner: |
          line one
            indented
          line three
        """),
        Case(name: "flow, multi-line, trailing commas, quoted keys", text: """
        clouds: {
          "prod": {auth: {auth_url: "https://k:5000/v3", 'user name': admin,},
                   regions: [a, b, {name: c},],  # comment
                   verify: "false"},
          other: {}
        }
        """),
        Case(name: "JSON", text: """
        {"clouds": {"prod": {"auth": {"auth_url": "https://k:5000/v3", "port": 5000},
         "list": [1, "two", null, true, 1.5e3, -0]}}}
        """),
        Case(name: "compact sequences and nested items", text: """
        a:
        - x
        - - y
          - z
        - k: v
          k2:
          - 1
          - 2
          k3: {f: [g]}
        b:
          - name: n
            sub:
              - deep: 1
                deeper: [2, 3]
        """),
        Case(name: "scalars of every spelling", text: """
        n1: ~
        n2: null
        n3: NULL
        n4:
        b1: yes
        b2: No
        b3: "true"
        b4: 'null'
        i1: 0123
        i2: +12
        i3: 0o17
        f1: .inf
        f2: -.NaN
        t: 2001-12-14t21:59:43.10-05:00
        s1: -dash
        s2: ?question
        s3: :colon
        s4: a:b
        s5: a#b
        s6: it's
        s7: say "hi"
        s8: 'it''s'
        s9: "tab\\there\\\\back\\x41\\/\\e\\_"
        s10: café 日本 ✓ 🚀
        s11: "\\U0001F680"
        key with spaces: value with spaces
        "quoted: key": 'v'
        'single # key': v
        url#x: y
        """),
        Case(name: "multi-line plain and quoted", text: """
        a: one
          two

          three
        b:
          first
          second
        c: "dq one
          two\\
          three

          four"
        d: 'sq
           line'
        e: plain  # comment ends it
        f: x
          - dash
        """),
        Case(name: "block scalar chomping and indentation indicators", text: """
        a: |
          x

        b: |-
          x

        c: |+
          x


        d: >+
          x
        e: >-
          folded
          text

            more indented
          back
        f: |2
            two extra
          base
        g: >
        h: |1-
           one
        i: |
          # not a comment
          text # kept
        # a real comment
        j: end
        """),
        Case(name: "CRLF and BOM", text: "\u{FEFF}a: 1\r\nb:\r\n  - x\r\n  - 'y'\r\nc: |\r\n  l1\r\n  l2\r\n"),
        Case(name: "comments everywhere", text: """
        # top
        a: # after a key
          # before a value
          b: 1 # trailing
          # between

          c: "#not" # is
        d: [x, # in flow
            y]
        e: x#y
        """),
        Case(name: "document markers", text: "%YAML 1.1\n--- # comment\na: 1\n...\n"),
        Case(name: "empty values", text: "a:\nb: ''\nc: \"\"\nd: []\ne: {}\nf:\n  -\n  - ''\n"),
        Case(name: "top-level sequence of mappings", text: "- name: a\n  v: 1\n-   name: b\n    v: 2\n-\n  name: c\n"),
        Case(name: "deep block nesting", text: (0..<40).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " leaf\n"),
        Case(name: "deep flow nesting", text: "a: " + String(repeating: "[", count: 40) + "x" + String(repeating: "]", count: 40) + "\n"),
        Case(name: "anchors refused", text: "a: &x 1\nb: *x\n", mayRefuse: true),
        Case(name: "tags refused", text: "a: !!str 1\n", mayRefuse: true),
        Case(name: "merge keys refused", text: "base: {a: 1}\nderived:\n  <<: {a: 2}\n  b: 3\n", mayRefuse: true),
        Case(name: "complex keys refused", text: "? a\n: b\n", mayRefuse: true),
        Case(name: "content after --- refused", text: "--- {a: 1}\n", mayRefuse: true),
        Case(name: "two documents refused", text: "a: 1\n---\nb: 2\n", mayRefuse: true),
        Case(name: "duplicate keys refused (PyYAML keeps the last)", text: "a: 1\na: 2\n", mayRefuse: true),
        Case(name: "a trailing tab (YAML 1.2 allows it)", text: "a: 1\t\nb: 2\n", mayAcceptWherePyYAMLRefuses: true),
    ]

    /// Invalid YAML that PyYAML refuses too: SimpleYAML must refuse it (an error, never a value).
    static let invalid: [String] = [
        "a: b: c\n", "a: - b\n", "a: %x\n", "a: @x\n", "a: `x\n", "[a,,b]\n", "a: ]\n", "a:\n\tb: 1\n",
        "a: 1\n  b: 2\n", "a: \"open\n", "a: 'open\n", "a: [1, 2\n", "a: {b: 1\n", "a: x\n  y: z\n",
        "a: x #c\n  y\n", "- a\nb: 1\n", "a: 1\n- b\n", "a: \"\\q\"\n", "a: \"\\x4\"\n", "a: \"\\u00g1\"\n",
        "a: [b] c\n", "a: 'x' y\n", "key: |\n  x\n y\n", "a: \u{01}\n", "a:\n  - x\n  y: 1\n",
    ]

    // MARK: - Random documents

    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
        mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
    }

    indirect enum Value {
        case text(String)
        case map([(String, Value)])
        case list([Value])
    }

    static let words = ["auth", "auth_url", "username", "password", "project_name", "user_domain_name",
                        "region_name", "interface", "verify", "cacert", "name", "values", "x", "key with space",
                        "a:b", "url#frag", "é", "日本", "200", "true", "null", "-k", "k-", "_", "it's", "a b c"]
    static let scalars = ["200", "0x1F", "1e10", ".5", "-1", "+1", "0123", "yes", "no", "on", "off", "true", "False",
                          "null", "~", "", "p#ss", "p #ss", "a: b", "a:b", "http://x:5000/v3#frag", "it's", "say \"hi\"",
                          "'q'", "\"dq\"", "é", "日本語", "✓ 🚀", "- x", "-x", "? y", "?y", ":z", "[x]", "{x}", "a, b",
                          "x]", " lead", "trail ", "#x", "@x", "%x", "`x", "!x", "&x", "*x", "|x", ">x", "two\nlines",
                          "tab\there", "back\\slash", "end:", "a ,b", "RegionOne", "public", "/etc/ssl/ca.pem",
                          "internal", "v3applicationcredential", "12345", "----", "...x", "=", "<<x", "a\u{00A0}b"]

    static func randomValue(_ r: inout Rng, depth: Int) -> Value {
        if depth >= 4 || r.chance(35) { return .text(r.chance(70) ? r.pick(scalars) : r.pick(words)) }
        if r.chance(60) {
            var keys: [String] = []
            for _ in 0..<(r.below(4) + (r.chance(15) ? 0 : 1)) {
                let k = r.pick(words)
                if !keys.contains(k) { keys.append(k) }
            }
            return .map(keys.map { ($0, randomValue(&r, depth: depth + 1)) })
        }
        return .list((0..<(r.below(4) + (r.chance(15) ? 0 : 1))).map { _ in randomValue(&r, depth: depth + 1) })
    }

    /// Whether `s` may be written unquoted (conservatively: what both YAML 1.1 and 1.2 read as this text).
    static func plainSafe(_ s: String, flow: Bool) -> Bool {
        guard let f = s.first, let l = s.last, f != " ", l != " ", l != ":" else { return false }
        if "-?:,[]{}#&*!|>'\"%@`".contains(f) && !((f == "-" || f == ":" || f == "?") && s.count > 1 && !" ,[]{}".contains(s.dropFirst().first!)) { return false }
        if s.contains(": ") || s.contains(" #") || s.contains("\t") || s.contains("\n") || s.hasPrefix("---") || s.hasPrefix("...") { return false }
        if flow && s.contains(where: { ",[]{}?:".contains($0) }) { return false }
        if s.unicodeScalars.contains(where: { $0.value > 0x7E && $0.value < 0xA1 }) { return false }
        return true
    }

    static func render(scalar s: String, _ r: inout Rng, flow: Bool, key: Bool = false) -> String {
        let plainOK = plainSafe(s, flow: flow) && !(key && s == "<<")
        let simple = !s.contains("\n") && !s.contains("\t") && !s.unicodeScalars.contains { $0.value < 0x20 || ($0.value > 0x7E && $0.value < 0xA1) }
        let style = r.below(10)
        if plainOK && style < 5 { return s }
        if simple && style < 8 { return "'" + s.replacing("'", with: "''") + "'" }
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += r.chance(50) ? "\\t" : "\t"
            default:
                if u.value > 0x7E && r.chance(30) {
                    let h = String(u.value, radix: 16)
                    out += u.value > 0xFFFF ? "\\U" + String(repeating: "0", count: 8 - h.count) + h
                                            : "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else if u.value < 0x20 || (u.value > 0x7E && u.value < 0xA1) {
                    let h = String(u.value, radix: 16)
                    out += "\\x" + String(repeating: "0", count: 2 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    static func flow(_ v: Value, _ r: inout Rng, indent: Int, multiline: Bool) -> String {
        let sep = multiline ? ",\n" + String(repeating: " ", count: indent + 2) : ", "
        let trailing = r.chance(20) ? "," : ""
        switch v {
        case .text(let s): return render(scalar: s, &r, flow: true)
        case .list(let items):
            return "[" + items.map { flow($0, &r, indent: indent + 2, multiline: multiline) }.joined(separator: sep) + (items.isEmpty ? "" : trailing) + "]"
        case .map(let entries):
            return "{" + entries.map { render(scalar: $0.0, &r, flow: true, key: true) + ": " + flow($0.1, &r, indent: indent + 2, multiline: multiline) }
                .joined(separator: sep) + (entries.isEmpty ? "" : trailing) + "}"
        }
    }

    /// Lines of `v` as a block node at `indent`; `v` is a collection.
    static func block(_ v: Value, _ r: inout Rng, indent: Int, step: Int, out: inout [String]) {
        let pad = String(repeating: " ", count: indent)
        func comment() -> String { r.chance(10) ? " # note: x" : "" }
        switch v {
        case .text: break
        case .map(let entries):
            for (k, value) in entries {
                if r.chance(5) { out.append(pad + "# a comment line") }
                let key = pad + render(scalar: k, &r, flow: false, key: true) + ":"
                out.append(contentsOf: valueLines(value, &r, head: key, indent: indent, step: step, compact: true, comment: comment()))
            }
        case .list(let items):
            for item in items {
                out.append(contentsOf: valueLines(item, &r, head: pad + "-", indent: indent, step: step, compact: false, comment: comment()))
            }
        }
    }

    static func valueLines(_ v: Value, _ r: inout Rng, head: String, indent: Int, step: Int, compact: Bool, comment: String) -> [String] {
        let pad = String(repeating: " ", count: indent)
        switch v {
        case .text(let s):
            if s.contains("\n"), !s.hasPrefix(" "), !s.contains("\n "), !s.hasSuffix("\n"), r.chance(50) {
                return [head + " |-" + comment] + s.split(separator: "\n", omittingEmptySubsequences: false).map { pad + String(repeating: " ", count: step) + $0 }
            }
            return [head + " " + render(scalar: s, &r, flow: false) + comment]
        case .map(let e) where e.isEmpty: return [head + " {}" + comment]
        case .list(let l) where l.isEmpty: return [head + " []" + comment]
        default:
            if r.chance(15) { return [head + " " + flow(v, &r, indent: indent, multiline: r.chance(40)) + comment] }
            var lines: [String] = []
            if case .list = v, compact, r.chance(40) {
                // A sequence at the same indentation as its key.
                lines.append(head + comment)
                block(v, &r, indent: indent, step: step, out: &lines)
                return lines
            }
            if head.hasSuffix("-"), r.chance(60) {
                // "- key: v" / "- - x": the collection starts on the item's line.
                var inner: [String] = []
                block(v, &r, indent: indent + 2, step: step, out: &inner)
                if let first = inner.first, first.hasPrefix(pad + "  ") {
                    lines.append(head + " " + first.dropFirst(indent + 2))
                    lines.append(contentsOf: inner.dropFirst())
                    return lines
                }
            }
            lines.append(head + comment)
            block(v, &r, indent: indent + step, step: step, out: &lines)
            return lines
        }
    }

    static func random(count: Int, seed: UInt64) -> [Case] {
        var r = Rng(state: seed)
        var out: [Case] = []
        for n in 0..<count {
            var v = randomValue(&r, depth: 0)
            if case .text = v { v = .map([("top", v)]) }
            let text: String
            if r.chance(15) {
                text = flow(v, &r, indent: 0, multiline: r.chance(50)) + "\n"
            } else {
                var lines: [String] = []
                block(v, &r, indent: 0, step: r.pick([2, 3, 4]), out: &lines)
                text = lines.joined(separator: "\n") + "\n"
            }
            out.append(Case(name: "random \(n)", text: text))
        }
        return out
    }
}
