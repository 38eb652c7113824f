import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Sends raw bytes over one TCP connection and returns everything the server sent until it
/// closed the connection (or `timeout` passed). For bad-input tests, where a real HTTP client
/// would refuse to send what the test needs.
package enum RawHTTPClient {
    package static func exchange(_ request: String, port: Int, group: EventLoopGroup, timeout: TimeAmount = .seconds(5)) async throws -> String {
        let collected = NIOLockedValueBox<ByteBuffer>(ByteBuffer())
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(collected: collected))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: request))
        let closed = channel.closeFuture
        let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        try? await closed.get()
        timer.cancel()
        return collected.withLockedValue { String(buffer: $0) }
    }

    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let collected: NIOLockedValueBox<ByteBuffer>
        init(collected: NIOLockedValueBox<ByteBuffer>) { self.collected = collected }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            _ = collected.withLockedValue { $0.writeBuffer(&b) }
        }
    }
}
