import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin listener: `/healthz`, `/readyz` and `GET /admin/config`. Small and rarely hit, so
/// it is a plain NIO handler rather than a framework that would cost build time.
public final class AdminListener: Sendable {
    let listen: String
    let state: GatewayState
    let metrics: GatewayMetrics?

    public init(listen: String, state: GatewayState, metrics: GatewayMetrics? = nil) {
        self.listen = listen
        self.state = state
        self.metrics = metrics
    }

    public func bind(group: EventLoopGroup) async throws -> Channel {
        guard let hp = HostPort.parse(listen) else { throw ListenerError.badAddress(listen) }
        let state = self.state
        let metrics = self.metrics
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(state: state, metrics: metrics))
                }
            }
            .bind(host: hp.host, port: hp.port).get()
    }
}

final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let state: GatewayState
    let metrics: GatewayMetrics?
    private var head: HTTPRequestHead?

    init(state: GatewayState, metrics: GatewayMetrics?) {
        self.state = state
        self.metrics = metrics
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, head: head)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let (status, body): (HTTPResponseStatus, JSONValue)
        switch (head.method, path) {
        case (.GET, "/healthz"):
            (status, body) = (.ok, .object([("status", .string("ok"))]))
        case (.GET, "/readyz"):
            let ready = state.isReady
            (status, body) = (ready ? .ok : .serviceUnavailable, .object([("status", .string(ready ? "ready" : "starting"))]))
        case (.GET, "/admin/config"):
            (status, body) = (.ok, state.config.effectiveJSON)
        case (.GET, "/metrics"):
            let text = ByteBuffer(bytes: metrics?.exposition() ?? [])
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/plain; version=0.0.4; charset=utf-8")
            headers.add(name: "content-length", value: String(text.readableBytes))
            return send(context: context, head: HTTPResponseHead(version: head.version, status: .ok, headers: headers), body: text, keepAlive: head.isKeepAlive)
        case (_, "/healthz"), (_, "/readyz"), (_, "/admin/config"), (_, "/metrics"):
            return write(context: context, head: head, problem: ProblemDetails(status: .methodNotAllowed, headers: [("allow", "GET")]))
        default:
            return write(context: context, head: head, problem: ProblemDetails(status: .notFound, title: "No such admin endpoint"))
        }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        body.write(to: &buffer)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(buffer.readableBytes))
        send(context: context, head: HTTPResponseHead(version: head.version, status: status, headers: headers), body: buffer, keepAlive: head.isKeepAlive)
    }

    private func write(context: ChannelHandlerContext, head: HTTPRequestHead, problem: ProblemDetails) {
        let body = problem.body(allocator: context.channel.allocator)
        send(context: context, head: problem.head(version: head.version, bodyLength: body.readableBytes, close: !head.isKeepAlive), body: body, keepAlive: head.isKeepAlive)
    }

    private func send(context: ChannelHandlerContext, head: HTTPResponseHead, body: ByteBuffer, keepAlive: Bool) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }
}
