import NIOCore
import NIOHTTP1

/// What a leased upstream connection reports to the exchange that holds it. All calls happen
/// on the connection's event loop, which is also the exchange's.
package protocol UpstreamConnectionDelegate: AnyObject {
    func upstreamResponseHead(_ head: HTTPResponseHead)
    func upstreamResponseBody(_ body: ByteBuffer)
    func upstreamResponseEnd(_ trailers: HTTPHeaders?)
    /// The end of one read burst: the moment to flush what was forwarded.
    func upstreamReadComplete()
    /// The connection failed or closed before the response ended.
    func upstreamFailed(_ error: UpstreamError)
    func upstreamWritabilityChanged(isWritable: Bool)
}

/// Why an upstream exchange failed.
package enum UpstreamError: Error, Sendable, Equatable {
    /// The connection could not be opened (refused, unreachable, connect timeout).
    case connectFailed(String)
    /// The pool is shut down or has no connection to give.
    case unavailable
    /// The upstream closed the connection before the response ended.
    case closedEarly
    /// The upstream's answer was not valid HTTP, or came when no request was waiting for one.
    case malformedResponse(String)
    /// The request's body did not match the framing its head announced; the connection was
    /// closed before the unannounced bytes went out.
    case requestFraming
}

/// One kept-alive HTTP/1.1 connection to an upstream target, owned by an `UpstreamPool`.
/// Bound to its event loop: only ever touched there.
package final class UpstreamConnection {
    package let id: UpstreamPoolStateMachine.ConnectionID
    package let channel: Channel
    unowned let pool: UpstreamPool
    /// An HTTP/2 stream rather than a connection of its own: used once, never pooled.
    package let isStream: Bool
    /// The exchange that leased this connection; nil while idle in the pool.
    package weak var delegate: UpstreamConnectionDelegate?
    var handler: UpstreamConnectionHandler?
    /// Armed by the pool while the connection waits idle.
    var idleTimer: LoopTimer?

    init(id: UpstreamPoolStateMachine.ConnectionID, channel: Channel, pool: UpstreamPool, isStream: Bool = false) {
        self.id = id
        self.channel = channel
        self.pool = pool
        self.isStream = isStream
    }

    package var isWritable: Bool { channel.isWritable }
    package var remoteAddress: SocketAddress? { channel.remoteAddress }

    package func write(_ part: HTTPClientRequestPart) {
        handler?.write(part)
    }

    /// Writes a whole request whose body is in hand: on HTTP/1, one buffer when it is small.
    package func send(head: HTTPRequestHead, body: ByteBuffer) {
        handler?.send(head: head, body: body)
    }

    /// Sends what was written, at the end of the loop's tick (see `LoopFlushes`).
    package func flush() { handler?.flush() }

    /// Stops reading from the upstream until `resumeReads`: the client is not keeping up.
    package func pauseReads() { handler?.readsPaused = true }

    package func resumeReads() { handler?.resumeReads() }

    /// Gives the connection back. `reusable` only when the response ended cleanly, the request
    /// was sent whole and neither side asked to close.
    package func release(reusable: Bool) {
        delegate = nil
        handler?.readsPaused = false
        pool.release(self, reusable: reusable && channel.isActive)
    }
}

/// The last handler of an upstream connection's pipeline: hands response parts to the
/// connection's delegate, and holds reads back while the client is slow. On an HTTP/1
/// connection it also encodes the requests and writes their bytes itself: the decoder under it
/// (`UpstreamResponseDecoder`) is inbound only, so the bytes go straight to the socket.
final class UpstreamConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler, HeldFlushWriter {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// Strong: the pool drops its reference when it closes a connection, and the close
    /// completes (`channelInactive`) after that. The cycle with `connection.handler` is broken
    /// when the channel goes inactive.
    private var connectionRef: UpstreamConnection?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    var readsPaused = false
    private var inResponse = false
    /// A flush waits in the pool's `flushes` for the end of the tick.
    private var flushHeld = false

    /// HTTP/1: the encoder, and the decoder that must hear of each request head. Nil on an
    /// HTTP/2 stream, whose codec takes the parts.
    private var encoder: HTTP1RequestEncoder?
    private let decoder: HTTPResponseDecoder?
    /// HTTP/1: whether an answer is expected, shared with the decoder that checks it.
    let reading: UpstreamReadState

