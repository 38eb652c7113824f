@testable import GatewayCore
import NIOCore
import NIOHTTP1
import Testing

/// The data plane's HTTP/1 response encoder: the bytes on the wire for each framing case.
@Suite struct HTTP1ResponseEncoderTests {
    /// Encodes the parts as the answer to a `method` request; returns the wire text.
    func wire(_ parts: [HTTPServerResponsePart], method: HTTPMethod = .GET) -> String {
        var encoder = HTTP1ResponseEncoder()
        var out = ByteBuffer()
        for part in parts {
            encoder.encode(part, requestMethod: method, allocator: ByteBufferAllocator()) { data in
                guard case .byteBuffer(var b) = data else { Issue.record("file region"); return }
                out.writeBuffer(&b)
            }
        }
        return String(buffer: out)
    }

    func head(_ headers: [(String, String)], status: HTTPResponseStatus = .ok, version: HTTPVersion = .http1_1) -> HTTPResponseHead {
        HTTPResponseHead(version: version, status: status, headers: HTTPHeaders(headers))
    }

    @Test func aKnownLengthIsKeptAndTheBodyWrittenAsIs() {
        let text = wire([.head(head([("content-length", "5"), ("x-a", "1")])), .body(.byteBuffer(ByteBuffer(string: "hello"))), .end(nil)])
        #expect(text == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\nhello")
    }

    @Test func noLengthOnHTTP11IsChunkedAndEndsWithTheLastChunk() {
        let big = String(repeating: "x", count: 5000)
        let text = wire([.head(head([("transfer-encoding", "gzip"), ("x-a", "1")])), .body(.byteBuffer(ByteBuffer(string: "hi"))),
                         .body(.byteBuffer(ByteBuffer(string: big))), .end(nil)])
        #expect(text == "HTTP/1.1 200 OK\r\nx-a: 1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n1388\r\n\(big)\r\n0\r\n\r\n")
    }

    @Test func trailersFollowTheLastChunk() {
        var trailers = HTTPHeaders()
        trailers.add(name: "grpc-status", value: "0")
        let text = wire([.head(head([])), .body(.byteBuffer(ByteBuffer(string: "a"))), .end(trailers)])
        #expect(text.hasSuffix("1\r\na\r\n0\r\ngrpc-status: 0\r\n\r\n"))
    }

    @Test func aHEADAnswerKeepsItsLengthButSendsNoBody() {
        let text = wire([.head(head([("content-length", "5")])), .body(.byteBuffer(ByteBuffer(string: "hello"))), .end(nil)], method: .HEAD)
        #expect(text == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")
    }

    @Test func noContentAndNotModifiedCarryNoLengthHeaders() {
        for status in [HTTPResponseStatus.noContent, .notModified] {
            let text = wire([.head(head([("content-length", "0"), ("transfer-encoding", "chunked"), ("etag", "x")], status: status)), .end(nil)])
            #expect(text == "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\netag: x\r\n\r\n")
        }
    }

    @Test func http10WithoutALengthIsNotChunked() {
        let text = wire([.head(head([], version: .http1_0)), .body(.byteBuffer(ByteBuffer(string: "abc"))), .end(nil)])
        #expect(text == "HTTP/1.0 200 OK\r\n\r\nabc")
    }

    @Test func anInterimContinueDoesNotDecideTheFinalFraming() {
        let text = wire([.head(HTTPResponseHead(version: .http1_1, status: .continue)), .head(head([("content-length", "2")], status: .created)),
                         .body(.byteBuffer(ByteBuffer(string: "ok"))), .end(nil)], method: .HEAD)
        #expect(text == "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
    }

    @Test func customReasonsAreKept() {
        let text = wire([.head(head([("content-length", "0")], status: .custom(code: 599, reasonPhrase: "Odd"))), .end(nil)])
        #expect(text == "HTTP/1.1 599 Odd\r\ncontent-length: 0\r\n\r\n")
    }

    @Test func headersThatCouldSplitTheResponseAreNotWritten() {
        let text = wire([.head(head([("content-length", "0"), ("x-bad", "a\r\nset-cookie: evil=1"), ("bad name", "v"), ("x-ok", "tab\tok")])), .end(nil)])
        #expect(text == "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nx-ok: tab\tok\r\n\r\n")
    }

    /// Names are matched ignoring case; empty and non-ASCII values and long headers are
    /// written byte for byte.
    @Test func framingHeadersInAnyCaseAndOddValues() {
        let long = String(repeating: "v", count: 5000)
        let text = wire([.head(head([("Content-Length", "0"), ("TRANSFER-ENCODING", "chunked"), ("x-empty", ""), ("x-utf8", "café ✓"),
                                     ("x-long", long), ("Transfer-Encodings", "kept")])), .end(nil)], method: .HEAD)
        #expect(text == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-empty: \r\nx-utf8: café ✓\r\nx-long: \(long)\r\nTransfer-Encodings: kept\r\n\r\n")
        let noContent = wire([.head(head([("CONTENT-LENGTH", "3"), ("x-a", "1")], status: .noContent)), .end(nil)])
        #expect(noContent == "HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n")
    }

    /// Lines a gate writes itself follow the head's list, before the framing the encoder adds.
    @Test func linesFollowTheListBeforeTheFraming() {
        struct Lines: ResponseHeaderLines {
            var byteCount: Int { 16 }
            func write(into out: inout ByteBuffer) { out.writeString("x-line: 7\r\n") }
            func add(to headers: inout HTTPHeaders) { headers.add(name: "x-line", value: "7") }
        }
        var encoder = HTTP1ResponseEncoder()
        var bytes = encoder.encodeHead(head([("x-a", "1")]), requestMethod: .GET, allocator: ByteBufferAllocator(), lines: Lines())
        #expect(bytes.readString(length: bytes.readableBytes) == "HTTP/1.1 200 OK\r\nx-a: 1\r\nx-line: 7\r\ntransfer-encoding: chunked\r\n\r\n")
        var rest = ByteBuffer()
        encoder.encode(.end(nil), requestMethod: .GET, allocator: ByteBufferAllocator()) { if case .byteBuffer(var b) = $0 { rest.writeBuffer(&b) } }
        #expect(String(buffer: rest) == "0\r\n\r\n")
    }

    @Test func everyByteIsJudgedAsRFC9110Says() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for b in UInt8(0)...UInt8(255) {
            let text = String(decoding: [b], as: UTF8.self)
            #expect(HTTP1Wire.isValid(name: "x" + text, value: "v") == tchar.contains(b), "name byte \(b)")
            #expect(HTTP1Wire.isValid(name: "x", value: "a" + text) == (b >= 0x20 && b != 0x7F || b == 0x09), "value byte \(b)")
        }
        #expect(!HTTP1Wire.isValid(name: "", value: "v"))
    }
}
