import NIOCore

/// Closes a new connection that has not settled into a protocol in time: a TLS handshake that
/// never completes, a client that sends nothing or half an HTTP/2 preface. Added first in the
/// pipeline of every connection whose protocol is not known at once (TLS, h2c detection); the
/// configurator calls `settled` when the HTTP/1 or HTTP/2 handlers take over, with deadlines of
/// their own from then on. Without it, silent connections lived forever and a few hundred of
/// them used up the process's descriptors.
final class ConnectionDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var task: Scheduled<Void>?
    private var done = false

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        guard !done else { return }
        let channel = context.channel
        task = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, !self.done else { return }
            self.done = true
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        task?.cancel()
    }

    /// The protocol is known and its own handlers keep time now.
    func settled() {
        done = true
        task?.cancel()
        task = nil
    }
}

/// Guards one server-side HTTP/2 connection: it is closed after a connection error (NIOHTTP2
/// sends GOAWAY, but kept reading and buffering what the peer sent after it), and when no
/// stream has been open for `idleTimeout` (an idle h2 connection held its descriptor forever).
final class HTTP2ConnectionGuard: ChannelInboundHandler {
    typealias InboundIn = Any

    private let idleTimeout: TimeAmount
    private var openStreams = 0
    private var idleTask: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(idleTimeout: TimeAmount) { self.idleTimeout = idleTimeout }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdle()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTask?.cancel()
        self.context = nil
    }

    /// Called on the connection's event loop when a stream opens; `closed` completes when it ends.
    func streamOpened(closed: EventLoopFuture<Void>) {
        openStreams += 1
        idleTask?.cancel()
        idleTask = nil
        closed.assumeIsolated().whenComplete { [weak self] _ in
            guard let self else { return }
            self.openStreams -= 1
            if self.openStreams == 0 { self.armIdle() }
        }
    }

    private func armIdle() {
        guard let context else { return }
        let channel = context.channel
        idleTask?.cancel()
        idleTask = context.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) { [weak self] in
            guard let self, self.openStreams == 0 else { return }
            channel.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A connection-level error: NIOHTTP2 has said GOAWAY; nothing more is read.
        context.close(promise: nil)
    }
}
