@testable import GatewayCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The upstream request encoder: the bytes an upstream receives for each framing case.
@Suite struct HTTP1RequestEncoderTests {
    func wire(_ parts: [HTTPClientRequestPart]) throws -> String {
        let channel = EmbeddedChannel(handler: HTTP1RequestEncoder())
        for part in parts { try channel.writeOutbound(part) }
        var out = ByteBuffer()
        while var b = try channel.readOutbound(as: ByteBuffer.self) { out.writeBuffer(&b) }
        _ = try channel.finish()
        return String(buffer: out)
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
        #expect(try wire([.head(head(.PUT, [], version: .http1_0)), .body(.byteBuffer(ByteBuffer(string: "ab"))), .end(nil)])
                == "PUT /v1/x?a=1 HTTP/1.0\r\n\r\nab")
    }

    @Test func headersThatCouldSplitTheRequestAreNotWritten() throws {
        let text = try wire([.head(head(.GET, [("x-bad", "a\nhost: evil"), ("x-ok", "1")])), .end(nil)])
        #expect(text == "GET /v1/x?a=1 HTTP/1.1\r\nx-ok: 1\r\n\r\n")
    }
}
