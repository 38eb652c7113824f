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
///
/// It never writes a body byte its head did not announce: past a Content-Length, or after a
/// head that declared no body, `encode` refuses the part (returns false) and writes nothing,
/// and the caller closes the connection. Bytes the upstream was not told to expect would be
/// read as a request of their own (request smuggling).
struct HTTP1RequestEncoder {
    private var chunked = false
    /// Body bytes the head announced by Content-Length and not yet written (0 when none).
    private var remaining = 0

    /// Bodies up to this size go in the same buffer as their head; larger ones are written
    /// after it as they are (no copy).
    static let inlineBodyLimit = 16 * 1024

    /// Encodes one request part; `write` gets the bytes (one or more buffers, in order).
    /// False, with nothing written, for body bytes the head did not announce.
    @discardableResult
    mutating func encode(_ part: HTTPClientRequestPart, allocator: ByteBufferAllocator, write: (IOData) -> Void) -> Bool {
        switch part {
        case .head(let head):
            var out = allocator.buffer(capacity: Self.headSize(head))
            (chunked, remaining) = Self.encodeHead(head, into: &out)
            write(.byteBuffer(out))
        case .body(let data):
            let size = data.readableBytes
            guard size > 0 else { return true }
            if chunked {
                HTTP1Wire.writeChunk(data, allocator: allocator, write: write)
            } else {
                guard size <= remaining else { return false }
                remaining -= size
                write(data)
            }
        case .end(let trailers):
            guard chunked else { return remaining == 0 }
            chunked = false
            write(.byteBuffer(HTTP1Wire.lastChunk(trailers: trailers, allocator: allocator)))
        }
        return true
    }

    /// Encodes a whole request: the same bytes as its head, body and end encoded in turn, in
    /// one buffer when the body is small. False, with nothing written, when the body's size is
    /// not the one the head announced.
    @discardableResult
    mutating func encode(head: HTTPRequestHead, body: ByteBuffer, allocator: ByteBufferAllocator, write: (IOData) -> Void) -> Bool {
        let size = body.readableBytes
        var out = allocator.buffer(capacity: Self.headSize(head) + min(size, Self.inlineBodyLimit) + 24)
        let (isChunked, length) = Self.encodeHead(head, into: &out)
        guard isChunked || length == size else { return false }
        guard size <= Self.inlineBodyLimit else {
            (chunked, remaining) = (isChunked, length)
            write(.byteBuffer(out))
            encode(.body(.byteBuffer(body)), allocator: allocator, write: write)
            return encode(.end(nil), allocator: allocator, write: write)
        }
        var body = body
        if isChunked {
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
        (chunked, remaining) = (false, 0)
        write(.byteBuffer(out))
        return true
    }

    private static func headSize(_ head: HTTPRequestHead) -> Int {
        64 + head.uri.utf8.count + HTTP1Wire.size(of: head.headers)
    }

    /// Writes the request line and headers; returns whether the body is chunked and, if not,
    /// how many body bytes the head announced.
    static func encodeHead(_ head: HTTPRequestHead, into out: inout ByteBuffer) -> (chunked: Bool, length: Int) {
        var hasLength = false, saysChunked = false
        var length = 0
        for (name, value) in head.headers {
            if ASCII.equalsIgnoringCase(name, "content-length") {
                hasLength = true
                // An unreadable length announces nothing: no body byte may follow it.
                length = Int(value).map { max($0, 0) } ?? 0
            } else if ASCII.equalsIgnoringCase(name, "transfer-encoding") {
                saysChunked = ASCII.equalsIgnoringCase(value, "chunked")
            }
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
        return (chunked, chunked || !mayHaveBody ? 0 : length)
    }
}
