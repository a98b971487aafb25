#if canImport(Model)
import Model
#endif

/// One netlink datagram socket as the request engine sees it: send a datagram, receive one.
/// The real one is `SocketTransport`; tests script a fake (TestSupport's `ScriptedTransport`, in the manner of
/// mdlayher/netlink's `nltest`), so the real codec runs without root and without a kernel.
public protocol NetlinkTransport: AnyObject {
    /// Sends one datagram (any number of messages back to back). Throws `NetlinkError`.
    func send(_ datagram: [UInt8]) throws
    /// Receives one datagram; nil when none arrived within `timeout` (nil timeout = wait forever,
    /// `.zero` = only what is already queued). Throws `NetlinkError` with `ENOBUFS` when the kernel
    /// dropped messages because the receive buffer was full.
    func receive(timeout: Duration?) throws -> [UInt8]?
}

/// How many requests go out per `sendmsg`.
///
/// The kernel handles every request of a `sendmsg` before the call returns and queues one ACK per
/// request; an ACK that does not fit the receive buffer is dropped (`ENOBUFS`). So a batch is capped in
/// messages as well as bytes, to stay well inside the receive buffer the socket asked for.
struct BatchLimits: Hashable, Sendable {
    var maxBytes = 64 * 1024
    var maxMessages = 1024
    var ackTimeout: Duration = .seconds(30)
    var dumpTimeout: Duration = .seconds(30)
    var dumpAttempts = 5
}

/// Sends requests with sequence numbers and matches replies to them: batches with one ACK per
/// request, and dumps (multi-part replies up to `NLMSG_DONE`, retried when interrupted).
final class RequestEngine {
    let transport: any NetlinkTransport
    var limits: BatchLimits
    private(set) var statistics = NetlinkStatistics()
    private var nextSequence: UInt32

    init(transport: any NetlinkTransport, limits: BatchLimits = BatchLimits(), firstSequence: UInt32 = 1) {
        self.transport = transport
        self.limits = limits
        nextSequence = firstSequence
    }

    private func takeSequences(_ n: Int) -> UInt32 {
        let s = nextSequence
        nextSequence &+= UInt32(n)
        if nextSequence == 0 { nextSequence = 1 }
        return s
    }

    private func send(_ b: MessageBuilder) throws {
        try transport.send(b.bytes)
        statistics.sendCalls += 1
        statistics.messagesSent += b.messageCount
        statistics.bytesSent += b.count
    }

    private func receive(timeout: Duration?) throws -> [UInt8]? {
        let d = try transport.receive(timeout: timeout)
        if let d {
            statistics.receiveCalls += 1
            statistics.bytesReceived += d.count
        }
        return d
    }

