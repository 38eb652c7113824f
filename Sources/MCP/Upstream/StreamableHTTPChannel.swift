import GatewayCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The Streamable HTTP client side (MCP 2025-03-26 and later): every message is a POST to the
/// server's endpoint; answers come as JSON or as an SSE stream. The `Mcp-Session-Id` the server
/// issues on `initialize` is sent on every later request; a 404 to a request carrying it means
/// the session is gone, and the caller starts a new one. Once a session exists, a GET stream
/// takes what the server sends outside any request (list changes, `roots/list`).
final class StreamableHTTPChannel: UpstreamChannel {
    private struct State {
        var sessionID: String?
        var protocolVersion: String?
        var stream: NIOLoopBound<UpstreamCall>?
    }

    let key: UpstreamPoolKey
    /// The server's configured headers (the gate's own credentials for it).
    let extraHeaders: [(String, String)]
    private let state = NIOLockedValueBox(State())
    private let loops: LoopContexts
    private let logger: Logger
    private let unsolicited: UnsolicitedMessages
    /// What the server wrote on a POST's stream after that POST's answer (dropped).
    private let afterAnswer: @Sendable (RPCMessage) -> Void

    init(url: UpstreamURL, headers: [(String, String)], loops: LoopContexts, logger: Logger, unsolicited: @escaping UnsolicitedMessages,
         afterAnswer: @escaping @Sendable (RPCMessage) -> Void = { _ in }) {
        self.logger = logger
        self.unsolicited = unsolicited
        self.afterAnswer = afterAnswer
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

    func request(_ body: ByteBuffer, id: String, progressToken: String?, loop: LoopContext, bounds: CallBounds, pace: AgentOutbound?,
                 onMessage: @escaping @Sendable (RPCMessage) -> Void) async throws -> RPCMessage {
        let (headers, hadSession) = headers()
        let reply = try await HTTPPost.call(method: .POST, key: key, loop: loop, headers: headers, body: body, awaiting: id,
                                            bounds: bounds, pace: pace, onMessage: onMessage, afterAnswer: afterAnswer)
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

    /// Opens the GET stream and waits until the server answered it (at most `streamWait`): a
    /// server drops what it says outside requests while no stream is open, so a list change
    /// caused by the agent's first tool call must find the stream there.
    func listen() async {
        try? await openStream()?.get()
    }

    /// How long `listen` waits for the GET stream's answer before going on without it.
    static let streamWait = TimeAmount.seconds(2)

    /// The GET stream for messages outside requests; a server without one answers 405, which
    /// is fine (its lists are then refreshed by age only). The future completes when the
    /// server answered the GET (whatever it said), the stream failed, or `streamWait` passed.
    private func openStream() -> EventLoopFuture<Void>? {
        let (h, hadSession) = headers()
        guard hadSession, let loop = loops.all.first else { return nil }
        var streamHeaders = h
        streamHeaders.replaceOrAdd(name: "accept", value: "text/event-stream")
        streamHeaders.remove(name: "content-type")
        streamHeaders.replaceOrAdd(name: "host", value: key.target.hostForHeader)
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: key.target.basePath.isEmpty ? "/" : key.target.basePath, headers: streamHeaders)
        let unsolicited = self.unsolicited, key = self.key
        let answered = loop.eventLoop.makePromise(of: Void.self)
        let giveUp = loop.eventLoop.scheduleTask(in: Self.streamWait) { answered.succeed() }
        answered.futureResult.whenComplete { _ in giveUp.cancel() }
        loop.eventLoop.execute { [self] in
            let sink = StandaloneStream(unsolicited: unsolicited, answered: answered)
            let call = UpstreamCall(pool: loop.pool(for: key), head: head, body: ByteBuffer(), deadline: nil, stall: .hours(24), sink: sink)
            sink.start(call)
            let previous = state.withLockedValue { s -> NIOLoopBound<UpstreamCall>? in
                defer { s.stream = NIOLoopBound(call, eventLoop: loop.eventLoop) }
                return s.stream
            }
            previous.map { p in p.eventLoop.execute { p.value.cancel() } }
        }
        return answered.futureResult
    }

    func reset() {
        let stream = state.withLockedValue { s -> NIOLoopBound<UpstreamCall>? in
            defer { s = State() }
            return s.stream
        }
        stream.map { p in p.eventLoop.execute { p.value.cancel() } }
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

/// The upstream session's GET stream: every message on it goes to the server's handler.
private final class StandaloneStream: UpstreamCallSink {
    private let unsolicited: UnsolicitedMessages
    private var parser = SSEParser()
    private var ok = false
    private var keepAlive: StandaloneStream?
    /// Completed when the server answers the GET, or the call ends without an answer.
    private let answered: EventLoopPromise<Void>

    init(unsolicited: @escaping UnsolicitedMessages, answered: EventLoopPromise<Void>) {
        self.unsolicited = unsolicited
        self.answered = answered
    }

    func start(_ call: UpstreamCall) {
        keepAlive = self
        call.start()
    }

    func callHead(_ head: HTTPResponseHead) {
        ok = head.status == .ok && head.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true
        answered.succeed()
    }

    func callBody(_ body: ByteBuffer) {
        guard ok, let events = try? parser.feed(body) else { return }
        for e in events where !e.data.isEmpty {
            if let m = try? RPCMessage.parse(ByteBuffer(string: e.data)) { unsolicited(m) }
        }
    }

    func callEnd() {
        answered.succeed()
        keepAlive = nil
    }

    func callFailed(_ failure: UpstreamCall.Failure) {
        answered.succeed()
        keepAlive = nil
    }
    func callReadComplete() {}
}
