@testable import GatewayCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The upstream request encoder: the bytes an upstream receives for each framing case, part by
/// part and as a whole request in hand.
@Suite struct HTTP1RequestEncoderTests {
    func wire(_ parts: [HTTPClientRequestPart]) throws -> String {
        var encoder = HTTP1RequestEncoder()
        var out = ByteBuffer()
        for part in parts {
            encoder.encode(part, allocator: ByteBufferAllocator()) { data in
                guard case .byteBuffer(var b) = data else { Issue.record("a file region"); return }
                out.writeBuffer(&b)
            }
        }
        let partwise = String(buffer: out)
        // The same request sent whole (head, at most one body part, no trailers) gives the same
        // bytes, in one buffer.
        if case .head(let head) = parts.first, case .end(nil) = parts.last, parts.count <= 3 {
            var body = ByteBuffer()
            if parts.count == 3, case .body(.byteBuffer(let b)) = parts[1] { body = b }
            var whole = HTTP1RequestEncoder(), buffers = 0
            out.clear()
            whole.encode(head: head, body: body, allocator: ByteBufferAllocator()) { data in
                guard case .byteBuffer(var b) = data else { Issue.record("a file region"); return }
                buffers += 1
                out.writeBuffer(&b)
            }
            #expect(String(buffer: out) == partwise)
            #expect(buffers == 1)
        }
        return partwise
    }

