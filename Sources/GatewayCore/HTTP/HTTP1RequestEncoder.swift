import NIOCore
import NIOHTTP1

/// Writes HTTP/1.x requests to upstreams as bytes, inside the upstream connection's handler.
///
/// It replaces NIO's `HTTPRequestEncoder` and outbound header validator: no pipeline hop, no
/// copy of the header array to fix the framing headers, and a request whose body is already in
/// hand (an LLM or MCP call) written as one buffer. The framing rules are NIO's: a length wins;
/// POST, PUT and PATCH without one are chunked on HTTP/1.1; other methods are chunked only when
/// the caller says so; a TRACE carries no body. Headers whose name is not a token or whose
/// value holds a control character are not written.
struct HTTP1RequestEncoder {
    private var chunked = false

    /// Bodies up to this size go in the same buffer as their head; larger ones are written
    /// after it as they are (no copy).
    static let inlineBodyLimit = 16 * 1024

    /// Encodes one request part; `write` gets the bytes (one or more buffers, in order).
    mutating func encode(_ part: HTTPClientRequestPart, allocator: ByteBufferAllocator, write: (IOData) -> Void) {
        switch part {
        case .head(let head):
            var out = allocator.buffer(capacity: Self.headSize(head))
            chunked = Self.encodeHead(head, into: &out)
            write(.byteBuffer(out))
        case .body(let data):
            guard data.readableBytes > 0 else { return }
            guard chunked else { return write(data) }
            HTTP1Wire.writeChunk(data, allocator: allocator, write: write)
        case .end(let trailers):
            guard chunked else { return }
            chunked = false
            write(.byteBuffer(HTTP1Wire.lastChunk(trailers: trailers, allocator: allocator)))
        }
    }

    /// Encodes a whole request: the same bytes as its head, body and end encoded in turn, in
    /// one buffer when the body is small.
    mutating func encode(head: HTTPRequestHead, body: ByteBuffer, allocator: ByteBufferAllocator, write: (IOData) -> Void) {
        let size = body.readableBytes
        guard size <= Self.inlineBodyLimit else {
            encode(.head(head), allocator: allocator, write: write)
            encode(.body(.byteBuffer(body)), allocator: allocator, write: write)
            return encode(.end(nil), allocator: allocator, write: write)
        }
        var out = allocator.buffer(capacity: Self.headSize(head) + size + 24)
        var body = body
        if Self.encodeHead(head, into: &out) {
            if size > 0 {
                HTTP1Wire.writeHex(size, into: &out)
                out.writeStaticString("\r\n")
                out.writeBuffer(&body)
                out.writeStaticString("\r\n")
            }
            out.writeStaticString("0\r\n\r\n")
        } else {
            out.writeBuffer(&body)
        }
        chunked = false
        write(.byteBuffer(out))
    }

    private static func headSize(_ head: HTTPRequestHead) -> Int {
        64 + head.uri.utf8.count + HTTP1Wire.size(of: head.headers)
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
