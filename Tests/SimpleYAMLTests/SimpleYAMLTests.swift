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
        ("a: 1\n  b: 2\n", 2, "unexpected indentation"),
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
}
