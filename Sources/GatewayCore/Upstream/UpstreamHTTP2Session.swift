import NIOCore
import NIOHTTP1
import NIOHTTP2

/// An upstream pool's HTTP/2 side (`protocol: h2`): one multiplexed connection per target and
/// event loop, opened on first use and again after it closes; each request gets its own stream,
/// presented to the exchange as an `UpstreamConnection` so the proxy logic is the same for both
/// protocols. NIOHTTP2 queues streams beyond the server's `MAX_CONCURRENT_STREAMS`.
final class UpstreamHTTP2Session {
    private let eventLoop: EventLoop
    private let scheme: UpstreamURL.Scheme
    private var session: (channel: Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer)?
    private var connecting = false
    private var isShutDown = false
    private var waiters: [(id: Int, callback: UpstreamPool.Callback)] = []
    private var nextStreamID = 0

    init(eventLoop: EventLoop, scheme: UpstreamURL.Scheme) {
        self.eventLoop = eventLoop
        self.scheme = scheme
    }

    var isConnected: Bool { session != nil }

    func acquire(_ waiter: Int, pool: UpstreamPool, _ callback: @escaping UpstreamPool.Callback) {
        if isShutDown { return callback(.failure(.unavailable)) }
        if let session {
            return openStream(on: session.multiplexer, pool: pool, callback)
        }
        waiters.append((waiter, callback))
        guard !connecting else { return }
        connecting = true
        pool.openChannel().assumeIsolated().whenComplete { [weak self, weak pool] result in
            guard let self, let pool else { return }
            self.connecting = false
            switch result {
            case .success(let channel):
                do {
                    let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: .init(), streamConfiguration: .init(),
                        inboundStreamInitializer: { pushed in pushed.close() })  // no server push
                    self.session = (channel, multiplexer)
                    // After the upstream's GOAWAY, streams in flight finish on this connection and
                    // new requests open a fresh one.
                    try channel.pipeline.syncOperations.addHandler(GoAwayWatcher { [weak self] in
                        if self?.session?.channel === channel { self?.session = nil }
                    })
                    channel.closeFuture.assumeIsolated().whenComplete { [weak self] _ in
                        if self?.session?.channel === channel { self?.session = nil }
                    }
                    let queued = self.waiters
                    self.waiters.removeAll()
                    for w in queued { self.openStream(on: multiplexer, pool: pool, w.callback) }
                } catch {
                    channel.close(promise: nil)
                    self.failWaiters(.connectFailed("\(error)"))
                }
            case .failure(let error):
                self.failWaiters(.connectFailed("\(error)"))
            }
        }
    }

    func cancel(_ waiter: Int) {
        waiters.removeAll { $0.id == waiter }
    }

    func shutdown() {
        isShutDown = true
        failWaiters(.unavailable)
        session?.channel.close(mode: .all, promise: nil)
        session = nil
    }

    private func failWaiters(_ error: UpstreamError) {
        let queued = waiters
        waiters.removeAll()
        for w in queued { w.callback(.failure(error)) }
    }

    private func openStream(on multiplexer: NIOHTTP2Handler.StreamMultiplexer, pool: UpstreamPool, _ callback: @escaping UpstreamPool.Callback) {
        let httpProtocol: HTTP2FramePayloadToHTTP1ClientCodec.HTTPProtocol = scheme == .https ? .https : .http
        nextStreamID += 1
        let id = nextStreamID
        multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: httpProtocol))
            }
        }.assumeIsolated().whenComplete { [weak pool] result in
            guard let pool else { return }
            switch result {
            case .success(let stream):
                let connection = UpstreamConnection(id: id, channel: stream, pool: pool, isStream: true)
                let handler = UpstreamConnectionHandler(connection: connection, decoder: nil)
                connection.handler = handler
                do {
                    try stream.pipeline.syncOperations.addHandler(handler)
                    callback(.success(connection))
                } catch {
                    stream.close(promise: nil)
                    callback(.failure(.connectFailed("\(error)")))
                }
            case .failure(let error):
                callback(.failure(.connectFailed("\(error)")))
            }
        }
    }
}

/// Reports a GOAWAY received on an upstream HTTP/2 connection.
final class GoAwayWatcher: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let onGoAway: () -> Void

    init(onGoAway: @escaping () -> Void) { self.onGoAway = onGoAway }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { onGoAway() }
        context.fireChannelRead(data)
    }
}
