import NIOCore
import NIOHTTP1

/// Encodes requests to upstreams: the first handler of an upstream connection's pipeline,
/// under NIO's response decoder (which must still see each request head go by, to know that a
/// HEAD's answer has no body).
///
/// It replaces NIO's `HTTPRequestEncoder` and outbound header validator: one pipeline hop
/// fewer, no copy of the header array to fix the framing headers, and a small body written
/// with its chunk framing in one buffer. The framing rules are NIO's: a length wins; POST, PUT
/// and PATCH without one are chunked on HTTP/1.1; other methods are chunked only when the
/// caller says so; a TRACE carries no body. Headers whose name is not a token or whose value
/// holds a control character are not written.
final class HTTP1RequestEncoder: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = IOData

    private var chunked = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            var out = context.channel.allocator.buffer(capacity: 64 + head.uri.utf8.count + HTTP1Wire.size(of: head.headers))
            chunked = Self.encodeHead(head, into: &out)
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
        case .body(let data):
            guard chunked, data.readableBytes > 0 else { return context.write(wrapOutboundOut(data), promise: promise) }
            // The promise goes with the chunk's last write.
            var last: IOData?
            HTTP1Wire.writeChunk(data, allocator: context.channel.allocator) { bytes in
                if let previous = last { context.write(wrapOutboundOut(previous), promise: nil) }
                last = bytes
            }
            if let last { context.write(wrapOutboundOut(last), promise: promise) }
        case .end(let trailers):
            guard chunked else {
                if let promise { context.write(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: promise) }
                return
            }
            chunked = false
            context.write(wrapOutboundOut(.byteBuffer(HTTP1Wire.lastChunk(trailers: trailers, allocator: context.channel.allocator))), promise: promise)
        }
    }

    /// Writes the request line and headers; returns whether the body is chunked.
    static func encodeHead(_ head: HTTPRequestHead, into out: inout ByteBuffer) -> Bool {
        var hasLength = false, saysChunked = false
        for (name, value) in head.headers {
            if ASCII.equalsIgnoringCase(name, "content-length") { hasLength = true }
            else if ASCII.equalsIgnoringCase(name, "transfer-encoding") { saysChunked = ASCII.equalsIgnoringCase(value, "chunked") }
        }
        let http11 = head.version.major == 1 && head.version.minor >= 1
        let mayHaveBody = head.method != .TRACE
        let chunked: Bool
        switch head.method {
        case .TRACE: chunked = false
        case .POST, .PUT, .PATCH: chunked = !hasLength && http11
        default: chunked = !hasLength && http11 && saysChunked
        }
        out.writeString(head.method.rawValue)
        out.writeStaticString(" ")
        out.writeString(head.uri)
        out.writeStaticString(head.version.minor == 0 && head.version.major == 1 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n")
        HTTP1Wire.writeHeaders(head.headers, mayHaveBody: mayHaveBody, chunked: chunked, into: &out)
        return chunked
    }
}
