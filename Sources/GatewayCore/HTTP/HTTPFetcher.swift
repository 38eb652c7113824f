import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One-shot HTTP/1.1 requests for the control side of policies (JWKS documents, token
/// introspection): a fresh connection per call, the whole answer aggregated, bounded in size and
/// time. Requests never wait on it except a policy that suspends on purpose, so it stays simple;
/// proxied traffic goes through the upstream pool instead.
package struct HTTPFetcher: Sendable {
    package struct Response: Sendable {
        package var status: HTTPResponseStatus
        package var headers: HTTPHeaders
        package var body: ByteBuffer
    }

    package enum Failure: Error, CustomStringConvertible {
        case badURL(String)
        case timedOut
        case tls(String)
        package var description: String {
            switch self {
            case .badURL(let u): return "not an http(s) URL: \(u)"
            case .timedOut: return "timed out"
            case .tls(let m): return "TLS: \(m)"
            }
        }
    }

    package var timeout: TimeAmount
    package var maxBody: Int
    /// Trust anchors for https; nil means the system's.
    package var caFile: String?

    package init(timeout: TimeAmount = .seconds(5), maxBody: Int = 1 << 20, caFile: String? = nil) {
        self.timeout = timeout
        self.maxBody = maxBody
        self.caFile = caFile
    }

    package func get(_ url: String, on eventLoop: EventLoop, headers: HTTPHeaders = [:]) -> EventLoopFuture<Response> {
        request(.GET, url, headers: headers, body: nil, on: eventLoop)
    }

    package func request(_ method: HTTPMethod, _ url: String, headers extra: HTTPHeaders = [:], body: ByteBuffer?,
                        on eventLoop: EventLoop) -> EventLoopFuture<Response> {
        guard case .success(let target) = UpstreamURL.parse(url), target.scheme != .builtin else {
            return eventLoop.makeFailedFuture(Failure.badURL(url))
        }
        let sslContext: NIOSSLContext?
        if target.scheme == .https {
            var c = TLSConfiguration.makeClientConfiguration()
            if let caFile { c.trustRoots = .file(caFile) }
            do { sslContext = try NIOSSLContext(configuration: c) } catch { return eventLoop.makeFailedFuture(Failure.tls("\(error)")) }
        } else {
            sslContext = nil
        }
        let promise = eventLoop.makePromise(of: Response.self)
        let maxBody = self.maxBody
        let serverName = target.host.first?.isNumber == true || target.host.contains(":") ? nil : target.host
        let connect = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(NIOHTTPClientResponseAggregator(maxContentLength: maxBody))
                    try channel.pipeline.syncOperations.addHandler(FetchHandler(promise: promise))
                }
            }
            .connect(host: target.host, port: target.port)
        let timeout = eventLoop.scheduleTask(in: timeout) { promise.fail(Failure.timedOut) }
        connect.whenComplete { result in
            switch result {
            case .failure(let error):
                promise.fail(error)
            case .success(let channel):
                var head = HTTPRequestHead(version: .http1_1, method: method, uri: target.basePath.isEmpty ? "/" : target.basePath)
                head.headers.add(name: "host", value: target.hostForHeader)
                head.headers.add(name: "user-agent", value: "triplegate")
                head.headers.add(name: "connection", value: "close")
                head.headers.add(contentsOf: extra)
                if let body { head.headers.add(name: "content-length", value: String(body.readableBytes)) }
                channel.write(HTTPClientRequestPart.head(head), promise: nil)
                if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        return promise.futureResult
    }
}

private final class FetchHandler: ChannelInboundHandler {
    typealias InboundIn = NIOHTTPClientResponseFull
    let promise: EventLoopPromise<HTTPFetcher.Response>

    init(promise: EventLoopPromise<HTTPFetcher.Response>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let full = unwrapInboundIn(data)
        promise.succeed(.init(status: full.head.status, headers: full.head.headers, body: full.body ?? ByteBuffer()))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
    }
}
