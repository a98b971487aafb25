import Testing
@testable import Netlink
import Model
import TestSupport

private func routeOps(_ n: Int) -> [KernelOperation] {
    (0..<n).map { i in
        .addRoute(RouteSpec(destination: IPPrefix(address: IPAddress(v4: 0x0a00_0000 | UInt32(i) << 8), length: 24)!,
                            table: 254, proto: 200, target: .nexthop(UInt32(i + 1))))
    }
}

@Suite struct BatchApplyTests {
    @Test func oneFailureInABatchIsReportedForItsOperationOnlyWhileAcksArriveOutOfOrderAndSplit() throws {
        let transport = ScriptedTransport { requests in
            // Answer in reverse order: the last two ACKs share a datagram, the rest come one by one.
            let acks = requests.reversed().map { m in
                ackMessage(sequence: m.sequence, errno: m.sequence == requests[2].sequence ? 17 : 0, text: m.sequence == requests[2].sequence ? "File exists" : nil)
            }
            return [.datagram(acks[0] + acks[1])] + acks.dropFirst(2).map { .datagram($0) }
        }
        let socket = RouteSocket(transport: transport)
        let results = try socket.apply(routeOps(5))
        #expect(results.count == 5)
        #expect(results[2]?.errno == 17)
        #expect(results[2]?.extendedMessage == "File exists")
        #expect(results[2]?.operation == "add route 10.0.2.0/24 via nexthop 3 table 254")
        #expect(results.enumerated().allSatisfy { $0.offset == 2 || $0.element == nil })
        #expect(transport.sent.count == 1)
        #expect(socket.statistics.sendCalls == 1)
        #expect(socket.statistics.messagesSent == 5)
        #expect(socket.statistics.messagesReceived == 5)
    }

    @Test func largeBatchesAreSplitByMessageAndByteLimitsAndEveryRequestHasItsOwnSequence() throws {
        var seen: [UInt32] = []
        let transport = ScriptedTransport { requests in
            seen += requests.map(\.sequence)
            #expect(requests.allSatisfy { $0.flags & NLMFlag.ack != 0 })
            return requests.map { .datagram(ackMessage(sequence: $0.sequence)) }
        }
        let socket = RouteSocket(transport: transport, limits: BatchLimits(maxBytes: 1 << 20, maxMessages: 1000))
        let results = try socket.apply(routeOps(2500))
        #expect(results.allSatisfy { $0 == nil })
        #expect(transport.sent.count == 3)
        #expect(Set(seen).count == 2500)

        let byBytes = ScriptedTransport { $0.map { .datagram(ackMessage(sequence: $0.sequence)) } }
        let small = RouteSocket(transport: byBytes, limits: BatchLimits(maxBytes: 4096, maxMessages: 10_000))
        _ = try small.apply(routeOps(500))
        // 52-byte requests: a send closes once it reaches 4096 bytes, i.e. after 79 of them.
        #expect(byBytes.sent.dropLast().allSatisfy { $0.count == 79 * 52 })
        #expect(byBytes.sent.count == 7)
    }

    @Test func lostAcksAfterReceiveOverflowFailOnlyTheirOperationsWithEnobufs() throws {
        let transport = ScriptedTransport { requests in
            var items: [ScriptedTransport.Item] = [.datagram(ackMessage(sequence: requests[0].sequence))]
            items.append(.failure(NetlinkError(errno: 105)))   // the ACK of request 1 was dropped
            items += requests.dropFirst(2).map { .datagram(ackMessage(sequence: $0.sequence)) }
            return items
        }
        let socket = RouteSocket(transport: transport)
        let results = try socket.apply(routeOps(4))
        #expect(results[0] == nil)
        #expect(results[1]?.errno == 105)
        #expect(results[2] == nil && results[3] == nil)
    }

    @Test func missingAckIsATimeoutForThatOperation() throws {
        let transport = ScriptedTransport { requests in
            requests.dropLast().map { .datagram(ackMessage(sequence: $0.sequence)) }
        }
        let results = try RouteSocket(transport: transport).apply(routeOps(3))
        #expect(results[0] == nil && results[1] == nil)
        #expect(results[2]?.errno == 110)
    }

    @Test func duplicateAndStrayAcksAreIgnored() throws {
        let transport = ScriptedTransport { requests in
            var items: [ScriptedTransport.Item] = [.datagram(ackMessage(sequence: 999_999, errno: 1))]
            for m in requests {
                items.append(.datagram(ackMessage(sequence: m.sequence)))
                items.append(.datagram(ackMessage(sequence: m.sequence, errno: 22)))
            }
            return items
        }
        let results = try RouteSocket(transport: transport).apply(routeOps(3))
        #expect(results == [nil, nil, nil])
    }

