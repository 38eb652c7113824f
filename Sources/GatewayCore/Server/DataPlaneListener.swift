#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// Binds the data-plane port and sets up each connection: TLS with ALPN (h2, http/1.1) when a
/// certificate is configured; otherwise HTTP/1.1, and h2c with prior knowledge detected from
/// the connection preface. The gate's handler then sees one request stream per HTTP/1.1
/// connection or HTTP/2 stream.
package final class DataPlaneListener: Sendable {
    let server: ServerConfig
    let loops: LoopContexts
    let gate: any HTTPGate
    let quiesce: ServerQuiescingHelper
    let metrics: GatewayMetrics?
    private let tls: NIOSSLContext?
    /// Open connections, against `maxConnections`.
    private let open = NIOLockedValueBox(0)
    let maxConnections: Int

    package init(server: ServerConfig, group: EventLoopGroup, loops: LoopContexts, gate: any HTTPGate, metrics: GatewayMetrics? = nil) throws {
        self.server = server
        self.metrics = metrics
        self.loops = loops
        self.gate = gate
        self.quiesce = ServerQuiescingHelper(group: group)
        self.maxConnections = server.limits.maxConnections > 0 ? server.limits.maxConnections : Self.defaultMaxConnections()
        if let files = server.tls {
            var c = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: files.key, format: .pem)))
            c.applicationProtocols = ["h2", "http/1.1"]
            if let ca = files.clientCAFile, files.clientAuth != .none {
                c.trustRoots = .file(ca)
                c.certificateVerification = files.clientAuth == .required ? .noHostnameVerification : .optionalVerification
            }
            self.tls = try NIOSSLContext(configuration: c)
        } else {
            self.tls = nil
        }
    }

    /// Binds and returns the server channel (its `localAddress` has the real port when 0 was asked).
    package func bind(group: EventLoopGroup) async throws -> Channel {
        guard let hp = HostPort.parse(server.listen) else { throw ListenerError.badAddress(server.listen) }
        let quiesce = self.quiesce
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.configure(channel) }
            }
        return try await bootstrap.bind(host: hp.host, port: hp.port).get()
    }

    /// Half the process's descriptor limit (at least 64): the other half is for upstream
    /// connections, stores and files, so clients alone can never use every descriptor up.
    static func defaultMaxConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 100_000 }
        return max(64, Int(min(limit.rlim_cur, 10_000_000)) / 2)
    }

    private func configure(_ channel: Channel) throws {
        let loop = loops.context(for: channel.eventLoop)
        let admitted = open.withLockedValue { n -> Bool in
            guard n < maxConnections else { return false }
            n += 1
            return true
        }
        guard admitted else {
            metrics?.refusedConnections.increment()
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [open] _ in open.withLockedValue { $0 -= 1 } }
        if let gauge = metrics?.activeConnections {
            gauge.increment()
            channel.closeFuture.whenComplete { _ in gauge.decrement() }
        }
        // Until the protocol is known, only this deadline keeps time (the TLS handshake, the
        // h2c preface); the HTTP/1 and HTTP/2 handlers keep their own after it.
        let startTimeout = TimeAmount.nanoseconds(server.limits.clientHeaderTimeout.nanoseconds)
        if let tls {
            let deadline = ConnectionDeadline(timeout: startTimeout)
            try channel.pipeline.syncOperations.addHandler(deadline)
            let deadlineBox = NIOLoopBound(deadline, eventLoop: channel.eventLoop)
            let ssl = NIOSSLServerHandler(context: tls)
            try channel.pipeline.syncOperations.addHandler(ssl)
            let sslBox = NIOLoopBound(ssl, eventLoop: channel.eventLoop)
            let asksForCertificates = (server.tls?.clientAuth ?? .none) != .none
            // ALPN has been negotiated by the time either configurator runs, so the handshake,
            // and with it client-certificate verification, is complete.
            @Sendable func connection() -> ConnectionInfo {
                let cert = asksForCertificates ? sslBox.value.peerCertificate.flatMap(ClientCertificate.init) : nil
                return ConnectionInfo(scheme: "https", clientCertificate: cert)
            }
            _ = channel.configureHTTP2SecureUpgrade(
                h2ChannelConfigurator: { [self] ch in ch.eventLoop.makeCompletedFuture {
                    deadlineBox.value.settled()
                    try self.configureHTTP2(ch, loop: loop, connection: connection())
                } },
                http1ChannelConfigurator: { [self] ch in ch.eventLoop.makeCompletedFuture {
                    deadlineBox.value.settled()
                    try self.configureHTTP1(ch, loop: loop, connection: connection())
                } })
        } else if server.h2c {
            let deadline = ConnectionDeadline(timeout: startTimeout)
            try channel.pipeline.syncOperations.addHandler(deadline)
            try channel.pipeline.syncOperations.addHandler(
                PrefaceSniffer { [self] ch, isH2 in
                    deadline.settled()
                    let plain = ConnectionInfo(scheme: "http")
                    if isH2 { try self.configureHTTP2(ch, loop: loop, connection: plain) } else { try self.configureHTTP1(ch, loop: loop, connection: plain) }
                })
        } else {
            try configureHTTP1(channel, loop: loop, connection: ConnectionInfo(scheme: "http"))
        }
    }

    private func configureHTTP1(_ channel: Channel, loop: LoopContext, connection: ConnectionInfo) throws {
        let sync = channel.pipeline.syncOperations
        // Only NIO's request decoder: the gate's handler encodes its responses itself
        // (`HTTP1ResponseEncoder`, two hops and a header copy cheaper than NIO's encoder and
        // validator), queues pipelined requests itself (NIO's pipelining assistance cost 12%
        // per request) and answers parse errors (400, 431) in the gateway's own format.
        try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try sync.addHandler(gate.makeHandler(on: loop, isHTTP2: false, connection: connection))
    }

    private func configureHTTP2(_ channel: Channel, loop: LoopContext, connection: ConnectionInfo) throws {
        let gate = self.gate
        // Added first so it sees the quiesce event before the HTTP/2 handler answers it.
        // Before the HTTP/2 handler: it sees the frames that handler writes.
        let guardHandler = HTTP2ConnectionGuard(idleTimeout: .nanoseconds(server.limits.keepaliveTimeout.nanoseconds))
        try channel.pipeline.syncOperations.addHandler(guardHandler)
        let guardBox = NIOLoopBound(guardHandler, eventLoop: channel.eventLoop)
        let drain = HTTP2ConnectionDrain()
        try channel.pipeline.syncOperations.addHandler(drain)
        let drainBox = NIOLoopBound(drain, eventLoop: channel.eventLoop)
        var connectionConfiguration = NIOHTTP2Handler.ConnectionConfiguration()
        // Header blocks are bounded as HTTP/1 heads are (CONTINUATION floods end there); NIO's
        // defaults bound the rest (100 concurrent streams, flow-control windows, control frames).
        connectionConfiguration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
            HTTP2Setting(parameter: .maxHeaderListSize, value: max(server.limits.maxHeaderBytes, 1024)),
        ]
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connectionConfiguration, streamConfiguration: .init(),
            inboundStreamInitializer: { stream in
                stream.eventLoop.makeCompletedFuture {
                    drainBox.value.streamOpened(closed: stream.closeFuture)
                    guardBox.value.streamOpened(closed: stream.closeFuture)
                    try stream.pipeline.syncOperations.addHandler(HTTP2RequestHeadMarker())
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                    try stream.pipeline.syncOperations.addHandler(gate.makeHandler(on: loop, isHTTP2: true, connection: connection))
                }
            })
    }

    /// Stops accepting and asks every connection to finish its in-flight request and close.
    /// The future completes when all connections are closed.
    package func quiesce(on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: promise)
        return promise.futureResult
    }
}

package enum ListenerError: Error, CustomStringConvertible {
    case badAddress(String)

    package var description: String {
        switch self {
        case .badAddress(let a): return "cannot listen on \"\(a)\": expected host:port"
        }
    }
}

/// Looks at a new cleartext connection's first bytes: the HTTP/2 connection preface means h2c
/// with prior knowledge, anything else HTTP/1.1. Then it configures the pipeline, passes the
/// bytes on and removes itself.
final class PrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private let configure: (Channel, Bool) throws -> Void
    private var buffered: ByteBuffer?

    init(configure: @escaping (Channel, Bool) throws -> Void) {
        self.configure = configure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil { buffered = incoming } else { buffered!.writeBuffer(&incoming) }
        let bytes = buffered!.readableBytesView
        let n = min(bytes.count, Self.preface.count)
        let isPrefix = bytes.prefix(n).elementsEqual(Self.preface.prefix(n))
        if isPrefix, n < Self.preface.count { return }  // not enough yet to tell
        do {
            try configure(context.channel, isPrefix)
        } catch {
            context.close(promise: nil)
            return
        }
        let data = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(data))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
