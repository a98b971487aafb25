import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

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

    public init(status: Int = 200, headers: [(String, String)] = [], body: [UInt8] = [], delay: Duration = .zero,
                dropConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.dropConnection = dropConnection
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
/// records every request, and keeps connections alive. Built on SwiftNIO's NIOHTTP1.
///
/// ```swift
/// let server = try await ScriptedHTTPServer.start { request in
///     request.path == "/v2.0/routers" ? .json(#"{"routers": []}"#) : .json("{}", status: 404)
/// }
/// defer { Task { await server.shutdown() } }
/// // … point a client at server.baseURL …
/// let seen = await server.requests()
/// ```
public final class ScriptedHTTPServer: Sendable {
    public typealias Handler = @Sendable (ScriptedRequest) async -> ScriptedResponse

    public let port: Int
    private let serverChannel: any Channel
    private let acceptTask: Task<Void, Never>
    private let log: RequestLog

    /// `http://127.0.0.1:<port>`
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, serverChannel: any Channel, acceptTask: Task<Void, Never>, log: RequestLog) {
        self.port = port
        self.serverChannel = serverChannel
        self.acceptTask = acceptTask
        self.log = log
    }

    /// Binds 127.0.0.1 on `port` (0: an ephemeral port) and starts answering with `handler`.
    public static func start(port: Int = 0, handler: @escaping Handler) async throws -> ScriptedHTTPServer {
        let log = RequestLog()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        let boundPort = channel.channel.localAddress?.port ?? 0
        let inner = channel.channel
        let task = Task {
            await withDiscardingTaskGroup { group in
                do {
                    try await channel.executeThenClose { inbound in
                        for try await connection in inbound {
                            await log.register(connection.channel)
                            group.addTask {
                                await Self.serve(connection, handler: handler, log: log)
                            }
                        }
                    }
                } catch {
                    // the listening socket closed: shutting down
                }
            }
        }
        return ScriptedHTTPServer(port: boundPort, serverChannel: inner, acceptTask: task, log: log)
    }

    private static func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
                              handler: Handler, log: RequestLog) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        head = h
                        body = []
                    case .body(let buffer):
                        body += Array(buffer.readableBytesView)
                    case .end:
                        guard let h = head else { continue }
                        let request = ScriptedRequest(method: h.method.rawValue, uri: h.uri, headers: h.headers, body: body)
                        await log.append(request)
                        let response = await handler(request)
                        if response.delay > .zero { try await Task.sleep(for: response.delay) }
                        if response.dropConnection { return }
                        var headers = HTTPHeaders(response.headers)
                        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
                        let keepAlive = h.isKeepAlive
                        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
                        let status = HTTPResponseStatus(statusCode: response.status)
                        try await outbound.write(.head(HTTPResponseHead(version: h.version, status: status, headers: headers)))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                        try await outbound.write(.end(nil))
                        if !keepAlive { return }
                    }
                }
            }
        } catch {
            // the client went away or the server is shutting down
        }
    }

    /// Every request received so far, in arrival order.
    public func requests() async -> [ScriptedRequest] {
        await log.all()
    }

    /// Forgets the recorded requests.
    public func resetRequests() async {
        await log.reset()
    }

    /// Stops listening and closes every open connection.
    public func shutdown() async {
        try? await serverChannel.close()
        await log.closeAll()
        acceptTask.cancel()
        await acceptTask.value
    }
}

/// Recorded requests and open connections.
actor RequestLog {
    private var entries: [ScriptedRequest] = []
    private var channels: [any Channel] = []

    func append(_ r: ScriptedRequest) { entries.append(r) }
    func all() -> [ScriptedRequest] { entries }
    func reset() { entries = [] }
    func register(_ c: any Channel) { channels.append(c) }
    func closeAll() {
        for c in channels { c.close(promise: nil) }
        channels = []
    }
}
