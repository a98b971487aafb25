#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Serves `/metrics` (Prometheus text), `/healthz` (the process is alive) and `/readyz` (a reconcile
/// read everything within the last three intervals) over plain HTTP/1.1.
///
/// Built so that no client can hurt the agent (`Limits`): it runs on an event loop of its own, holds at
/// most `maxConnections` connections (its file-descriptor budget; a new connection at the limit evicts
/// the oldest one that has not finished its request, so a flood of half-sent requests cannot lock out a
/// scrape), gives each request `headerTimeout` to arrive complete and `maxRequestBytes` to fit in, and
/// closes keep-alive connections idle for `idleTimeout`.
public final class MetricsServer: Sendable {
    public typealias Responder = @Sendable (_ path: String) -> (status: HTTPResponseStatus, contentType: String, body: String)

    /// What a client may cost the server.
    public struct Limits: Sendable, Hashable {
        /// Open connections at most (the server's own file-descriptor budget, plus its listening socket).
        public var maxConnections = 32
        /// From the first byte of a request (or the connection's opening) to its complete arrival.
        public var headerTimeout: TimeAmount = .seconds(5)
        /// A keep-alive connection with no request for this long is closed.
        public var idleTimeout: TimeAmount = .seconds(30)
        /// A request (head and body) larger than this is refused and its connection closed.
        public var maxRequestBytes = 8192
        public init() {}
    }

    private let channel: any Channel
    private let ownGroup: MultiThreadedEventLoopGroup?
    /// The connections open now (for tests and the chaos suite's assertions).
    public let tracker: ConnectionTracker
    /// The address actually bound (port 0 picks a free one).
    public let boundPort: Int

    /// Binds and starts serving; throws when the address cannot be bound. Without `group`, the server
    /// runs on one event-loop thread of its own, apart from the agent's Neutron client.
    public init(host: String, port: Int, group: (any EventLoopGroup)? = nil, limits: Limits = Limits(),
                responder: @escaping Responder) async throws {
        let own = group == nil ? MultiThreadedEventLoopGroup(numberOfThreads: 1) : nil
        let tracker = ConnectionTracker(limit: limits.maxConnections)
        let bootstrap = ServerBootstrap(group: group ?? own!)
            .serverChannelOption(ChannelOptions.backlog, value: 128)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try MetricsServer.configure(channel, tracker: tracker, limits: limits, responder: responder)
                }
            }
        do {
            channel = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            try? await own?.shutdownGracefully()
            throw error
        }
        ownGroup = own
        self.tracker = tracker
        boundPort = channel.localAddress?.port ?? port
    }

    public func close() async {
        try? await channel.close()
        tracker.closeAll()
        try? await ownGroup?.shutdownGracefully()
    }

    /// The handlers of one connection: the guard (limits, timeouts, eviction), HTTP/1.1, the responder.
    public static func configure(_ channel: any Channel, tracker: ConnectionTracker, limits: Limits, responder: @escaping Responder) throws {
        let state = ConnectionState()
        let guardHandler = ConnectionGuard(state: state, tracker: tracker, limits: limits)
        let ops = channel.pipeline.syncOperations
        try ops.addHandler(guardHandler)
        try ops.configureHTTPServerPipeline(withErrorHandling: true)
        try ops.addHandler(Handler(responder: responder, state: state, guardHandler: guardHandler))
    }

    /// The standard responder for the agent's three paths.
    public static func agentResponder(metrics: AgentMetrics, ready: @escaping @Sendable () -> (Bool, String)) -> Responder {
        { path in
            switch path {
            case "/metrics":
                return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.exposition())
            case "/healthz":
                return (.ok, "text/plain; charset=utf-8", "ok\n")
            case "/readyz":
                let (ok, why) = ready()
                return (ok ? .ok : .serviceUnavailable, "text/plain; charset=utf-8", why + "\n")
            default:
                return (.notFound, "text/plain; charset=utf-8", "not found: try /metrics, /healthz or /readyz\n")
            }
        }
    }

    /// Where a connection stands; touched only on its channel's event loop.
    final class ConnectionState: @unchecked Sendable {
        /// Bytes of the request being received.
        var requestBytes = 0
        /// True between a request's first byte (or the connection's opening) and its end.
        var receiving = true
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let responder: Responder
        let state: ConnectionState
        let guardHandler: ConnectionGuard
        var head: HTTPRequestHead?

        init(responder: @escaping Responder, state: ConnectionState, guardHandler: ConnectionGuard) {
            self.responder = responder
            self.state = state
            self.guardHandler = guardHandler
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): head = h
            case .body: break
            case .end:
                guard let h = head else { return }
                head = nil
                guardHandler.requestComplete()
                let path = String(h.uri.split(separator: "?", maxSplits: 1).first ?? "")
                let (status, type, body): (HTTPResponseStatus, String, String)
                if h.method == .GET || h.method == .HEAD {
                    (status, type, body) = responder(path)
                } else {
                    (status, type, body) = (.methodNotAllowed, "text/plain; charset=utf-8", "only GET\n")
                }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: type)
                headers.add(name: "Content-Length", value: "\(body.utf8.count)")
                headers.add(name: "Connection", value: h.isKeepAlive ? "keep-alive" : "close")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
                if h.method != .HEAD {
                    context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
                }
                let keepAlive = h.isKeepAlive
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                    if !keepAlive { channel.close(promise: nil) }
                }
            }
        }
    }
}