    func head(_ method: HTTPMethod, _ headers: [(String, String)], version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: "/v1/x?a=1", headers: HTTPHeaders(headers))
    }

    @Test func aPostWithALengthGoesAsIs() throws {
        let text = try wire([.head(head(.POST, [("host", "up"), ("content-length", "2"), ("transfer-encoding", "chunked")])),
                             .body(.byteBuffer(ByteBuffer(string: "{}"))), .end(nil)])
        #expect(text == "POST /v1/x?a=1 HTTP/1.1\r\nhost: up\r\ncontent-length: 2\r\n\r\n{}")
    }

    @Test func aPostWithoutALengthIsChunked() throws {
        let text = try wire([.head(head(.POST, [("host", "up")])), .body(.byteBuffer(ByteBuffer(string: "abc"))), .end(nil)])
        #expect(text == "POST /v1/x?a=1 HTTP/1.1\r\nhost: up\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    }

    @Test func aGetIsNotChunkedUnlessItSaysSo() throws {
        #expect(try wire([.head(head(.GET, [("host", "up")])), .end(nil)]) == "GET /v1/x?a=1 HTTP/1.1\r\nhost: up\r\n\r\n")
        let streamed = try wire([.head(head(.DELETE, [("transfer-encoding", "chunked")])), .body(.byteBuffer(ByteBuffer(string: "x"))), .end(nil)])
        #expect(streamed == "DELETE /v1/x?a=1 HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n")
    }

    @Test func aTraceCarriesNoLengthAndHTTP10IsNeverChunked() throws {
        #expect(try wire([.head(head(.TRACE, [("content-length", "0")])), .end(nil)]) == "TRACE /v1/x?a=1 HTTP/1.1\r\n\r\n")
        // HTTP/1.0 has no chunks: a body goes with its length, and without one is not written
        // at all (`bodyBytesTheHeadDidNotAnnounceAreRefused`).
        #expect(try wire([.head(head(.PUT, [("content-length", "2")], version: .http1_0)), .body(.byteBuffer(ByteBuffer(string: "ab"))), .end(nil)])
                == "PUT /v1/x?a=1 HTTP/1.0\r\ncontent-length: 2\r\n\r\nab")
    }

    @Test func headersThatCouldSplitTheRequestAreNotWritten() throws {
        let text = try wire([.head(head(.GET, [("x-bad", "a\nhost: evil"), ("x-ok", "1")])), .end(nil)])
        #expect(text == "GET /v1/x?a=1 HTTP/1.1\r\nx-ok: 1\r\n\r\n")
    }

    @Test func aLargeBodyIsWrittenAfterItsHeadUncopied() throws {
        let body = ByteBuffer(repeating: UInt8(ascii: "a"), count: HTTP1RequestEncoder.inlineBodyLimit + 1)
        var encoder = HTTP1RequestEncoder(), buffers: [ByteBuffer] = []
        encoder.encode(head: head(.POST, [("content-length", "\(body.readableBytes)")]), body: body, allocator: ByteBufferAllocator()) { data in
            if case .byteBuffer(let b) = data { buffers.append(b) }
        }
        #expect(buffers.count == 2)
        #expect(buffers.last == body)
        #expect(String(buffer: buffers[0]).hasSuffix("content-length: \(body.readableBytes)\r\n\r\n"))
    }

    /// The response decoder hears of each request head from the connection's handler, not from
    /// the pipeline: a HEAD's answer, which has a length but no body, must end at its head.
    @Test func theResponseDecoderReadsAHEADAnswerAsBodiless() throws {
        let decoder = HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)
        let reading = UpstreamReadState()
        reading.requestSent()  // (no handler here to end the answers: both are read as owed)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(UpstreamResponseDecoder(decoder, reading: reading)))
        decoder.write(data: .head(head(.HEAD, [])))
        decoder.write(data: .head(head(.GET, [])))
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"))
        var parts: [String] = []
        while let part = try channel.readInbound(as: HTTPClientResponsePart.self) {
            switch part {
            case .head(let h): parts.append("head \(h.status.code) \(h.headers["content-length"].first ?? "")")
            case .body(let b): parts.append("body \(String(buffer: b))")
            case .end: parts.append("end")
            }
        }
        #expect(parts == ["head 200 5", "end", "head 200 2", "body ok", "end"])
        // Writes pass the decoder's handler untouched: it is not an outbound handler.
        try channel.writeOutbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        _ = try channel.finish()
    }

    /// Bytes from an upstream that owes no answer are refused, not parsed into the next answer.
    @Test func theResponseDecoderRefusesBytesNobodyAskedFor() throws {
        let decoder = HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)
        let reading = UpstreamReadState()
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(UpstreamResponseDecoder(decoder, reading: reading)))
        #expect(throws: UnsolicitedBytes.self) { try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\n")) }
        _ = try? channel.finish()
    }

    /// Body bytes past what the head announced are never written: the encoder refuses them.
    @Test func bodyBytesTheHeadDidNotAnnounceAreRefused() {
        var encoder = HTTP1RequestEncoder()
        var written = 0
        let allocator = ByteBufferAllocator()
        let count = { (d: IOData) in written += d.readableBytes }
        do { let ok = encoder.encode(.head(head(.GET, [])), allocator: allocator, write: count); #expect(ok) }
        let before = written
        do { let ok = encoder.encode(.body(.byteBuffer(ByteBuffer(string: "GET /smuggled HTTP/1.1\r\n\r\n"))), allocator: allocator, write: count); #expect(!ok) }
        #expect(written == before)
        var sized = HTTP1RequestEncoder()
        do { let ok = sized.encode(.head(head(.DELETE, [("content-length", "3")])), allocator: allocator, write: count); #expect(ok) }
        do { let ok = sized.encode(.body(.byteBuffer(ByteBuffer(string: "abc"))), allocator: allocator, write: count); #expect(ok) }
        do { let ok = sized.encode(.body(.byteBuffer(ByteBuffer(string: "d"))), allocator: allocator, write: count); #expect(!ok) }
        var short = HTTP1RequestEncoder()
        do { let ok = short.encode(.head(head(.PUT, [("content-length", "3")])), allocator: allocator, write: count); #expect(ok) }
        do { let ok = short.encode(.end(nil), allocator: allocator, write: count); #expect(!ok) }
        var whole = HTTP1RequestEncoder()
        do { let ok = whole.encode(head: head(.GET, []), body: ByteBuffer(string: "x"), allocator: allocator, write: count); #expect(!ok) }
        do { let ok = whole.encode(head: head(.GET, [("transfer-encoding", "chunked")]), body: ByteBuffer(string: "x"), allocator: allocator, write: count); #expect(ok) }
    }
}
