import GatewayCore
import NIOCore
import NIOHTTP1

/// `builtin:echo`: an upstream served inside the gateway, for the quick start and for trying
/// routes. It answers JSON describing the request as the upstream would have received it; the
/// body is counted, and echoed back when it is small.
final class EchoExchange: RequestExchange {
    /// Bodies up to this size are echoed; larger ones are only counted, so echo never buffers much.
    static let echoLimit = 64 * 1024

    private unowned let downstream: ProxyHandler
    private let head: HTTPRequestHead
    private let requestID: String
    /// The HTTP version the request arrived in (`HTTP/1.1`, `HTTP/2.0`).
    private let version: String
    private var body: ByteBuffer?
    private var bodyBytes = 0

    init(downstream: ProxyHandler, upstreamHead: HTTPRequestHead, requestID: String, version: String) {
        self.downstream = downstream
        self.head = upstreamHead
        self.requestID = requestID
        self.version = version
    }

    func requestBody(_ part: ByteBuffer) {
        bodyBytes += part.readableBytes
        if bodyBytes <= Self.echoLimit {
            var part = part
            if body == nil { body = part } else { body!.writeBuffer(&part) }
        } else {
            body = nil
        }
    }

    func requestEnd(_ trailers: HTTPHeaders?) {
        var fields: [(String, JSONValue)] = [
            ("method", .string(head.method.rawValue)),
            ("uri", .string(head.uri)),
            ("http_version", .string(version)),
            ("headers", .object(head.headers.map { ($0.name.lowercased(), .string($0.value)) })),
            ("body_bytes", .int(bodyBytes)),
        ]
        if let body, bodyBytes <= Self.echoLimit {
            fields.append(("body", .string(String(buffer: body))))
        }
        var out = downstream.allocator.buffer(capacity: 512)
        JSONValue.object(fields).write(to: &out)
        out.writeStaticString("\n")
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(out.readableBytes))
        headers.add(name: "x-request-id", value: requestID)
        downstream.writeResponseHead(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))
        downstream.writeResponseBody(out)
        downstream.writeResponseEnd(nil)
    }

    func clientWritabilityChanged(isWritable: Bool) {}

    func clientClosed() {}
}
