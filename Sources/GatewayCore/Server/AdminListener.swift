import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// An admin endpoint a gate adds (`GET /admin/chargeback`): answered off the event loop.
package struct AdminEndpoint: Sendable {
    package struct Response: Sendable {
        package var status: HTTPResponseStatus
        package var contentType: String
        package var body: String

        package init(status: HTTPResponseStatus, contentType: String, body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    package var path: String
    package var method: HTTPMethod
    /// Gets the query parameters, percent-decoded.
    package var handle: @Sendable ([String: String]) async -> Response

    package init(path: String, method: HTTPMethod = .GET, handle: @escaping @Sendable ([String: String]) async -> Response) {
        self.path = path
        self.method = method
        self.handle = handle
    }
}

/// The admin listener: `/healthz`, `/readyz` and `GET /admin/config`, plus the endpoints gates
/// add. Small and rarely hit, so it is a plain NIO handler rather than a framework that would
/// cost build time.
package final class AdminListener: Sendable {
    let listen: String
    let state: GatewayState
    let metrics: GatewayMetrics?
    let endpoints: [AdminEndpoint]
    let allowedHosts: Set<String>

    package init(listen: String, state: GatewayState, metrics: GatewayMetrics? = nil, endpoints: [AdminEndpoint] = [],
                allowedHosts: [String] = []) {
        self.listen = listen
        self.state = state
        self.metrics = metrics
        self.endpoints = endpoints
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
    }

    package func bind(group: EventLoopGroup) async throws -> Channel {
        guard let hp = HostPort.parse(listen) else { throw ListenerError.badAddress(listen) }
        let state = self.state
        let metrics = self.metrics
        let endpoints = self.endpoints
        let allowedHosts = self.allowedHosts
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(state: state, metrics: metrics, endpoints: endpoints, allowedHosts: allowedHosts))
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
    let endpoints: [AdminEndpoint]
    let allowedHosts: Set<String>
    private var head: HTTPRequestHead?

    init(state: GatewayState, metrics: GatewayMetrics?, endpoints: [AdminEndpoint], allowedHosts: Set<String>) {
        self.state = state
        self.metrics = metrics
        self.endpoints = endpoints
        self.allowedHosts = allowedHosts
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
        if let reason = AdminRequestCheck.refusal(head, allowedHosts: allowedHosts) {
            return write(context: context, head: head, problem: ProblemDetails(status: .forbidden, title: reason))
        }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let here = endpoints.filter { $0.path == path }
        if !here.isEmpty {
            guard let endpoint = here.first(where: { $0.method == head.method }) else {
                let allow = here.map(\.method.rawValue).joined(separator: ", ")
                return write(context: context, head: head, problem: ProblemDetails(status: .methodNotAllowed, headers: [("allow", allow)]))
            }
            let query = Self.query(head.uri)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.makeFutureWithTask { await endpoint.handle(query) }.whenSuccess { response in
                let (handler, context) = loopBound.value
                var headers = HTTPHeaders()
                headers.add(name: "content-type", value: response.contentType)
                headers.add(name: "content-length", value: String(response.body.utf8.count))
                handler.send(context: context, head: HTTPResponseHead(version: head.version, status: response.status, headers: headers),
                             body: ByteBuffer(string: response.body), keepAlive: head.isKeepAlive)
            }
            return
        }
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

    /// `a=1&b=x%2Cy` as a dictionary (the first of repeated names wins).
    static func query(_ uri: String) -> [String: String] {
        guard let q = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        var out: [String: String] = [:]
        for pair in q.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            let name = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let value = kv.count == 2 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
            if out[name] == nil { out[name] = value }
        }
        return out
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
