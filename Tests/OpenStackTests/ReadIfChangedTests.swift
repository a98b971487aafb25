import Foundation
import Model
import Testing
import TestSupport
@testable import OpenStack

/// `readSnapshotIfChanged`: byte-identical pages are recognised by their digest and not decoded; any
/// change gives the whole snapshot, the same as a fresh client reads; the requests stay the same.
@Suite("Neutron reads: unchanged pages skipped", .timeLimit(.minutes(2)))
struct ReadIfChangedTests {
    func client(_ server: ScriptedHTTPServer) throws -> NeutronClient {
        var config = CloudConfig(authType: .none)
        config.networkEndpointOverride = server.baseURL + "/"
        var options = fastOptions
        options.pageSize = 40
        return try NeutronClient(config: config, options: options, logger: CapturedLogs().logger)
    }

    @Test func anUnchangedCloudIsNilAndAChangeIsTheWholeSnapshot() async throws {
        let standIn = NeutronStandIn(routers: 100, maxPageSize: 40)
        let server = try await standIn.start()
        let c = try client(server)
        let first = try #require(try await c.readSnapshotIfChanged())
        #expect(first.routers.count == 100)
        let firstRequests = standIn.counters.requests
        standIn.resetCounters()
        #expect(try await c.readSnapshotIfChanged() == nil)
        #expect(standIn.counters.requests == firstRequests)       // the same requests, only not decoded
        // readSnapshot on the same client after an unchanged read: the remembered snapshot.
        #expect(try await c.readSnapshot() == first)

        _ = try #require(standIn.churn(percent: 3))
        let changed = try #require(try await c.readSnapshotIfChanged())
        let fresh = try client(server)
        let reference = try await fresh.readSnapshot()
        #expect(changed == reference)
        #expect(changed != first)
        #expect(try await c.readSnapshotIfChanged() == nil)
        try await c.shutdown()
        try await fresh.shutdown()
        await server.shutdown()
    }

    @Test func aChangeOnALaterPageKeepsTheEarlierPagesItems() async throws {
        let standIn = NeutronStandIn(routers: 100, maxPageSize: 40)
        let server = try await standIn.start()
        let c = try client(server)
        var snapshot = standIn.snapshot
        _ = try await c.readSnapshot()
        // Rename the last router only: the last routers page differs, every other page is the same.
        let last = snapshot.routers.count - 1
        snapshot.routers[last].name = "renamed"
        standIn.serve(snapshot)
        let changed = try #require(try await c.readSnapshotIfChanged())
        let reference = try await client(server).readSnapshot()
        #expect(changed == reference)
        #expect(changed.routers.last?.name == "renamed")
        try await c.shutdown()
        await server.shutdown()
    }

    @Test func aFailedReadLeavesTheMemoryAsItWas() async throws {
        let standIn = NeutronStandIn(routers: 50, maxPageSize: 40)
        let server = try await standIn.start()
        let c = try client(server)
        _ = try await c.readSnapshot()
        standIn.addFault(.init(path: "/v2.0/subnets", count: 100, status: 500))
        await #expect(throws: (any Error).self) { try await c.readSnapshotIfChanged() }
        standIn.clearFaults()
        #expect(try await c.readSnapshotIfChanged() == nil)
        try await c.shutdown()
        await server.shutdown()
    }
}

@Suite("Page decoder: shared strings and byte parsers")
struct StringTableTests {
    func table(_ texts: [String]) throws -> [String] {
        let t = StringTable(capacity: 2)
        return try texts.map { s in
            let bytes = Array(s.utf8)
            return try bytes.withUnsafeBytes { raw in try t.intern(raw, 0..<raw.count) } ?? "(escaped)"
        }
    }