/// Counts the server's connections and picks which to evict at the limit: the oldest one still
/// receiving its request, else the oldest idle one.
public final class ConnectionTracker: Sendable {
    private struct Entry {
        let order: Int
        let channel: any Channel
        var receiving: Bool
    }
    private struct Table {
        var entries: [ObjectIdentifier: Entry] = [:]
        var counter = 0
        var evicted = 0
    }
    private let table = Mutex(Table())
    public let limit: Int

    public init(limit: Int) { self.limit = max(1, limit) }

    /// Open connections now.
    public var count: Int { table.withLock { $0.entries.count } }
    /// Connections closed to make room so far.
    public var evictions: Int { table.withLock { $0.evicted } }

    /// Registers `channel`; returns the connection to close to stay within the limit, if any.
    func admit(_ channel: any Channel) -> (any Channel)? {
        table.withLock { t in
            var victim: (any Channel)?
            if t.entries.count >= limit {
                let candidates = t.entries.values.sorted { $0.order < $1.order }
                if let v = candidates.first(where: \.receiving) ?? candidates.first {
                    victim = v.channel
                    t.entries[ObjectIdentifier(v.channel)] = nil
                    t.evicted += 1
                }
            }
            t.counter += 1
            t.entries[ObjectIdentifier(channel)] = Entry(order: t.counter, channel: channel, receiving: true)
            return victim
        }
    }

    func setReceiving(_ channel: any Channel, _ receiving: Bool) {
        table.withLock { $0.entries[ObjectIdentifier(channel)]?.receiving = receiving }
    }

    func remove(_ channel: any Channel) {
        table.withLock { _ = $0.entries.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func closeAll() {
        let all = table.withLock { t -> [any Channel] in
            defer { t.entries = [:] }
            return t.entries.values.map(\.channel)
        }
        for c in all { c.close(promise: nil) }
    }
}

/// First in each connection's pipeline: admits it (evicting another at the limit), enforces the header
/// and idle timeouts and the request size.
final class ConnectionGuard: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let state: MetricsServer.ConnectionState
    let tracker: ConnectionTracker
    let limits: MetricsServer.Limits
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(state: MetricsServer.ConnectionState, tracker: ConnectionTracker, limits: MetricsServer.Limits) {
        self.state = state
        self.tracker = tracker
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private var started = false
    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        if let victim = tracker.admit(context.channel) { victim.close(promise: nil) }
        arm(limits.headerTimeout, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        tracker.remove(context.channel)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytes
        if !state.receiving {
            // The first bytes of the next request on a kept-alive connection.
            state.receiving = true
            state.requestBytes = 0
            tracker.setReceiving(context.channel, true)
            arm(limits.headerTimeout, context: context)
        }
        state.requestBytes += bytes
        if state.requestBytes > limits.maxRequestBytes {
            timer?.cancel()
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    /// Called by the HTTP handler when a request has fully arrived.
    func requestComplete() {
        state.receiving = false
        state.requestBytes = 0
        guard let context else { return }
        tracker.setReceiving(context.channel, false)
        arm(limits.idleTimeout, context: context)
    }

    private func arm(_ timeout: TimeAmount, context: ChannelHandlerContext) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }
}
