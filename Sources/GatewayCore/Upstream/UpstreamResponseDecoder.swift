import NIOCore
import NIOHTTP1

/// NIO's HTTP/1 response decoder, without its watch on the connection's writes.
///
/// NIO's decoder must see each request head go out (a HEAD's answer has a length but no body),
/// so NIO makes its `ByteToMessageHandler` an outbound handler that every request part passes
/// through: a hop and a generic unwrap per part. The upstream connection's handler writes its
/// bytes straight to the socket instead and tells the decoder about each head itself. Only
/// touched on the connection's event loop.
///
/// It also refuses bytes nobody asked for (see `UpstreamReadState`): bytes that arrive while no
/// request is waiting for an answer, and bytes left over in the same read as the end of an
/// answer. Either means the upstream answered a request the gateway never sent, a smuggled
/// one, and the connection is closed rather than handed to the next request.
struct UpstreamResponseDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart

    /// A class: the handler keeps the same decoder the pipeline's handler runs.
    let http: HTTPResponseDecoder
    let reading: UpstreamReadState

    init(_ http: HTTPResponseDecoder, reading: UpstreamReadState) {
        self.http = http
        self.reading = reading
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard reading.awaiting || buffer.readableBytes == 0 else { throw UnsolicitedBytes() }
        reading.passStarted()
        defer { reading.passEnded() }
        let state = try http.decode(context: context, buffer: &buffer)
        if reading.endedInPass, buffer.readableBytes > 0 { throw UnsolicitedBytes() }
        return state
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try http.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    mutating func decoderAdded(context: ChannelHandlerContext) { http.decoderAdded(context: context) }

    mutating func decoderRemoved(context: ChannelHandlerContext) { http.decoderRemoved(context: context) }
}


/// Bytes an upstream sent that no request asked for.
struct UnsolicitedBytes: Error {}

/// Whether an upstream HTTP/1 connection owes an answer, shared by its handler (which writes
/// the requests and sees the answers end) and its decoder (which sees the bytes). Loop-bound.
///
/// The pool may lease a connection to the next request from inside the callback for the end
/// of an answer, while the decoder is still working through the bytes of the same read. Those
/// bytes arrived before the new request was written, so nothing in them can be its answer:
/// after an answer ends, the rest of that pass is refused (`headAllowed` is false).
final class UpstreamReadState {
    /// A request was written and its answer has not ended.
    private(set) var awaiting = false
    /// An answer ended during the current decoding pass.
    private(set) var endedInPass = false
    private var inPass = false

    init() {}

    func requestSent() { awaiting = true }

    func responseEnded() {
        awaiting = false
        if inPass { endedInPass = true }
    }

    /// Whether a response head decoded now can be the answer to a request.
    var headAllowed: Bool { awaiting && !endedInPass }

    func passStarted() {
        inPass = true
        endedInPass = false
    }

    func passEnded() {
        inPass = false
    }
}