    @Test func equalTextsShareOneStorage() throws {
        let ids = (0..<500).map { "a0000000-0000-4000-8000-\(String(repeating: "0", count: 9))\($0 % 50 + 100)" }
        let out = try table(ids + ids)
        #expect(out == ids + ids)
        for (a, b) in zip(out.prefix(500), out.suffix(500)) {
            var x = a, y = b
            let same = x.withUTF8 { p in y.withUTF8 { q in p.baseAddress == q.baseAddress } }
            #expect(same)
        }
    }

    @Test func escapesControlCharactersShortStringsAndBadUTF8() throws {
        #expect(try table(["a\\nb and more than sixteen bytes"]) == ["(escaped)"])
        // Up to 15 bytes a String is stored inline: nothing to share, so the strict path makes it.
        #expect(try table(["", "x", "short", "exactly8", "fifteen bytes!!"]) == Array(repeating: "(escaped)", count: 5))
        let long = ["sixteen bytes!!!", "a string longer than sixteen bytes", String(repeating: "é", count: 20)]
        #expect(try table(long) == long)
        #expect(try table(["tab\there and more than sixteen bytes"]) == ["(escaped)"])      // a raw control character: the strict path
        #expect(try table([String(repeating: "x", count: 129)]) == ["(escaped)"])             // too long to be worth sharing
        let bad: [UInt8] = [0x61, 0xC3, 0x28] + Array(repeating: 0x62, count: 20)
        #expect(throws: JSONCursor.StringError.self) {
            try bad.withUnsafeBytes { raw in try StringTable().intern(raw, 0..<raw.count) }
        }
    }

    @Test func theTableGrowsAndKeepsEveryString() throws {
        let ids = (0..<20_000).map { "c0000000-0000-4000-8000-\(String(repeating: "0", count: 7))\(10_000 + $0)" }
        let t = StringTable(capacity: 1)
        for id in ids + ids {
            let bytes = Array(id.utf8)
            let s = try bytes.withUnsafeBytes { raw in try t.intern(raw, 0..<raw.count) }
            #expect(s == id)
        }
        #expect(t.count == ids.count)
    }

    @Test func byteParsersAgreeWithTheTextParsers() {
        let texts = ["10.0.0.0/24", "10.0.0.5/24", "10.0.0.0", "2001:db8::/48", "2001:db8::1/64", "::/0", "0.0.0.0/0", "fd00::/8",
                     "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/024", "10.0.0.0/a", "/24", "", "10.0.0.0/2/4", "::ffff:1.2.3.4/96",
                     "1.2.3.4/+1", "2001:db8::/129", "10.0.0.01/8", "10.0.0.0/24 ", "e\u{301}", "1:2:3:4:5:6:7:8", "1::2::3", "::1"]
        for t in texts {
            let bytes = Array(t.utf8)
            let p = bytes.withUnsafeBytes { IPPrefix(lenientUTF8: $0) }
            #expect(p == IPPrefix(lenient: t), "\(t)")
            let a = bytes.withUnsafeBytes { IPAddress(utf8: $0) }
            #expect(a == IPAddress(t), "\(t)")
        }
    }
}

@Suite("Body digest")
struct BodyDigestTests {
    /// `Transport.collect` feeds `Hasher` chunk by chunk as the body arrives: the digest must not depend on the split.
    @Test func theDigestDoesNotDependOnHowTheBodyWasSplit() {
        let body = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 3) }
        func digest(_ cuts: [Int]) -> Int {
            var h = Hasher()
            var start = 0
            for end in cuts + [body.count] {
                body[start..<end].withUnsafeBytes { h.combine(bytes: $0) }
                start = end
            }
            return h.finalize()
        }
        let whole = digest([])
        #expect(digest([1]) == whole)
        #expect(digest([7, 8, 9, 4096]) == whole)
        #expect(digest(Array(stride(from: 3, to: 10_000, by: 333))) == whole)
        var other = body
        other[5000] ^= 1
        var h = Hasher()
        other.withUnsafeBytes { h.combine(bytes: $0) }
        #expect(h.finalize() != whole)
    }
}
