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

/// Serves `/metrics` (Prometheus text), `/healthz` (the process is alive) and `/readyz` (a reconcile
/// read everything within the last three intervals) over plain HTTP/1.1.
public final class MetricsServer: Sendable {
    public typealias Responder = @Sendable (_ path: String) -> (status: HTTPResponseStatus, contentType: String, body: String)

    private let channel: any Channel
    /// The address actually bound (port 0 picks a free one).
    public let boundPort: Int

    /// Binds and starts serving; throws when the address cannot be bound.
    public init(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                responder: @escaping Responder) async throws {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(Handler(responder: responder))
                }
            }
        channel = try await bootstrap.bind(host: host, port: port).get()
        boundPort = channel.localAddress?.port ?? port
    }

    public func close() async {
        try? await channel.close()
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

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let responder: Responder
        var head: HTTPRequestHead?

        init(responder: @escaping Responder) { self.responder = responder }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): head = h
            case .body: break
            case .end:
                guard let h = head else { return }
                head = nil
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
