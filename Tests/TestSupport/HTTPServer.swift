import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A request as the scripted server received it.
public struct ScriptedRequest: Sendable {
    public var method: String
    /// Path and query exactly as sent (`/v2.0/routers?limit=2`).
    public var uri: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String, uri: String, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }

    /// The path without the query, percent-decoded.
    public var path: String {
        let raw = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        return raw.removingPercentEncoding ?? raw
    }

    /// The raw query (after `?`), or an empty string.
    public var query: String {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count > 1 ? String(parts[1]) : ""
    }

    /// Query parameters in order, percent-decoded (`+` stays `+`).
    public var queryItems: [(name: String, value: String)] {
        query.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let k = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let v = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
            return (k, v)
        }
    }

    /// Every value of one query parameter, in order.
    public func queryValues(_ name: String) -> [String] {
        queryItems.filter { $0.name == name }.map(\.value)
    }

    public func header(_ name: String) -> String? {
        headers.first(name: name)
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// What the scripted server answers.
public struct ScriptedResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Wait this long before answering (for timeout tests).
    public var delay: Duration
    /// Close the connection without answering (a connection error for the client).
    public var dropConnection: Bool
    /// Announce the whole body (`Content-Length`) but send only its first N bytes, then close the
    /// connection: a body cut off in transit.
    public var truncateAfter: Int?

    public init(status: Int = 200, headers: [(String, String)] = [], body: [UInt8] = [], delay: Duration = .zero,
                dropConnection: Bool = false, truncateAfter: Int? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.dropConnection = dropConnection
        self.truncateAfter = truncateAfter
    }

    public static func json(_ text: String, status: Int = 200, headers: [(String, String)] = []) -> ScriptedResponse {
        ScriptedResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
    }

    public static func json(data: Data, status: Int = 200, headers: [(String, String)] = []) -> ScriptedResponse {
        ScriptedResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(data))
    }

    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain") -> ScriptedResponse {
        ScriptedResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    public static let drop = ScriptedResponse(status: 0, dropConnection: true)
}

/// An HTTP/1.1 server on 127.0.0.1 (ephemeral port) that answers each request with a handler,
/// records every request, and keeps connections alive. Built on SwiftNIO's NIOHTTP1 with plain
/// channel handlers (no NIOAsyncChannel, so a connection racing with shutdown is simply closed).
///
/// ```swift
/// let server = try await ScriptedHTTPServer.start { request in
///     request.path == "/v2.0/routers" ? .json(#"{"routers": []}"#) : .json("{}", status: 404)
/// }
/// // … point a client at server.baseURL …
/// let seen = await server.requests()
/// await server.shutdown()
/// ```
public final class ScriptedHTTPServer: Sendable {
    public typealias Handler = @Sendable (ScriptedRequest) async -> ScriptedResponse

    public let port: Int
    /// `http`, or `https` when started with TLS.
    public let scheme: String
    private let serverChannel: any Channel
    private let log: RequestLog
    private let connections: ConnectionSet

    /// `http://127.0.0.1:<port>` (`https://` with TLS)
    public var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    private init(port: Int, scheme: String, serverChannel: any Channel, log: RequestLog, connections: ConnectionSet) {
        self.port = port
        self.scheme = scheme
        self.serverChannel = serverChannel
        self.log = log
        self.connections = connections
    }

    /// Binds 127.0.0.1 on `port` (0: an ephemeral port) and starts answering with `handler`; HTTPS when `tls` is given.
    public static func start(port: Int = 0, tls: NIOSSLContext? = nil, handler: @escaping Handler) async throws -> ScriptedHTTPServer {
        let log = RequestLog()
        let connections = ConnectionSet()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    guard connections.add(child) else {
                        child.close(promise: nil)
                        return
                    }
                    if let tls {
                        try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try child.pipeline.syncOperations.addHandler(ScriptedHTTPHandler(handler: handler, log: log))
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        let boundPort = channel.localAddress?.port ?? 0
        return ScriptedHTTPServer(port: boundPort, scheme: tls == nil ? "http" : "https", serverChannel: channel, log: log,
                                  connections: connections)
    }

    /// Every request received so far, in arrival order.
    public func requests() async -> [ScriptedRequest] {
        await log.all()
    }

    /// How many TCP connections were accepted so far (keep-alive makes this smaller than the request count).
    public func connectionCount() async -> Int {
        connections.accepted
    }

    /// Forgets the recorded requests.
    public func resetRequests() async {
        await log.reset()
    }

    /// Stops listening and closes every open connection.
    public func shutdown() async {
        try? await serverChannel.close()
        for c in connections.closeAll() {
            try? await c.close()
        }
    }
}

/// One connection: collects a request, asks the handler, writes the answer.
final class ScriptedHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: ScriptedHTTPServer.Handler
    private let log: RequestLog
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(handler: @escaping ScriptedHTTPServer.Handler, log: RequestLog) {
        self.handler = handler
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
        case .body(let buffer):
            body += Array(buffer.readableBytesView)
        case .end:
            guard let h = head else { return }
            head = nil
            let request = ScriptedRequest(method: h.method.rawValue, uri: h.uri, headers: h.headers, body: body)
            let handler = self.handler
            let log = self.log
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let promise = context.eventLoop.makePromise(of: ScriptedResponse.self)
            promise.completeWithTask {
                await log.append(request)
                let response = await handler(request)
                if response.delay > .zero { try? await Task.sleep(for: response.delay) }
                return response
            }
            promise.futureResult.whenSuccess { response in
                let context = bound.value
                guard context.channel.isActive else { return }
                if response.dropConnection {
                    context.close(promise: nil)
                    return
                }
                var headers = HTTPHeaders(response.headers)
                headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
                let keepAlive = h.isKeepAlive
                if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
                let status = HTTPResponseStatus(statusCode: response.status)
                context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: h.version, status: status, headers: headers))), promise: nil)
                if let cut = response.truncateAfter, cut < response.body.count {
                    let part = ByteBuffer(bytes: response.body.prefix(max(0, cut)))
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(part)))).whenComplete { _ in
                        bound.value.close(promise: nil)
                    }
                    return
                }
                context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                let done = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
                if !keepAlive {
                    done.whenComplete { _ in bound.value.close(promise: nil) }
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Recorded requests.
actor RequestLog {
    private var entries: [ScriptedRequest] = []

    func append(_ r: ScriptedRequest) { entries.append(r) }
    func all() -> [ScriptedRequest] { entries }
    func reset() { entries = [] }
}

/// Open connections, so that shutdown can close them; refuses new ones once closed.
final class ConnectionSet: @unchecked Sendable {
    private let lock = NSLock()
    private var channels: [ObjectIdentifier: any Channel] = [:]
    private var closed = false
    private var count = 0

    var accepted: Int {
        lock.lock(); defer { lock.unlock() }
        return count
    }

    func add(_ c: any Channel) -> Bool {
        lock.lock()
        guard !closed else {
            lock.unlock()
            return false
        }
        channels[ObjectIdentifier(c)] = c
        count += 1
        lock.unlock()
        c.closeFuture.whenComplete { [weak self] _ in self?.remove(c) }
        return true
    }

    private func remove(_ c: any Channel) {
        lock.lock(); defer { lock.unlock() }
        channels[ObjectIdentifier(c)] = nil
    }

    func closeAll() -> [any Channel] {
        lock.lock(); defer { lock.unlock() }
        closed = true
        let all = Array(channels.values)
        channels = [:]
        return all
    }
}
