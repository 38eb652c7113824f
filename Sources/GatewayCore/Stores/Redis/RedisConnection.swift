import DequeModule
import NIOCore
import NIOPosix
import NIOSSL

/// One Redis connection on one event loop, speaking RESP2. Commands are pipelined: each is
/// written at once and its reply completes the oldest waiting promise. Every call happens on the
/// connection's loop.
package final class RedisConnection: @unchecked Sendable {
    // @unchecked: its handler is only used on the channel's event loop (`send` checks).
    let channel: Channel
    private let handler: RESPHandler

    init(channel: Channel, handler: RESPHandler) {
        self.channel = channel
        self.handler = handler
    }

    package var isActive: Bool { channel.isActive }

    /// Connects on `eventLoop`; the future completes there.
    package static func connect(host: String, port: Int, on eventLoop: EventLoop, timeout: TimeAmount = .seconds(1)) -> EventLoopFuture<RedisConnection> {
        connect(RedisURL(host: host, port: port), on: eventLoop, timeout: timeout)
    }

    /// Connects to `url` on `eventLoop` (TLS for `rediss://`, verifying the server's
    /// certificate and name), then logs in and selects its database; the future completes
    /// there, after the handshake, or fails with the server's refusal.
    package static func connect(_ url: RedisURL, on eventLoop: EventLoop, timeout: TimeAmount = .seconds(1)) -> EventLoopFuture<RedisConnection> {
        let tls: NIOSSLContext?
        do {
            tls = url.tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        } catch {
            return eventLoop.makeFailedFuture(RedisError.connectionFailed("TLS: \(error)"))
        }
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: url.host, port: url.port)
            .flatMapErrorThrowing { throw RedisError.connectionFailed("\($0)") }
            .assumeIsolated()
            .flatMapThrowing { channel in
                if let tls {
                    let serverName = url.host.first?.isNumber == true || url.host.contains(":") ? nil : url.host
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                }
                let handler = RESPHandler()
                try channel.pipeline.syncOperations.addHandler(handler)
                return RedisConnection(channel: channel, handler: handler)
            }
            .flatMap { connection in connection.handshake(url.handshake) }
            .nonisolated()
    }

    /// Sends each command in turn; the connection once all succeeded, else closed and failed.
    private func handshake(_ commands: [[String]]) -> EventLoopFuture<RedisConnection> {
        var future = channel.eventLoop.makeSucceededFuture(self)
        for command in commands {
            future = future.flatMap { c in
                c.send(command).map { _ in c }.flatMapError { error in
                    c.close()
                    // The server's words (WRONGPASS ...), never the command: it holds the password.
                    return c.channel.eventLoop.makeFailedFuture(RedisError.connectionFailed("\(command[0]) refused: \(error)"))
                }
            }
        }
        return future
    }

    /// Sends a command; the reply (a server error becomes `RedisError.server`).
    package func send(_ args: [String]) -> EventLoopFuture<RESPValue> {
        channel.eventLoop.preconditionInEventLoop()
        guard channel.isActive else { return channel.eventLoop.makeFailedFuture(RedisError.connectionClosed) }
        return handler.send(args)
    }

    package func close() { channel.close(promise: nil) }
}

/// Encodes commands, decodes replies, and pairs them in order.
final class RESPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var context: ChannelHandlerContext?
    private var waiting = Deque<EventLoopPromise<RESPValue>>()
    private var buffer = ByteBuffer()

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func send(_ args: [String]) -> EventLoopFuture<RESPValue> {
        guard let context else { preconditionFailure("RESPHandler used before it was added to a pipeline") }
        let promise = context.eventLoop.makePromise(of: RESPValue.self)
        waiting.append(promise)
        var out = context.channel.allocator.buffer(capacity: 64)
        RESPValue.writeCommand(args, to: &out)
        context.writeAndFlush(NIOAny(out), promise: nil)
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        do {
            while let value = try RESPValue.parse(&buffer) {
                guard let promise = waiting.popFirst() else { throw RedisError.protocolViolation("a reply nobody asked for") }
                if case .error(let message) = value { promise.fail(RedisError.server(message)) } else { promise.succeed(value) }
            }
            buffer.discardReadBytes()
        } catch {
            failAll(error)
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    private func failAll(_ error: Error) {
        while let p = waiting.popFirst() { p.fail(error) }
    }
}
