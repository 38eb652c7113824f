import NIOCore
import NIOHTTP1

/// The pieces of HTTP/1.x text both of the data plane's encoders write
/// (`HTTP1ResponseEncoder` to clients, `HTTP1RequestEncoder` to upstreams).
enum HTTP1Wire {
    /// Writes `headers`, then `lines`, and the blank line that ends them. Transfer-Encoding is
    /// the encoder's to set (`chunked` adds it); Content-Length goes only where a body may;
    /// invalid headers are left out.
    static func writeHeaders(_ headers: HTTPHeaders, mayHaveBody: Bool, chunked: Bool, into out: inout ByteBuffer,
                             lines: some ResponseHeaderLines = NoLines()) {
        // Every header of every answer and upstream request passes here: each is checked and
        // written from its bytes in one pass, with one write into the (presized) buffer.
        for (name, value) in headers {
            var name = name, value = value
            name.withUTF8 { n in
                value.withUTF8 { v in
                    guard isValid(name: n, value: v) else { return }
                    if ASCII.equalsIgnoringCase(n, "transfer-encoding") { return }
                    if !mayHaveBody, ASCII.equalsIgnoringCase(n, "content-length") { return }
                    writeHeader(n, v, into: &out)
                }
            }
        }
        lines.write(into: &out)
        if chunked { out.writeStaticString("transfer-encoding: chunked\r\n") }
        out.writeStaticString("\r\n")
    }

    /// No lines after a head's list.
    struct NoLines: ResponseHeaderLines {
        var byteCount: Int { 0 }
        func write(into out: inout ByteBuffer) {}
        func add(to headers: inout HTTPHeaders) {}
    }

    /// One chunk of a chunked body, handed to `write` in order: a small one (a stream event) as
    /// one buffer, a large one as its size line, the data and the CRLF.
    static func writeChunk(_ data: IOData, allocator: ByteBufferAllocator, write: (IOData) -> Void) {
        let size = data.readableBytes
        if case .byteBuffer(var small) = data, size <= 4096 {
            var out = allocator.buffer(capacity: size + 12)
            writeHex(size, into: &out)
            out.writeStaticString("\r\n")
            out.writeBuffer(&small)
            out.writeStaticString("\r\n")
            write(.byteBuffer(out))
        } else {
            var prefix = allocator.buffer(capacity: 12)
            writeHex(size, into: &prefix)
            prefix.writeStaticString("\r\n")
            write(.byteBuffer(prefix))
            write(data)
            write(.byteBuffer(ByteBuffer(staticString: "\r\n")))
        }
    }

    /// The last chunk, with trailers if any.
    static func lastChunk(trailers: HTTPHeaders?, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard let trailers, !trailers.isEmpty else { return ByteBuffer(staticString: "0\r\n\r\n") }
        var out = allocator.buffer(capacity: 256)
        out.writeStaticString("0\r\n")
        for (name, value) in trailers where isValid(name: name, value: value) { writeHeader(name, value, into: &out) }
        out.writeStaticString("\r\n")
        return out
    }

    /// Room for `headers` written out (`name: value\r\n` each), estimated from their number:
    /// a head's buffer is allocated once for most heads, and grown once for one with long values
    /// (tokens, cookies). Measuring them exactly walked the headers, retaining and releasing two
    /// strings per header, for every head in both directions: about 70 reference-count
    /// operations per proxied call, more than the rare growth costs.
    static func size(of headers: HTTPHeaders) -> Int {
        headers.count * 64
    }

    static func writeHeader(_ name: String, _ value: String, into out: inout ByteBuffer) {
        var name = name, value = value
        name.withUTF8 { n in value.withUTF8 { v in writeHeader(n, v, into: &out) } }
    }

    /// `name: value\r\n` in one write.
    static func writeHeader(_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>, into out: inout ByteBuffer) {
        let total = name.count + value.count + 4
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { to in
            var at = 0
            func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
                (to.baseAddress! + at).copyMemory(from: base, byteCount: bytes.count)
                at += bytes.count
            }
            func put(_ a: UInt8, _ b: UInt8) {
                to[at] = a
                to[at + 1] = b
                at += 2
            }
            put(name)
            put(UInt8(ascii: ":"), UInt8(ascii: " "))
            put(value)
            put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            return total
        }
    }

    static func writeHex(_ n: Int, into out: inout ByteBuffer) {
        let digits: StaticString = "0123456789abcdef"
        var shift = (Int.bitWidth - n.leadingZeroBitCount + 3) / 4 * 4 - 4
        if shift < 0 { shift = 0 }
        while shift >= 0 {
            out.writeInteger(digits.utf8Start[(n >> shift) & 0xF])
            shift -= 4
        }
    }

    /// RFC 9110: a name is a token; a value has no control characters other than tab. Every
    /// header of every response and upstream request passes here, so it works on the bytes
    /// with a bit mask rather than a `switch` per character.
    static func isValid(name: String, value: String) -> Bool {
        var name = name, value = value
        return name.withUTF8 { n in value.withUTF8 { v in isValid(name: n, value: v) } }
    }

    static func isValid(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !name.isEmpty else { return false }
        var all: UInt8 = 0, bad = false
        for b in name {
            all |= b
            bad = bad || ((b < 64 ? tokenLow : tokenHigh) >> UInt64(b & 63)) & 1 == 0
        }
        guard !bad, all < 0x80 else { return false }
        for b in value where b < 0x20 || b == 0x7F {
            if b != 0x09 { return false }
        }
        return true
    }

    /// Token characters (RFC 9110 tchar: `!#$%&'*+-.^_`|~`, digits, letters) as bits, for
    /// bytes 0-63 and 64-127.
    private static let tokenLow: UInt64 = 0x03ff6cfa00000000
    private static let tokenHigh: UInt64 = 0x57ffffffc7fffffe
}
