import NIOCore
import NIOHTTP1

/// Writes HTTP/1.x responses as bytes, inside the handler that produces them.
///
/// NIO's `HTTPResponseEncoder` and outbound header validator are two more pipeline hops per
/// response part, each with a dynamic cast, and the encoder copies the header array to fix its
/// framing headers: together about a tenth of the gateway's user CPU per request. This does
/// the same work in one pass over the headers: the same framing rules (a HEAD or CONNECT
/// answer has no body; 1xx, 204 and 304 carry no length headers; a length wins over chunking;
/// HTTP/1.1 without a length is chunked) and the same safety (a header whose name is not a
/// token or whose value holds a control character is not written, so nothing from an upstream
/// or a config can split the response).
package struct HTTP1ResponseEncoder {
    private var chunked = false
    private var bodyless = false

    package init() {}

    /// Encodes one response part; `write` gets the bytes (one or more buffers, in order).
    /// `requestMethod` is the method of the request being answered.
    package mutating func encode(_ part: HTTPServerResponsePart, requestMethod: HTTPMethod, allocator: ByteBufferAllocator,
                                write: (IOData) -> Void) {
        switch part {
        case .head(let head):
            var buffer = allocator.buffer(capacity: 64 + HTTP1Wire.size(of: head.headers))
            encodeHead(head, requestMethod: requestMethod, into: &buffer)
            write(.byteBuffer(buffer))
        case .body(let data):
            if bodyless || data.readableBytes == 0 { return }
            guard chunked else { return write(data) }
            HTTP1Wire.writeChunk(data, allocator: allocator, write: write)
        case .end(let trailers):
            defer { bodyless = false }
            guard chunked else { return }
            chunked = false
            write(.byteBuffer(HTTP1Wire.lastChunk(trailers: trailers, allocator: allocator)))
        }
    }

    /// A head as bytes, with `lines` after its headers (see `ResponseHeaderLines`).
    package mutating func encodeHead(_ head: HTTPResponseHead, requestMethod: HTTPMethod, allocator: ByteBufferAllocator,
                                    lines: some ResponseHeaderLines) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64 + HTTP1Wire.size(of: head.headers) + lines.byteCount)
        encodeHead(head, requestMethod: requestMethod, into: &buffer, lines: lines)
        return buffer
    }

    /// Writes the status line and headers, and decides the body's framing.
    mutating func encodeHead(_ head: HTTPResponseHead, requestMethod: HTTPMethod, into out: inout ByteBuffer) {
        encodeHead(head, requestMethod: requestMethod, into: &out, lines: HTTP1Wire.NoLines())
    }

    mutating func encodeHead(_ head: HTTPResponseHead, requestMethod: HTTPMethod, into out: inout ByteBuffer, lines: some ResponseHeaderLines) {
        let code = head.status.code
        let informational = code >= 100 && code < 200 && code != 101
        if !informational { bodyless = requestMethod == .HEAD || requestMethod == .CONNECT }
        let mayHaveBody = !(requestMethod == .CONNECT && !informational) && !(code < 200 || code == 204 || code == 304)
        var hasLength = false
        if mayHaveBody {
            for (name, _) in head.headers where ASCII.equalsIgnoringCase(name, "content-length") {
                hasLength = true
                break
            }
        }
        let http11 = head.version.major == 1 && head.version.minor >= 1
        chunked = mayHaveBody && !hasLength && http11
        if head.version == .http1_1, head.status == .ok {
            out.writeStaticString("HTTP/1.1 200 OK\r\n")
        } else {
            out.writeStaticString(head.version.major == 1 && head.version.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
            out.writeString(String(code))
            out.writeStaticString(" ")
            out.writeString(head.status.reasonPhrase)
            out.writeStaticString("\r\n")
        }
        HTTP1Wire.writeHeaders(head.headers, mayHaveBody: mayHaveBody, chunked: chunked, into: &out, lines: lines)
        if bodyless { chunked = false }
    }
}
