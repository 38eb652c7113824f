import GatewayCore
import NIOCore
import NIOHTTP1

/// `GET <path>/sse`: the 2024-11-05 HTTP+SSE transport for old clients. Opening the stream
/// opens a session (bound to the caller, as every session is); its first event, `endpoint`,
/// names `<path>/messages?session_id=...`, where the client POSTs its messages. Every answer
/// comes down this stream. Closing the stream ends the session.
final class LegacySSEEndpoint: RequestExchange {
    unowned let client: ClientResponder
    let request: MountedRequest
    let snapshot: MCPSnapshot
    /// The MCP path the stream belongs to (`/mcp` or a virtual server's).
    let basePath: String
    private var session: AgentSession?
    private var closed = false
    /// Bounds what is queued on this stream while the agent does not read it.
    private lazy var outbound = AgentOutbound(dropped: snapshot.dispatcher.slowAgentDrops)

    init(client: ClientResponder, request: MountedRequest, snapshot: MCPSnapshot, basePath: String) {
        self.client = client
        self.request = request
        self.snapshot = snapshot
        self.basePath = basePath
    }

    func requestBody(_ body: ByteBuffer) {}

    func requestEnd(_ trailers: HTTPHeaders?) {
        if let origin = request.head.headers.first(name: "origin"), !snapshot.allowedOrigins.contains(origin) {
            return refuse(.forbidden, "Origin \(origin) is not allowed")
        }
        guard request.head.method == .GET else {
            return refuse(.methodNotAllowed, "Method not allowed", headers: [("allow", "GET")])
        }
        let bound = NIOLoopBound(self, eventLoop: client.eventLoop)
        let push: @Sendable (ByteBuffer) -> Void = { message in
            bound.eventLoop.executeSoon { bound.value.send(event: "message", data: message) }
        }
        guard let session = snapshot.dispatcher.sessions.open(
            principal: request.consumer?.name ?? "", protocolVersion: ProtocolVersions.legacy, clientCapabilities: .object([]),
            path: basePath, now: Int64(NIODeadline.now().uptimeNanoseconds), push: push, pushPace: outbound) else {
            return refuse(.serviceUnavailable, "Too many open sessions; try again later")
        }
        self.session = session
        var h = HTTPHeaders()
        h.add(name: "content-type", value: "text/event-stream")
        h.add(name: "cache-control", value: "no-cache")
        h.add(name: "x-request-id", value: request.requestID)
        client.writeResponseHead(HTTPResponseHead(version: request.head.version, status: .ok, headers: h))
        send(event: "endpoint", data: ByteBuffer(string: "\(basePath)/messages?session_id=\(session.id)"))
    }

    private func send(event: String, data: ByteBuffer) {
        guard !closed else { return }
        var out = client.allocator.buffer(capacity: data.readableBytes + 32)
        out.writeString("event: \(event)\ndata: ")
        var data = data
        out.writeBuffer(&data)
        out.writeStaticString("\n\n")
        client.writeResponseBody(out)
        client.flush()
    }

    private func refuse(_ status: HTTPResponseStatus, _ message: String, headers extra: [(String, String)] = []) {
        let body = RPC.error(id: nil, code: RPCErrorCode.invalidRequest, message: message)
        var h = HTTPHeaders()
        h.add(name: "content-type", value: "application/json")
        h.add(name: "content-length", value: String(body.readableBytes))
        for (n, v) in extra { h.add(name: n, value: v) }
        client.writeResponseHead(HTTPResponseHead(version: request.head.version, status: status, headers: h))
        client.writeResponseBody(body)
        client.writeResponseEnd(nil)
        closed = true
    }

    func clientWritabilityChanged(isWritable: Bool) {
        outbound.writabilityChanged(isWritable)
    }

    func clientClosed() {
        closed = true
        if let session { _ = snapshot.dispatcher.sessions.close(session.id, principal: session.principal) }
    }
}
