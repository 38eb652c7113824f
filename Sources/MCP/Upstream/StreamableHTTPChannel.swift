import GatewayCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The Streamable HTTP client side (MCP 2025-03-26 and later): every message is a POST to the
/// server's endpoint; answers come as JSON or as an SSE stream. The `Mcp-Session-Id` the server
/// issues on `initialize` is sent on every later request; a 404 to a request carrying it means
/// the session is gone, and the caller starts a new one.
final class StreamableHTTPChannel: UpstreamChannel {
    private struct State {
        var sessionID: String?
        var protocolVersion: String?
    }

    let key: UpstreamPoolKey
    /// The server's configured headers (the gate's own credentials for it).
    let extraHeaders: [(String, String)]
    private let state = NIOLockedValueBox(State())
    private let loops: LoopContexts

    init(url: UpstreamURL, headers: [(String, String)], loops: LoopContexts) {
        var tls = UpstreamTLS()
        tls.caFile = nil
        key = UpstreamPoolKey(target: url, maxConnections: 256, idleTimeout: .seconds(90), connectTimeout: .seconds(5), tls: tls)
        extraHeaders = headers
        self.loops = loops
    }

    private func headers() -> (HTTPHeaders, hadSession: Bool) {
        let s = state.withLockedValue { $0 }
        var h = HTTPHeaders()
        h.add(name: "content-type", value: "application/json")
        h.add(name: "accept", value: "application/json, text/event-stream")
        if let id = s.sessionID { h.add(name: "mcp-session-id", value: id) }
        if let v = s.protocolVersion { h.add(name: "mcp-protocol-version", value: v) }
        for (name, value) in extraHeaders { h.replaceOrAdd(name: name, value: value) }
        return (h, s.sessionID != nil)
    }

    func request(_ body: ByteBuffer, id: String, progressToken: String?, loop: LoopContext, timeout: TimeAmount,
                 onMessage: @escaping @Sendable (RPCMessage) -> Void) async throws -> RPCMessage {
        let (headers, hadSession) = headers()
        let reply = try await HTTPPost.send(method: .POST, key: key, loop: loop, headers: headers, body: body, awaiting: id,
                                            timeout: timeout, onMessage: onMessage).get()
        if let session = reply.headers.first(name: "mcp-session-id") {
            state.withLockedValue { $0.sessionID = session }
        }
        if reply.status == .notFound, hadSession { throw UpstreamFailure.sessionExpired }
        guard let response = reply.response else {
            if reply.status.code >= 400 { throw UpstreamFailure.status(Int(reply.status.code), reply.text) }
            throw UpstreamFailure.protocolError("HTTP \(reply.status.code) without a response to request \(id)")
        }
        return response
    }

    func send(_ body: ByteBuffer, loop: LoopContext) async throws {
        let (headers, hadSession) = headers()
        let reply = try await HTTPPost.send(method: .POST, key: key, loop: loop, headers: headers, body: body, awaiting: nil,
                                            timeout: .seconds(30), onMessage: { _ in }).get()
        if reply.status == .notFound, hadSession { throw UpstreamFailure.sessionExpired }
        if reply.status.code >= 400 { throw UpstreamFailure.status(Int(reply.status.code), reply.text) }
    }

    /// Always 0: an expired session shows as a 404, which the server handles.
    var generation: Int { 0 }

    func prepare(loop: LoopContext) async throws {}

    func established(protocolVersion: String) {
        state.withLockedValue { $0.protocolVersion = protocolVersion }
    }

    func reset() {
        state.withLockedValue { $0 = State() }
    }

    /// Ends the upstream session with DELETE, as the spec asks of a client that leaves.
    func shutdown() async {
        let (headers, hadSession) = headers()
        reset()
        guard hadSession, let loop = loops.all.first else { return }
        _ = try? await HTTPPost.send(method: .DELETE, key: key, loop: loop, headers: headers, body: nil, awaiting: nil,
                                     timeout: .seconds(2), onMessage: { _ in }).get()
    }
}
