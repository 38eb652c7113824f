import NIOCore
import NIOHTTP2

/// Sits on each inbound HTTP/2 stream before NIO's HTTP/2-to-HTTP/1 codec and fixes what that
/// translation loses about a request:
///
/// - A body. The codec marks a request whose HEADERS frame did not end the stream as
///   `Transfer-Encoding: chunked` only for methods that usually carry one; a GET, HEAD, DELETE,
///   CONNECT or TRACE with DATA frames and no `content-length` came out as a head without a
///   body, and its DATA was forwarded raw after it (request smuggling). Here every such request
///   is marked. The mark cannot be forged: HTTP/2 forbids `transfer-encoding` (RFC 9113
///   §8.2.2) and NIO refuses a stream that sends it, before this handler.
/// - Its authority. `:authority` and `host` that disagree are a malformed request (RFC 9113
///   §8.3.1); the codec would keep `host` while the client meant `:authority`. The stream is
///   reset.
final class HTTP2RequestHeadMarker: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .headers(var content) = unwrapInboundIn(data) else {
            return context.fireChannelRead(data)
        }
        // Only the first HEADERS frame is the request head; trailers pass through untouched.
        defer { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
        let authorities = content.headers[canonicalForm: ":authority"]
        let hosts = content.headers[canonicalForm: "host"]
        if authorities.count > 1 || hosts.count > 1
            || (authorities.count == 1 && hosts.count == 1 && !ASCII.sameIgnoringCase(String(authorities[0]), String(hosts[0])))
        {
            context.close(promise: nil)
            return
        }
        // The codec marks the other methods itself.
        if !content.endStream, Self.codecLeavesUnmarked(content.headers.first(name: ":method")),
            !content.headers.contains(name: "content-length")
        {
            content.headers.add(name: "transfer-encoding", value: "chunked")
            return context.fireChannelRead(wrapInboundOut(.headers(content)))
        }
        context.fireChannelRead(data)
    }

    private static func codecLeavesUnmarked(_ method: String?) -> Bool {
        switch method {
        case "GET", "HEAD", "DELETE", "CONNECT", "TRACE": true
        default: false
        }
    }
}