    @Test func sendFailureFailsEveryOperationOfThatSendOnly() throws {
        final class FailingOnce: NetlinkTransport {
            var sends = 0
            var queue: [[UInt8]] = []
            func send(_ d: [UInt8]) throws {
                sends += 1
                if sends == 1 { throw NetlinkError(errno: 90, operation: "send netlink request") }
                queue += try parseMessages(d).map { ackMessage(sequence: $0.sequence) }
            }
            func receive(timeout: Duration?) throws -> [UInt8]? { queue.isEmpty ? nil : queue.removeFirst() }
        }
        let socket = RouteSocket(transport: FailingOnce(), limits: BatchLimits(maxMessages: 2))
        let results = try socket.apply(routeOps(4))
        #expect(results[0]?.errno == 90 && results[1]?.errno == 90)
        #expect(results[2] == nil && results[3] == nil)
    }
}

@Suite struct DumpTests {
    let r1 = KernelRoute(destination: IPPrefix("10.1.0.0/24")!, proto: 200, gateway: IPAddress("203.0.113.10")!)
    let r2 = KernelRoute(destination: IPPrefix("10.2.0.0/24")!, proto: 4, metric: 10, nexthopID: 5)

    @Test func multiPartDumpAcrossDatagramsEndsAtDoneAndSkipsStrayMessages() throws {
        let transport = ScriptedTransport { [r1, r2] req in
            let seq = req[0].sequence
            #expect(req[0].type == RTM.getRoute)
            #expect(req[0].flags == NLMFlag.request | NLMFlag.dump)
            return [
                .datagram(ackMessage(sequence: seq &- 1)),                              // late ACK of something else
                .datagram(routeReply(r1, sequence: seq) + routeReply(r2, sequence: seq)),
                .datagram(routeReply(r2, sequence: seq + 50) + doneMessage(sequence: seq)),
            ]
        }
        let routes = try RouteSocket(transport: transport).routes(family: .v4, table: 254)
        #expect(routes == [r1, r2])
    }

    @Test func bothFamiliesAreDumpedWhenNoFamilyIsGiven() throws {
        let transport = ScriptedTransport { req in
            let fam = req[0].payload.first
            let r = KernelRoute(destination: IPPrefix(fam == 2 ? "10.0.0.0/8" : "fd00::/8")!, proto: 200)
            return [.datagram(routeReply(r, sequence: req[0].sequence) + doneMessage(sequence: req[0].sequence))]
        }
        let routes = try RouteSocket(transport: transport).routes(family: nil, table: 254)
        #expect(routes.map(\.destination.description) == ["10.0.0.0/8", "fd00::/8"])
    }

    @Test func interruptedDumpIsRetriedAndOnlyTheCleanResultIsReturned() throws {
        var attempt = 0
        let transport = ScriptedTransport { [r1, r2] req in
            attempt += 1
            let seq = req[0].sequence
            if attempt == 1 {
                return [.datagram(routeReply(r1, sequence: seq, flags: NLMFlag.multi | NLMFlag.dumpIntr)
                                  + doneMessage(sequence: seq, flags: NLMFlag.multi | NLMFlag.dumpIntr))]
            }
            return [.datagram(routeReply(r2, sequence: seq) + doneMessage(sequence: seq))]
        }
        let socket = RouteSocket(transport: transport)
        #expect(try socket.routes(family: .v4, table: 254) == [r2])
        #expect(socket.statistics.sendCalls == 2)
    }

    @Test func dumpInterruptedEveryTimeFailsWithEintr() throws {
        let transport = ScriptedTransport { req in
            [.datagram(doneMessage(sequence: req[0].sequence, flags: NLMFlag.multi | NLMFlag.dumpIntr))]
        }
        #expect { try RouteSocket(transport: transport).routes(family: .v6, table: 254) } throws: { e in
            (e as? NetlinkError)?.errno == 4
        }
    }

    @Test func missingTableIsAnEmptyResult() throws {
        let transport = ScriptedTransport { req in [.datagram(doneMessage(sequence: req[0].sequence, status: -2))] }
        #expect(try RouteSocket(transport: transport).routes(family: nil, table: 4242).isEmpty)
    }

    @Test func unsupportedNexthopDumpThrowsItsErrno() throws {
        let transport = ScriptedTransport { req in [.datagram(ackMessage(sequence: req[0].sequence, errno: 95, requestType: RTM.getNexthop))] }
        let socket = RouteSocket(transport: transport)
        #expect { try socket.nexthops() } throws: { e in
            (e as? NetlinkError)?.errno == 95 && (e as? NetlinkError)?.operation == "dump nexthops"
        }
        #expect(!socket.supportsNexthopObjects())
    }

    @Test func malformedDumpReplyIsEbadmsgNotACrash() throws {
        let transport = ScriptedTransport { req in [.datagram(Array(routeReply(KernelRoute(destination: IPPrefix("10.0.0.0/8")!, proto: 1), sequence: req[0].sequence).prefix(30)))] }
        #expect { try RouteSocket(transport: transport).routes(family: .v4, table: 254) } throws: { e in
            (e as? NetlinkError)?.errno == 74
        }
    }
}
