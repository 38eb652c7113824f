import ArgumentParser
import GatewayCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// `triplegate-bench mcp-upstream --port P`: the fast upstream MCP server of bench/mcp, so that
/// the gateway under test is the bottleneck. One event loop; every POST is one JSON-RPC message
/// answered at once with its own id: `initialize` (a session id issued), notifications (202),
/// `tools/list` (one tool, `echo`) and `tools/call` (a fixed text result).
struct MCPUpstream: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mcp-upstream", abstract: "A fast MCP upstream for benchmarks.")

    @Option var host = "127.0.0.1"
    @Option var port: Int

    func run() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
                    try channel.pipeline.syncOperations.addHandler(FastMCPHandler())
                }
            }
            .bind(host: host, port: port).wait()
        try channel.closeFuture.wait()
    }
}

private final class FastMCPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private var body = ByteBuffer()
    private var keepAlive = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            body.clear()
            keepAlive = head.isKeepAlive
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            respond(context: context)
        }
    }

    private func respond(context: ChannelHandlerContext) {
        let fields = JSONScanner.values(["id", "method"], in: body) ?? [:]
        let id = body.withUnsafeReadableBytes { raw -> String? in
            guard let r = JSONScanner.members(["id"], in: raw)?["id"] else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: raw[r]), as: UTF8.self)
        }
        var headers = HTTPHeaders()
        var out = context.channel.allocator.buffer(capacity: 256)
        var status = HTTPResponseStatus.ok
        if let id {
            out.writeString(#"{"jsonrpc":"2.0","id":"# + id + #","result":"#)
            switch fields["method"]?.stringValue {
            case "initialize":
                out.writeString(#"{"protocolVersion":"2025-11-25","capabilities":{"tools":{"listChanged":false}},"serverInfo":{"name":"fast","version":"1"}}"#)
                headers.add(name: "mcp-session-id", value: "fast-session")
            case "tools/list":
                out.writeString(#"{"tools":[{"name":"echo","description":"Echo","inputSchema":{"type":"object","properties":{"text":{"type":"string"}}}}]}"#)
            case "tools/call":
                out.writeString(#"{"content":[{"type":"text","text":"hello from the fast upstream"}],"isError":false}"#)
            default:
                out.writeString("{}")
            }
            out.writeString("}")
            headers.add(name: "content-type", value: "application/json")
        } else {
            status = .accepted
        }
        headers.add(name: "content-length", value: String(out.readableBytes))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if out.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(out))), promise: nil) }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