    /// `decoder` is the HTTP/1 connection's response decoder; nil for an HTTP/2 stream.
    /// `reading` is the state its `UpstreamResponseDecoder` shares.
    init(connection: UpstreamConnection, decoder: HTTPResponseDecoder?, reading: UpstreamReadState = UpstreamReadState()) {
        self.connectionRef = connection
        self.decoder = decoder
        self.reading = reading
        self.encoder = decoder == nil ? nil : HTTP1RequestEncoder()
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        flushHeldWrites()
        self.context = nil
    }

    func write(_ part: HTTPClientRequestPart) {
        guard let context else { return }
        guard encoder != nil, let decoder else { return context.write(wrapOutboundOut(part), promise: nil) }
        if case .head(let head) = part {
            decoder.write(data: .head(head))
            reading.requestSent()
        }
        if !encoder!.encode(part, allocator: context.channel.allocator, write: { context.write(NIOAny($0), promise: nil) }) {
            failFraming(context: context)
        }
    }

    func send(head: HTTPRequestHead, body: ByteBuffer) {
        guard let context else { return }
        guard encoder != nil, let decoder else {
            write(.head(head))
            if body.readableBytes > 0 { write(.body(.byteBuffer(body))) }
            return write(.end(nil))
        }
        decoder.write(data: .head(head))
        reading.requestSent()
        if !encoder!.encode(head: head, body: body, allocator: context.channel.allocator, write: { context.write(NIOAny($0), promise: nil) }) {
            failFraming(context: context)
        }
    }

    /// A body that does not fit its head: what was written so far goes out (it is a whole
    /// prefix of the request), nothing more, and the connection is closed.
    private func failFraming(context: ChannelHandlerContext) {
        let delegate = connectionRef?.delegate
        connectionRef?.delegate = nil
        context.close(promise: nil)
        delegate?.upstreamFailed(.requestFraming)
    }

    func flush() {
        guard !flushHeld, let pool = connectionRef?.pool else { return }
        if pool.flushes.hold(self) { flushHeld = true } else { context?.flush() }
    }

    func flushHeldWrites() {
        guard flushHeld else { return }
        flushHeld = false
        context?.flush()
    }

    func resumeReads() {
        readsPaused = false
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard let delegate = connectionRef?.delegate else {
            // Bytes from an idle connection: the upstream is confused; never reuse it.
            context.close(promise: nil)
            return
        }
        switch part {
        case .head(let head):
            if encoder != nil, !reading.headAllowed {
                // An answer decoded from the same bytes as the end of the last one: the upstream
                // answered a request nobody sent (a smuggled one), and this connection's framing
                // can no longer be trusted. It must never reach the request leased next.
                return unsolicited(context: context, delegate: delegate)
            }
            // 1xx informational heads are not the response; HTTP/1 clients handle 100-continue
            // themselves, so they are dropped here.
            if head.status.code >= 100, head.status.code < 200, head.status != .switchingProtocols { return }
            inResponse = true
            delegate.upstreamResponseHead(head)
        case .body(let body):
            delegate.upstreamResponseBody(body)
        case .end(let trailers):
            inResponse = false
            if encoder != nil { reading.responseEnded() }
            delegate.upstreamResponseEnd(trailers)
        }
    }

    /// The request that just leased this connection got no answer of its own: it fails as on
    /// a closed connection, so it may be retried on another.
    private func unsolicited(context: ChannelHandlerContext, delegate: UpstreamConnectionDelegate) {
        connectionRef?.delegate = nil
        context.close(promise: nil)
        delegate.upstreamFailed(.closedEarly)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connectionRef?.delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connectionRef?.delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let delegate = connectionRef?.delegate
        connectionRef?.delegate = nil
        context.close(promise: nil)
        if let delegate {
            if error is HTTPParserError {
                delegate.upstreamFailed(.malformedResponse("\(error)"))
            } else {
                delegate.upstreamFailed(.closedEarly)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard let connection = connectionRef else { return }
        connectionRef = nil
        connection.handler = nil
        let delegate = connection.delegate
        connection.delegate = nil
        connection.pool.connectionClosed(connection)
        delegate?.upstreamFailed(.closedEarly)
    }
}
