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
