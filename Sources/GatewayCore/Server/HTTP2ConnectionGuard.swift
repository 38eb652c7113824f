import NIOCore

/// Guards one server-side HTTP/2 connection, between the socket and NIO's HTTP/2 handler:
///
/// - After a connection error, NIOHTTP2 sends GOAWAY with an error code but goes on reading and
///   buffering whatever the peer sends (288 MiB sent after one grew the process by 286 MiB).
///   This handler watches the frames going out and closes the connection once a GOAWAY with an
///   error code is written. A stream error (RST_STREAM) ends only its stream, and the graceful
///   GOAWAY of a shutdown (NO_ERROR) lets in-flight streams finish.
/// - A connection with no open stream for `idleTimeout` is closed (an idle h2 connection held
///   its descriptor forever).
final class HTTP2ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let idleTimeout: TimeAmount
    private var openStreams = 0
    private var idleTask: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    private var frames = OutboundFrames()

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

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !frames.failed, case .byteBuffer(let bytes) = unwrapOutboundIn(data) else {
            return context.write(data, promise: promise)
        }
        frames.read(bytes)
        guard frames.failed else { return context.write(data, promise: promise) }
        // The GOAWAY goes out, then nothing more is read: the connection is over.
        let written = promise ?? context.eventLoop.makePromise()
        context.writeAndFlush(data, promise: written)
        let channel = context.channel
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Follows the HTTP/2 frames a connection writes (their 9-byte headers, and the error code of
/// a GOAWAY), across however the bytes are split into writes.
struct OutboundFrames {
    /// A GOAWAY with an error code other than NO_ERROR was written.
    private(set) var failed = false
    private var header: [UInt8] = []
    private var remaining = 0
    /// The first 8 payload bytes of the GOAWAY being written (last stream id, error code).
    private var goAway: [UInt8]?

    mutating func read(_ buffer: ByteBuffer) {
        let bytes = buffer.readableBytesView
        var i = bytes.startIndex
        while i < bytes.endIndex, !failed {
            if remaining == 0 {
                header.append(bytes[i])
                i += 1
                guard header.count == 9 else { continue }
                remaining = Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
                goAway = header[3] == 0x7 ? [] : nil
                header.removeAll(keepingCapacity: true)
                continue
            }
            let take = min(remaining, bytes.endIndex - i)
            if var g = goAway {
                g.append(contentsOf: bytes[i..<(i + min(take, 8 - g.count))])
                goAway = g.count < 8 ? g : nil
                if g.count == 8, g[4] | g[5] | g[6] | g[7] != 0 { failed = true }
            }
            remaining -= take
            i += take
        }
    }
}
