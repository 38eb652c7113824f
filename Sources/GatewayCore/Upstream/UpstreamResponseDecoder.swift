import NIOCore
import NIOHTTP1

/// NIO's HTTP/1 response decoder, without its watch on the connection's writes.
///
/// NIO's decoder must see each request head go out (a HEAD's answer has a length but no body),
/// so NIO makes its `ByteToMessageHandler` an outbound handler that every request part passes
/// through: a hop and a generic unwrap per part. The upstream connection's handler writes its
/// bytes straight to the socket instead and tells the decoder about each head itself. Only
/// touched on the connection's event loop.
struct UpstreamResponseDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart

    /// A class: the handler keeps the same decoder the pipeline's handler runs.
    let http: HTTPResponseDecoder

    init(_ http: HTTPResponseDecoder) { self.http = http }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try http.decode(context: context, buffer: &buffer)
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try http.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    mutating func decoderAdded(context: ChannelHandlerContext) { http.decoderAdded(context: context) }

    mutating func decoderRemoved(context: ChannelHandlerContext) { http.decoderRemoved(context: context) }
}

