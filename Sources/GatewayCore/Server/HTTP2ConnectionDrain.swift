import NIOCore
import NIOHTTP2

/// Closes a server-side HTTP/2 connection once a graceful shutdown asked it to quiesce and its
/// last stream has closed. NIOHTTP2 answers the quiesce event with GOAWAY; this handler adds the
/// close, so an idle kept-alive h2 client cannot hold the shutdown until its grace runs out.
final class HTTP2ConnectionDrain: ChannelInboundHandler {
    typealias InboundIn = Any

    private var openStreams = 0
    private var quiescing = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Called on the connection's event loop when a stream opens; `closed` completes when it ends.
    func streamOpened(closed: EventLoopFuture<Void>) {
        openStreams += 1
        closed.assumeIsolated().whenComplete { [weak self] _ in
            guard let self else { return }
            self.openStreams -= 1
            self.closeIfDrained()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            context.fireUserInboundEventTriggered(event)
            closeIfDrained()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func closeIfDrained() {
        guard quiescing, openStreams == 0, let context else { return }
        context.close(promise: nil)
    }
}
