import Testing
@testable import Events

/// The delays the stream asked to sleep, recorded instead of slept.
private actor Sleeps {
    var delays: [Duration] = []
    func record(_ d: Duration) { delays.append(d) }
}

@Suite("The reconnecting consumer, with injected sleep")
struct EventStreamTests {
    @Test func anUnreachableBrokerIsReportedAndRetriedWithTheCappedBackoff() async throws {
        let sleeps = Sleeps()
        // Port 1 on loopback: nothing listens, the connect is refused at once.
        let config = EventStreamConfiguration(endpoint: AMQPEndpoint(host: "127.0.0.1", port: 1), password: "p", queue: "q",
                                              backoff: ReconnectBackoff(initial: .seconds(1), maximum: .seconds(5)))
        let stream = EventStream(configuration: config, sleep: { await sleeps.record($0) })
        var reported: [Duration] = []
        for await event in stream.events() {
            guard case .disconnected(let error, let retryIn) = event else { Issue.record("unexpected \(event)"); break }
            guard case .connectionLost(let why) = error else { Issue.record("\(error)"); break }
            #expect(why.contains("127.0.0.1:1"))
            reported.append(retryIn)
            if reported.count == 5 { break }
        }
        #expect(reported == [.seconds(1), .seconds(2), .seconds(4), .seconds(5), .seconds(5)])
        // Each report is followed by its sleep (the fifth may still be on its way when the loop stops).
        #expect(await sleeps.delays.prefix(4) == reported.prefix(4))
    }
}