    /// Applies the operations in order; `results[i]` is nil when `ops[i]` succeeded.
    /// Every request carries `NLM_F_ACK` and its own sequence number, so one failure never hides or
    /// aborts another. ACKs may come in any order and any grouping into datagrams.
    func apply(_ ops: [KernelOperation]) -> [NetlinkError?] {
        var results = [NetlinkError?](repeating: nil, count: ops.count)
        var maxMessages = max(1, limits.maxMessages)
        var i = 0
        var builder = MessageBuilder(capacity: limits.maxBytes + 256)
        while i < ops.count {
            builder = MessageBuilder(capacity: limits.maxBytes + 256)
            let base = nextSequence
            var n = 0
            while i + n < ops.count, n < maxMessages, builder.count < limits.maxBytes {
                builder.append(ops[i + n], sequence: base &+ UInt32(n))
                n += 1
            }
            _ = takeSequences(n)
            do {
                try send(builder)
            } catch {
                let e = (error as? NetlinkError) ?? NetlinkError(errno: 5, extendedMessage: "\(error)")
                for k in 0..<n { results[i + k] = e.during(ops[i + k].summary) }
                i += n
                continue
            }
            var acked = [Bool](repeating: false, count: n)
            var pending = n
            var overflowed = false
            var failure: NetlinkError?
            while pending > 0 {
                let datagram: [UInt8]?
                do {
                    // After an overflow the kernel has already queued every ACK it could: drain, don't wait.
                    datagram = try receive(timeout: overflowed ? .zero : limits.ackTimeout)
                } catch let e as NetlinkError where e.errno == NetlinkError.ENOBUFS {
                    overflowed = true
                    continue
                } catch {
                    failure = (error as? NetlinkError) ?? NetlinkError(errno: 5, extendedMessage: "\(error)")
                    break
                }
                guard let datagram else { break }
                do {
                    try forEachMessage(ByteView(datagram)) { m throws(DecodeError) in
                        statistics.messagesReceived += 1
                        guard m.type == NLMsgType.error else { return }
                        let k = Int(m.sequence &- base)
                        guard m.sequence &- base < UInt32(n), !acked[k] else { return }
                        let ack = try decodeAcknowledgement(m)
                        acked[k] = true
                        pending -= 1
                        if let e = ack.error { results[i + k] = e.during(ops[i + k].summary) }
                    }
                } catch {
                    // A datagram we cannot parse carries no result we could attribute; its requests
                    // end up "no acknowledgement" below unless a later datagram answers them.
                    continue
                }
            }
            if pending > 0 {
                let e: NetlinkError
                if let failure {
                    e = failure
                } else if overflowed {
                    e = NetlinkError(errno: NetlinkError.ENOBUFS,
                                     extendedMessage: "acknowledgement lost (receive buffer overflow); the result is unknown")
                    maxMessages = max(16, maxMessages / 2)
                } else {
                    e = NetlinkError(errno: NetlinkError.ETIMEDOUT, extendedMessage: "no acknowledgement from the kernel")
                }
                for k in 0..<n where !acked[k] { results[i + k] = e.during(ops[i + k].summary) }
            }
            i += n
        }
        return results
    }

    /// Runs a dump and decodes each reply message with `decode` (nil = skip it). A dump the kernel marks
    /// `NLM_F_DUMP_INTR` (the data changed while it was read) or that lost messages is run again,
    /// up to `limits.dumpAttempts` times.
    func dump<T>(_ operation: String,
                 request: (inout MessageBuilder, UInt32) -> Void,
                 decode: (NetlinkMessage) throws(DecodeError) -> T?) throws -> [T] {
        for _ in 0..<max(1, limits.dumpAttempts) {
            let seq = takeSequences(1)
            var b = MessageBuilder(capacity: 64)
            request(&b, seq)
            do { try send(b) } catch let e as NetlinkError { throw e.during(operation) }
            var out: [T] = []
            var interrupted = false
            var finished = false
            var failure: NetlinkError?
            while !finished {
                let datagram: [UInt8]?
                do {
                    datagram = try receive(timeout: limits.dumpTimeout)
                } catch let e as NetlinkError where e.errno == NetlinkError.ENOBUFS {
                    interrupted = true
                    continue
                } catch let e as NetlinkError {
                    throw e.during(operation)
                }
                guard let datagram else {
                    throw NetlinkError(errno: NetlinkError.ETIMEDOUT, extendedMessage: "dump did not finish", operation: operation)
                }
                do {
                    try forEachMessage(ByteView(datagram)) { m throws(DecodeError) in
                        statistics.messagesReceived += 1
                        guard m.sequence == seq, !finished else { return }
                        if m.flags & NLMFlag.dumpIntr != 0 { interrupted = true }
                        switch m.type {
                        case NLMsgType.done:
                            failure = try decodeDone(m).error
                            finished = true
                        case NLMsgType.error:
                            failure = try decodeAcknowledgement(m).error
                            finished = true
                        case NLMsgType.noop, NLMsgType.overrun:
                            break
                        default:
                            if !interrupted, let v = try decode(m) { out.append(v) }
                        }
                    }
                } catch {
                    throw NetlinkError(error, operation: operation)
                }
            }
            if let failure { throw failure.during(operation) }
            if !interrupted { return out }
        }
        throw NetlinkError(errno: NetlinkError.EINTR,
                           extendedMessage: "dump interrupted by concurrent changes \(limits.dumpAttempts) times in a row",
                           operation: operation)
    }
}
