import NIOCore
import NIOHTTP1

/// A gate's side of one request, as the client connection sees it: it receives the rest of the
/// request and answers through the `ClientResponder` it was given. Every call happens on the
/// connection's event loop.
package protocol RequestExchange: AnyObject {
    func requestBody(_ body: ByteBuffer)
    func requestEnd(_ trailers: HTTPHeaders?)
    /// The client can take more response bytes again (or no longer can).
    func clientWritabilityChanged(isWritable: Bool)
    /// The client went away: stop everything and free the upstream connection.
    func clientClosed()
}

/// The client connection, as an exchange answers through it. Only on the connection's loop.
package protocol ClientResponder: AnyObject {
    var allocator: ByteBufferAllocator { get }
    var eventLoop: EventLoop { get }
    /// Whether the client takes more bytes now (back-pressure: stop reading the upstream if not).
    var isWritable: Bool { get }
    /// The loop's state: request ids, upstream pools.
    var loopContext: LoopContext { get }
    /// Taken as the responder's own: it adds its headers to the head's list in place, where a
    /// borrowed head would have its whole list copied first.
    func writeResponseHead(_ head: consuming HTTPResponseHead)
    /// The head with `lines` after its own headers (HTTP/1 writes them as bytes).
    func writeResponseHead(_ head: consuming HTTPResponseHead, lines: some ResponseHeaderLines)
    func writeResponseBody(_ body: ByteBuffer)
    /// Sends what was written, at the end of the loop's tick (see `LoopFlushes`).
    func flush()
    func writeResponseEnd(_ trailers: HTTPHeaders?)
    /// Ends the response mid-way: the client must see an incomplete message, never a clean end.
    func abort()
    /// Answers with an error in the request's dialect (the mount's, or RFC 9457) and ends it.
    func respond(_ problem: ProblemDetails)
    func pauseClientReads()
    func resumeClientReads()
    /// Where the exchange's upstream was and how long it took to answer, for the log and metrics
    /// (the address is formatted only when a log line or a span takes it).
    func noteUpstream(address: SocketAddress?, latencyNanos: Int64)
    /// What the gate adds to this request's access-log line and span.
    func annotate(_ annotation: some RequestAnnotation)
}

extension ClientResponder {
    /// By default the lines join the head's list.
    package func writeResponseHead(_ head: consuming HTTPResponseHead, lines: some ResponseHeaderLines) {
        var head = head
        lines.add(to: &head.headers)
        writeResponseHead(head)
    }
}

/// How a gate writes its errors (OpenAI's or Anthropic's error JSON instead of problem+json).
package protocol ErrorDialect: Sendable {
    /// The body and its content type for `problem`.
    func render(_ problem: ProblemDetails, allocator: ByteBufferAllocator) -> (contentType: String, body: ByteBuffer)
    /// Changes the problem's headers before it is written (the MCP gate points 401 and 403
    /// challenges at its OAuth resource metadata). By default, nothing.
    func adjust(_ problem: inout ProblemDetails)
}

extension ErrorDialect {
    package func adjust(_ problem: inout ProblemDetails) {}
}
