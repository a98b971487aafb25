import SimpleYAML
import Testing

@Suite struct SimpleYAMLTests {
    func parse(_ text: String) throws -> YAMLNode? { try YAMLNode.parse(text) }
    func s(_ text: String, plain: Bool = true) -> YAMLNode { .scalar(text, plain: plain) }
    func map(_ pairs: (String, YAMLNode)...) -> YAMLNode { .mapping(pairs.map { YAMLEntry(key: $0.0, value: $0.1) }) }

    @Test func theShippedConfigurationShape() throws {
        let text = """
        # a comment
        os-cloud: neutron-routes
        table: 254          # main
        allowed-prefix: [10.0.0.0/8, 172.16.0.0/12, fc00::/7]
        protected-prefix: []
        external-network: []
        # project: []
        log-format: logfmt
        metrics-address: 127.0.0.1:9100
        url: http://x/#frag
        """
        #expect(try parse(text) == map(
            ("os-cloud", s("neutron-routes")), ("table", s("254")),
            ("allowed-prefix", .sequence([s("10.0.0.0/8"), s("172.16.0.0/12"), s("fc00::/7")])),
            ("protected-prefix", .sequence([])), ("external-network", .sequence([])),
            ("log-format", s("logfmt")), ("metrics-address", s("127.0.0.1:9100")), ("url", s("http://x/#frag"))))
    }

    @Test func cloudsYAMLNestingAndBlockSequences() throws {
        let text = """
        clouds:
          prod:
            auth:
              auth_url: https://keystone.example.org:5000/v3
              password: "p#ss: 'x' \\"y\\""
              user: 'it''s'
            regions:
              - RegionOne
              - name: RegionTwo
                values:
                  interface: internal
            interface: internal

          other: {auth: {token: abc}, verify: false}
        """
        let prod = map(
            ("auth", map(("auth_url", s("https://keystone.example.org:5000/v3")),
                         ("password", s("p#ss: 'x' \"y\"", plain: false)), ("user", s("it's", plain: false)))),
            ("regions", .sequence([s("RegionOne"), map(("name", s("RegionTwo")), ("values", map(("interface", s("internal")))))])),
            ("interface", s("internal")))
        let other = map(("auth", map(("token", s("abc")))), ("verify", s("false")))
        #expect(try parse(text) == map(("clouds", map(("prod", prod), ("other", other)))))
    }

    @Test func sequenceAtTheKeysIndentAndNestedSequences() throws {
        #expect(try parse("a:\n- x\n- - y\n  - z\nb: 1\n") == map(
            ("a", .sequence([s("x"), .sequence([s("y"), s("z")])])), ("b", s("1"))))
    }

    @Test func jsonIsYAML() throws {
        let text = """
        {
          "clouds": {"prod": {"auth": {"auth_url": "https://k:5000/v3", "port": 5000},
                     "list": [1, "two", null, true]}}
        }
        """
        let node = try #require(try parse(text))
        #expect(node == map(("clouds", map(("prod", map(
            ("auth", map(("auth_url", s("https://k:5000/v3", plain: false)), ("port", s("5000")))),
            ("list", .sequence([s("1"), s("two", plain: false), s("null"), s("true")]))))))))
    }

    @Test func nullsBoolsAndStrings() throws {
        let node = try #require(try parse("a: ~\nb: null\nc:\nd: 'null'\ne: true\nf: \"false\"\ng: yes\n"))
        guard case .mapping(let e) = node else { Issue.record("not a mapping"); return }
        #expect(e.map(\.value.isNull) == [true, true, true, false, false, false, false])
        #expect(e.map(\.value.bool) == [nil, nil, nil, nil, true, nil, nil])
        #expect(e[3].value.string == "null")
        #expect(e[0].value.string == nil)
    }

    @Test func blockScalars() throws {
        #expect(try parse("a: |\n  one\n   two\n\n  three\nb: >-\n  x\n  y\n\n  z\n") == map(
            ("a", s("one\n two\n\nthree\n", plain: false)), ("b", s("x y\nz", plain: false))))
    }

    @Test func emptyDocumentsAndMarkers() throws {
        #expect(try parse("") == nil)
        #expect(try parse("# only a comment\n\n") == nil)
        #expect(try parse("---\na: 1\n...\n") == map(("a", s("1"))))
        #expect(try parse("a: 1\r\nb: 2\r\n") == map(("a", s("1")), ("b", s("2"))))
    }

    @Test(arguments: [
        ("a: 1\na: 2\n", 2, "duplicate key 'a'"),
        ("a: &x 1\nb: *x\n", 1, "anchors, aliases and tags"),
        ("a: [1, 2\n", 1, "unclosed '['"),
        ("a:\n\tb: 1\n", 2, "tab"),
        ("a: 1\n  b: 2\n", 2, "': ' inside a plain value"),
        ("a: 1 # c\n  b\n", 2, "unexpected indentation"),
        ("a: 1\n---\nb: 2\n", 2, "second document"),
        ("a: \"open\n", 1, "unclosed double quote"),
        ("a: 1\n- b\n", 2, "expected 'key: value'"),
        ("{a: 1} x\n", 1, "after a value"),
    ])
    func errorsNameTheLine(text: String, line: Int, message: String) {
        do {
            _ = try YAMLNode.parse(text)
            Issue.record("parsed: \(text)")
        } catch {
            #expect(error.line == line)
            #expect(error.message.contains(message), "\(error)")
        }
    }

    /// One regression per discrepancy the differential test (DifferentialTests) found against PyYAML; the
    /// expected values are PyYAML's (BaseLoader) readings, as JSON with every scalar as text.
    @Test(arguments: [
        // A quote inside a plain value is an ordinary character, so a later ` #` still starts a comment.
        ("a: b 'c #d\n", #"{"a":"b 'c"}"#),
        ("a: [it's, b]\n", #"{"a":["it's","b"]}"#),
        // '' inside single quotes does not end them (comment detection used to see the quote close).
        ("a: 'x#y: z''\"' # c\n", #"{"a":"x#y: z'\""}"#),
        // A UTF-8 byte order mark.
        ("\u{FEFF}a: 1\n", #"{"a":"1"}"#),
        // Plain values continued on more-indented lines fold into one line.
        ("a: x\n  y\n\n  z\nb: 1\n", #"{"a":"x y\nz","b":"1"}"#),
        ("a:\n  x\n  y\n", #"{"a":"x y"}"#),
        ("- x\n  y\n", #"["x y"]"#),
        ("a: x\n  - y\n", #"{"a":"x - y"}"#),
        // Quoted values over several lines.
        ("a: \"x\n  y\"\n", #"{"a":"x y"}"#),
        ("a: \"x\n\n  y\"\n", #"{"a":"x\ny"}"#),
        ("k: \"a\\\n  b\"\n", #"{"k":"ab"}"#),
        ("k: \"tab\\t\n  here\"\n", #"{"k":"tab\t here"}"#),
        ("a: 'x\n  y' # c\nb: 1\n", #"{"a":"x y","b":"1"}"#),
        // Block scalars: keep chomping at the end of the file, more-indented folded lines, indentation indicators.
        ("a: |+\n  x\n", #"{"a":"x\n"}"#),
        ("a: |+\n  x\n\n\n", #"{"a":"x\n\n\n"}"#),
        ("a: |\n  x", #"{"a":"x"}"#),
        ("a: >\n  a\n    b\n  c\n", #"{"a":"a\n  b\nc\n"}"#),
        ("a: >\n  x\n\n   y\n  z\n", #"{"a":"x\n\n y\nz\n"}"#),
        ("a: >\n\n  x\n  y\n", #"{"a":"\nx y\n"}"#),
        ("a: |2\n    x\n", #"{"a":"  x\n"}"#),
        ("a: |-2\n   x\n", #"{"a":" x"}"#),
        ("a: >1\n  x\n", #"{"a":" x\n"}"#),
        ("a: |\n  x\n    \n", #"{"a":"x\n  \n"}"#),
        ("a: |-\n\n  x\n\n", #"{"a":"\nx"}"#),
        ("c: |\n  l1\n   ", #"{"c":"l1\n "}"#),
        // Escapes YAML has beyond JSON's.
        ("a: \"\\x41\\N\\_\\e\\/\"\n", #"{"a":"A\u0085\u00a0\u001b/"}"#),
        ("a: \"\\L\\P\"\n", #"{"a":"\u2028\u2029"}"#),
        ("a: e\u{301}t\u{e9} caf\u{e9}\n", #"{"a":"e\u0301t\u00e9 caf\u00e9"}"#),
        // Flow collections: over lines, a comment inside, an empty value, a trailing comma.
        ("a: [b #c\n , d]\n", #"{"a":["b","d"]}"#),
        ("a: {x: 1,\n  y: 2}\n", #"{"a":{"x":"1","y":"2"}}"#),
        ("{a: , b: 1}\n", #"{"a":"","b":"1"}"#),
        ("[a: , b]\n", #"[{"a":""},"b"]"#),
        ("[a, ]\n", #"["a"]"#),
        ("[a\n b]\n", #"["a b"]"#),
        ("{p: \n'on'}\n", #"{"p":"on"}"#),
        // Directives and document markers.
        ("%YAML 1.1\n---\na: 1\n", #"{"a":"1"}"#),
        ("--- {a: 1}\n", #"{"a":"1"}"#),
        ("--- text\n", #""text""#),
        ("--- # c\na: 1\n...\n", #"{"a":"1"}"#),
    ])
    func readsAsPyYAMLDoes(text: String, json: String) throws {
        #expect(YAMLCorpus.json(try YAMLNode.parse(text)) == json, "\(text.debugDescription)")
    }

    /// Each of these was read as a value where PyYAML (rightly) refuses the document.
    @Test(arguments: [
        ("a: b: c\n", 1, "': ' inside a plain value"),
        ("a: - b\n", 1, "list item"),
        ("a: %x\n", 1, "cannot start with '%'"),
        ("a: @x\n", 1, "cannot start with '@'"),
        ("@k: x\n", 1, "cannot start with '@'"),
        (",k: x\n", 1, "cannot start with ','"),
        (">'k': x\n", 1, "block scalar header"),
        ("*k: x\n", 1, "aliases"),
        ("[a,,b]\n", 1, "empty entry"),
        ("a: ]\n", 1, "cannot start with ']'"),
        ("a: x\n  y: z\n", 2, "': ' inside a plain value"),
        ("a: x #c\n  y\n", 2, "unexpected indentation"),
        ("{\"k\"\n : v}\n", 2, "on one line"),
        ("{reg\n ions: [a]}\n", 2, "on one line"),
        ("[a, it{s]\n", 1, "unclosed '['"),
        ("[0x1F, -\n x]\n", 1, "list item"),
        ("[?x]\n", 1, "cannot start with '?'"),
        ("a: [http://x/?q=1]\n", 1, "'?' inside an unquoted value"),
        ("d: [x # a comment ends x\n    y]\n", 2, "expected ','"),
        (">\n0\n", 2, "unexpected"),
        ("%YAML 1.\n---\na: 1\n", 1, "directive"),
        ("%TAG ! x\n---\na: 1\n", 1, "directive"),
        ("--- a: 1\n", 1, "after '---'"),
        ("--- - a\n", 1, "after '---'"),
        ("a: \u{01}\n", 1, "control character"),
        ("a: x\u{85}y\n", 1, "control character U+85"),
        ("a: x\u{2028}y\n", 1, "line separator"),
        ("a: 1\nb: \"\u{301}x\"\n", 2, "combining character right after '\"'"),
        ("a: \"\\x4g\"\n", 1, "bad escape"),
        ("a: \"\\x+1\"\n", 1, "bad escape"),
        ("<<: {a: 1}\n", 1, "merge keys"),
        ("a: {<<: {b: 1}}\n", 1, "merge keys"),
        ("a: |x\n  y\n", 1, "block scalar header"),
        ("a: [b,\n  c: d,\n  e f]]\n", 3, "after a value"),
    ])
    func refusedWithTheLine(text: String, line: Int, message: String) {
        do {
            let node = try YAMLNode.parse(text)
            Issue.record("parsed \(text.debugDescription) as \(YAMLCorpus.json(node))")
        } catch {
            #expect(error.line == line, "\(text.debugDescription): \(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func nestingIsBounded() throws {
        let ok = "a: " + String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(throws: Never.self) { try YAMLNode.parse(ok) }
        #expect(throws: YAMLError.self) { try YAMLNode.parse("a: " + String(repeating: "[", count: 65) + String(repeating: "]", count: 65)) }
        let block = (0..<70).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
        #expect(throws: YAMLError.self) { try YAMLNode.parse(block) }
    }

    @Test func plainFlagSurvivesEveryStyle() throws {
        let node = try #require(try YAMLNode.parse("a: null\nb: 'null'\nc: \"true\"\nd: |\n  true\ne: [true, 'false']\nf: true\n  x\n"))
        guard case .mapping(let e) = node, case .sequence(let seq) = e[4].value else { Issue.record("shape"); return }
        #expect(e[0].value.isNull && !e[1].value.isNull && e[1].value.string == "null")
        #expect(e[2].value.bool == nil && e[3].value.bool == nil && e[3].value.string == "true\n")
        #expect(seq[0].bool == true && seq[1].bool == nil)
        #expect(e[5].value == .scalar("true x", plain: true) && e[5].value.bool == nil)
    }
}
