import Testing
@testable import Events

@Suite("amqp:// URIs with RabbitMQ's rules")
struct URITests {
    struct Case: Sendable, CustomTestStringConvertible {
        let uri: String
        let tls: Bool
        let host: String
        let port: Int
        let user: String
        let vhost: String
        var testDescription: String { uri }
    }

    @Test(arguments: [
        Case(uri: "amqp://mra@rabbit.example.org:5672/", tls: false, host: "rabbit.example.org", port: 5672, user: "mra", vhost: "/"),
        Case(uri: "amqp://mra@rabbit.example.org", tls: false, host: "rabbit.example.org", port: 5672, user: "mra", vhost: "/"),
        Case(uri: "amqp://mra@rabbit.example.org/%2F", tls: false, host: "rabbit.example.org", port: 5672, user: "mra", vhost: "/"),
        Case(uri: "amqp://mra@rabbit.example.org/openstack", tls: false, host: "rabbit.example.org", port: 5672, user: "mra", vhost: "openstack"),
        Case(uri: "amqp://mra@rabbit/a%2Fb", tls: false, host: "rabbit", port: 5672, user: "mra", vhost: "a/b"),
        Case(uri: "amqps://mra@rabbit.example.org/", tls: true, host: "rabbit.example.org", port: 5671, user: "mra", vhost: "/"),
        Case(uri: "AMQPS://mra@rabbit:15671/", tls: true, host: "rabbit", port: 15671, user: "mra", vhost: "/"),
        Case(uri: "amqp://rabbit:5673/", tls: false, host: "rabbit", port: 5673, user: "guest", vhost: "/"),
        Case(uri: "amqp://neutron%40svc@192.0.2.10:5672/", tls: false, host: "192.0.2.10", port: 5672, user: "neutron@svc", vhost: "/"),
        Case(uri: "amqp://mra@[2001:db8::10]:5672/nova", tls: false, host: "2001:db8::10", port: 5672, user: "mra", vhost: "nova"),
        Case(uri: "amqp://mra@[2001:db8::10]", tls: false, host: "2001:db8::10", port: 5672, user: "mra", vhost: "/"),
    ])
    func parses(_ c: Case) throws {
        let e = try AMQPEndpoint(parsing: c.uri)
        #expect(e.tls == c.tls)
        #expect(e.host == c.host)
        #expect(e.port == c.port)
        #expect(e.username == c.user)
        #expect(e.virtualHost == c.vhost)
    }

    @Test(arguments: [
        ("amqp://mra:secret@rabbit/", AMQPURIError.inlinePassword),
        ("amqp://mra:@rabbit/", .inlinePassword),
        ("http://rabbit/", .unsupportedScheme("http")),
        ("rabbit:5672", .invalid("expected amqp://USER@HOST:PORT/VHOST")),
        ("amqp://mra@/", .missingHost),
        ("amqp://mra@rabbit:0/", .invalidPort("0")),
        ("amqp://mra@rabbit:65536/", .invalidPort("65536")),
        ("amqp://mra@rabbit:56x2/", .invalidPort("56x2")),
        ("amqp://mra@rabbit:/", .invalidPort("")),
        ("amqp://mra@rabbit/a/b", .vhostWithSlash("a/b")),
        ("amqp://mra@rabbit/%zz", .invalidEscape("%zz")),
        ("amqp://mra@rabbit/?frame_max=1", .unsupportedQuery("frame_max=1")),
        ("amqp://mra@rabbit/#x", .invalid("a fragment (#…) has no meaning here")),
    ])
    func refuses(_ uri: String, _ expected: AMQPURIError) {
        #expect(throws: expected) { try AMQPEndpoint(parsing: uri) }
    }

    @Test func anInlinePasswordErrorTellsWhereThePasswordGoesAndNeverEchoesIt() {
        do {
            _ = try AMQPEndpoint(parsing: "amqp://mra:hunter2@rabbit/")
            Issue.record("accepted an inline password")
        } catch {
            #expect(error.description.contains("password file"))
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test func heartbeatQueryIsTheOneQueryAccepted() throws {
        #expect(try AMQPEndpoint(parsing: "amqp://mra@rabbit/?heartbeat=5").heartbeat == 5)
    }

    @Test func descriptionHasNoSecretAndEscapesTheVhost() throws {
        #expect(try AMQPEndpoint(parsing: "amqp://mra@rabbit/").description == "amqp://mra@rabbit:5672/%2F")
        #expect(try AMQPEndpoint(parsing: "amqps://mra@[2001:db8::1]/a%2Fb").description == "amqps://mra@[2001:db8::1]:5671/a%2Fb")
        // What it prints parses back to the same endpoint.
        let e = try AMQPEndpoint(parsing: "amqp://a%20b@rabbit:5679/x%2Fy")
        #expect(try AMQPEndpoint(parsing: e.description) == e)
    }

    @Test func defaultQueueNameNamesHostTableAndProtocol() {
        #expect(defaultEventsQueueName(hostname: "net-1", table: 254, protocol: 200) == "metadata-route-agent.net-1.254.200")
        let long = defaultEventsQueueName(hostname: String(repeating: "h", count: 300), table: 4_000_000_000, protocol: 255)
        #expect(long.utf8.count == 255)
        #expect(long.hasSuffix(".4000000000.255"))
    }

    @Test func backoffDoublesUpToFiveSecondsAndResets() {
        var b = ReconnectBackoff()
        let seq = (0..<9).map { _ in b.next() }
        #expect(seq == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
                        .milliseconds(3200), .seconds(5), .seconds(5), .seconds(5)])
        b.reset()
        #expect(b.next() == .milliseconds(100))
    }

    @Test func queueDeclarationIsDurableWithExpiresInMillisecondsAndMaxLength() {
        let c = EventStreamConfiguration(endpoint: AMQPEndpoint(host: "h"), password: "p", queue: "q",
                                         queueExpires: .seconds(1800), queueMaxLength: 5000)
        #expect(c.queueDeclaration == QueueDeclare(queue: "q", durable: true,
                                                   arguments: ["x-expires": .int64(1_800_000), "x-max-length": .int64(5000)]))
    }
}
