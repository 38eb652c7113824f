import NIOCore
import NIOHTTP1

/// A machine-readable error code, for the dialects that carry one. The core declares none: each
/// gate declares its own as static members, in one file, so no code is written as a bare string
/// where it is used.
package struct ProblemCode: Hashable, Sendable {
    package let rawValue: String
    package init(_ rawValue: String) { self.rawValue = rawValue }
}

/// An RFC 9457 problem: the body of every error the gateway itself answers on REST routes and
/// the admin API. The title is safe to show; details go to the log, never to the client.
package struct ProblemDetails: Sendable {
    package var status: HTTPResponseStatus
    package var title: String
    package var detail: String?
    package var requestID: String?
    /// Extra headers (`Allow`, `Retry-After`, ...).
    package var headers: [(String, String)] = []
    /// A machine-readable code for dialects that carry one (OpenAI's `error.code`).
    package var code: ProblemCode?

    package init(status: HTTPResponseStatus, title: String? = nil, detail: String? = nil, requestID: String? = nil, headers: [(String, String)] = []) {
        self.status = status
        self.title = title ?? status.reasonPhrase
        self.detail = detail
        self.requestID = requestID
        self.headers = headers
    }

    package func body(allocator: ByteBufferAllocator) -> ByteBuffer {
        var fields: [(String, JSONValue)] = [
            ("type", .string("about:blank")),
            ("title", .string(title)),
            ("status", .int(Int(status.code))),
        ]
        if let detail { fields.append(("detail", .string(detail))) }
        if let requestID { fields.append(("request_id", .string(requestID))) }
        var buffer = allocator.buffer(capacity: 128)
        JSONValue.object(fields).write(to: &buffer)
        return buffer
    }

    /// The response head for `body`, with `Content-Length` so keep-alive survives.
    package func head(version: HTTPVersion, bodyLength: Int, close: Bool, contentType: String = "application/problem+json") -> HTTPResponseHead {
        var h = HTTPHeaders()
        h.reserveCapacity(5 + headers.count)
        h.add(name: "content-type", value: contentType)
        h.add(name: "content-length", value: String(bodyLength))
        if let requestID { h.add(name: "x-request-id", value: requestID) }
        for (n, v) in headers { h.add(name: n, value: v) }
        if close, version.major == 1 { h.add(name: "connection", value: "close") }
        return HTTPResponseHead(version: version, status: status, headers: h)
    }
}
