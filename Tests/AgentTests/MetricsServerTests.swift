import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import Agent

/// The metrics server's defences, driven by hand on embedded channels (time advanced, never waited for).
@Suite struct MetricsServerTests {
    let responder: MetricsServer.Responder = { path in (.ok, "text/plain", path == "/healthz" ? "ok\n" : "x\n") }

    func connection(_ tracker: ConnectionTracker, _ limits: MetricsServer.Limits = .init()) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try MetricsServer.configure(channel, tracker: tracker, limits: limits, responder: responder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func send(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(channel.allocator.buffer(string: text))
    }

    /// Everything the server wrote, as text.
    func output(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while var b = try channel.readOutbound(as: ByteBuffer.self) { text += b.readString(length: b.readableBytes) ?? "" }
        return text
    }

    @Test func aCompleteRequestIsAnswered() throws {
        let c = try connection(ConnectionTracker(limit: 4))
        try send(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let out = try output(c)
        #expect(out.hasPrefix("HTTP/1.1 200 OK"))
        #expect(out.hasSuffix("ok\n"))
        #expect(c.isActive)
    }

    @Test func aRequestThatDoesNotArriveWithinTheHeaderTimeoutIsClosed() throws {
        let c = try connection(ConnectionTracker(limit: 4))
        try send(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n")   // never finished
        c.embeddedEventLoop.advanceTime(by: .milliseconds(4900))
        #expect(c.isActive)
        c.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!c.isActive)
    }

    @Test func aSilentConnectionIsClosedAtTheHeaderTimeoutToo() throws {
        let c = try connection(ConnectionTracker(limit: 4))
        c.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(!c.isActive)
    }

    @Test func anIdleKeepAliveConnectionIsClosedAtTheIdleTimeoutNotTheHeaderTimeout() throws {
        let c = try connection(ConnectionTracker(limit: 4))
        try send(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try output(c)
        c.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(c.isActive)
        // A second request restarts the header clock.
        try send(c, "GET /healthz HTTP/1.1\r\n")
        c.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(!c.isActive)
    }

    @Test func anOversizedRequestIsRefused() throws {
        var limits = MetricsServer.Limits()
        limits.maxRequestBytes = 1024
        let c = try connection(ConnectionTracker(limit: 4), limits)
        try send(c, "GET /metrics HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 2000) + "\r\n\r\n")
        #expect(!c.isActive)
        #expect(try output(c).isEmpty)
    }

    @Test func aNewConnectionAtTheLimitEvictsTheOldestUnfinishedOne() throws {
        let tracker = ConnectionTracker(limit: 3)
        let served = try connection(tracker)
        try send(served, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")   // finished: kept
        let slow1 = try connection(tracker)
        try send(slow1, "GET /metrics HTTP/1.1\r\n")
        let slow2 = try connection(tracker)
        try send(slow2, "GET /metrics HTTP/1.1\r\n")
        #expect(tracker.count == 3)
        let scrape = try connection(tracker)
        #expect(!slow1.isActive)
        #expect(served.isActive && slow2.isActive && scrape.isActive)
        try send(scrape, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try output(scrape).hasPrefix("HTTP/1.1 200 OK"))
        #expect(tracker.count == 3)
        #expect(tracker.evictions == 1)
    }

    @Test func aFloodOfHalfOpenConnectionsNeverLocksOutAScrape() throws {
        let tracker = ConnectionTracker(limit: 32)
        var flood: [EmbeddedChannel] = []
        for _ in 0..<1000 {
            let c = try connection(tracker)
            try send(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n")
            flood.append(c)
        }
        #expect(tracker.count == 32)
        #expect(flood.filter(\.isActive).count == 32)
        let scrape = try connection(tracker)
        try send(scrape, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try output(scrape).hasPrefix("HTTP/1.1 200 OK"))
        #expect(tracker.count <= 32)
    }
}
