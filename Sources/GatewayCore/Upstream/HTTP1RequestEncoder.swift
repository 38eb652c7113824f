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
            var out = context.channel.allocator.buffer(capacity: 256)
            chunked = Self.encodeHead(head, into: &out)
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
        case .body(let data):
            let size = data.readableBytes
            guard chunked, size > 0 else { return context.write(wrapOutboundOut(data), promise: promise) }
            if case .byteBuffer(var small) = data, size <= 4096 {
                var out = context.channel.allocator.buffer(capacity: size + 12)
                HTTP1Wire.writeHex(size, into: &out)
                out.writeStaticString("\r\n")
                out.writeBuffer(&small)
                out.writeStaticString("\r\n")
                context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
            } else {
                var prefix = context.channel.allocator.buffer(capacity: 12)
                HTTP1Wire.writeHex(size, into: &prefix)
                prefix.writeStaticString("\r\n")
                context.write(wrapOutboundOut(.byteBuffer(prefix)), promise: nil)
                context.write(wrapOutboundOut(data), promise: nil)
                context.write(wrapOutboundOut(.byteBuffer(ByteBuffer(staticString: "\r\n"))), promise: promise)
            }
        case .end(let trailers):
            guard chunked else {
                if let promise { context.write(wrapOutboundOut(.byteBuffer(ByteBuffer())), promise: promise) }
                return
            }
            chunked = false
            var out = context.channel.allocator.buffer(capacity: 8)
            out.writeStaticString("0\r\n")
            for (name, value) in trailers ?? [:] where HTTP1Wire.isValid(name: name, value: value) {
                HTTP1Wire.writeHeader(name, value, into: &out)
            }
            out.writeStaticString("\r\n")
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
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
        for (name, value) in head.headers {
            // The framing headers are this encoder's to set.
            if ASCII.equalsIgnoringCase(name, "transfer-encoding") { continue }
            if !mayHaveBody, ASCII.equalsIgnoringCase(name, "content-length") { continue }
            guard HTTP1Wire.isValid(name: name, value: value) else { continue }
            HTTP1Wire.writeHeader(name, value, into: &out)
        }
        if chunked { out.writeStaticString("transfer-encoding: chunked\r\n") }
        out.writeStaticString("\r\n")
        return chunked
    }
}
