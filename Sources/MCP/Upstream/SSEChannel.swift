import GatewayCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// The 2024-11-05 HTTP+SSE client side: a long-lived `GET` stream whose first event
/// (`endpoint`) names the URL to POST messages to; every answer comes back on the stream and is
/// matched to its request by id. When the stream ends, calls in flight fail and the next call
/// opens a new stream (a new upstream session, so the handshake is made again).
final class SSEChannel: UpstreamChannel, @unchecked Sendable {
    // @unchecked: mutable state is in `state`, behind its lock.
    private struct State {
        var endpoint: UpstreamURL?
        var stream: SSEStream?
        var connecting: Task<UpstreamURL, Error>?
        var generation = 0
    }

    let url: UpstreamURL
    let key: UpstreamPoolKey
    let extraHeaders: [(String, String)]
    private let logger: Logger
    private let unsolicited: UnsolicitedMessages
    private let state = NIOLockedValueBox(State())
    private let pending = PendingRequests()

    init(url: UpstreamURL, headers: [(String, String)], logger: Logger, unsolicited: @escaping UnsolicitedMessages) {
        self.url = url
        key = UpstreamPoolKey(target: url, maxConnections: 256, idleTimeout: .seconds(90), connectTimeout: .seconds(5), tls: UpstreamTLS())
        extraHeaders = headers
        self.logger = logger
        self.unsolicited = unsolicited
    }

    /// Increases with every new stream: each is a new upstream session.
    var generation: Int { state.withLockedValue { $0.generation } }

    private func headers(accept: String) -> HTTPHeaders {
        var h = HTTPHeaders()
        h.add(name: "accept", value: accept)
        for (n, v) in extraHeaders { h.replaceOrAdd(name: n, value: v) }
        return h
    }

    /// The URL to POST to, opening the stream first if none is open.
    func connect(loop: LoopContext) async throws -> UpstreamURL {
        let found: Result<UpstreamURL, Never>? = state.withLockedValue { s in s.endpoint.map { .success($0) } }
        if case .success(let u)? = found { return u }
        let task: Task<UpstreamURL, Error> = state.withLockedValue { s in
            if let t = s.connecting { return t }
            let t = Task { try await self.open(loop: loop) }
            s.connecting = t
            return t
        }
        defer { state.withLockedValue { $0.connecting = nil } }
        return try await task.value
    }

    private func open(loop: LoopContext) async throws -> UpstreamURL {
        let promise = loop.eventLoop.makePromise(of: UpstreamURL.self)
        let base = url
        let stream = SSEStream(channel: self, endpointPromise: promise, base: base)
        loop.eventLoop.execute { [key] in
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: base.basePath.isEmpty ? "/" : base.basePath, headers: self.headers(accept: "text/event-stream"))
            head.headers.replaceOrAdd(name: "host", value: base.hostForHeader)
            // The stream may be quiet for long; it ends when the server or the gateway closes it.
            let call = UpstreamCall(pool: loop.pool(for: key), head: head, body: ByteBuffer(), deadline: nil, stall: .hours(24), sink: stream)
            stream.start(call)
        }
        state.withLockedValue { s in
            s.stream?.cancel()
            s.stream = stream
        }
        let endpoint = try await promise.futureResult.get()
        state.withLockedValue { s in
            s.endpoint = endpoint
            s.generation += 1
        }
        return endpoint
    }

    /// The stream ended: calls in flight fail; the next call reconnects.
    fileprivate func streamEnded(_ stream: SSEStream) {
        let current: Bool = state.withLockedValue { s in
            guard s.stream === stream else { return false }
            s.stream = nil
            s.endpoint = nil
            return true
        }
        if current { pending.failAll(UpstreamFailure.unreachable("the SSE stream ended")) }
    }

    fileprivate func received(_ m: RPCMessage) {
        pending.deliver(m, otherwise: unsolicited)
    }

    private func post(_ body: ByteBuffer, to endpoint: UpstreamURL, loop: LoopContext) async throws {
        var h = headers(accept: "application/json, text/event-stream")
        h.add(name: "content-type", value: "application/json")
        let elsewhere = endpoint.host != url.host || endpoint.port != url.port || endpoint.scheme != url.scheme
        let target = elsewhere ? key.with(target: endpoint) : key
        let reply = try await HTTPPost.send(method: .POST, key: target, loop: loop, headers: h, body: body, awaiting: nil, timeout: .seconds(30),
                                            uri: endpoint.basePath, onMessage: { _ in }).get()
        if reply.status == .notFound { throw UpstreamFailure.sessionExpired }
        if reply.status.code >= 400 { throw UpstreamFailure.status(Int(reply.status.code), reply.text) }
    }

    func request(_ body: ByteBuffer, id: String, progressToken: String?, loop: LoopContext, bounds: CallBounds, pace: AgentOutbound?,
                 onMessage: @escaping @Sendable (RPCMessage) -> Void) async throws -> RPCMessage {
        let endpoint = try await connect(loop: loop)
        let pending = self.pending
        return try await withTaskCancellationHandler {
            try await send(body, id: id, progressToken: progressToken, to: endpoint, loop: loop, bounds: bounds, onMessage: onMessage)
        } onCancel: {
            pending.fail(id, CancellationError())
        }
    }

    private func send(_ body: ByteBuffer, id: String, progressToken: String?, to endpoint: UpstreamURL, loop: LoopContext, bounds: CallBounds,
                      onMessage: @escaping @Sendable (RPCMessage) -> Void) async throws -> RPCMessage {
        try await withCheckedThrowingContinuation { continuation in
            pending.add(id, progressToken: progressToken, continuation: continuation, onMessage: onMessage)
            if Task.isCancelled { return pending.fail(id, CancellationError()) }
            pending.bound(id, by: bounds, on: loop.eventLoop)
            Task {
                do {
                    try await post(body, to: endpoint, loop: loop)
                } catch UpstreamFailure.sessionExpired {
                    reset()
                    pending.fail(id, UpstreamFailure.sessionExpired)
                } catch {
                    pending.fail(id, error)
                }
            }
        }
    }

    func send(_ body: ByteBuffer, loop: LoopContext) async throws {
        let endpoint = try await connect(loop: loop)
        try await post(body, to: endpoint, loop: loop)
    }

    func prepare(loop: LoopContext) async throws {
        _ = try await connect(loop: loop)
    }

    func established(protocolVersion: String) {}
    /// The stream is the channel itself: already open.
    func listen() async {}

    /// Drops the stream; the next call opens a new one.
    func reset() {
        let stream = state.withLockedValue { s -> SSEStream? in
            defer { s.stream = nil; s.endpoint = nil }
            return s.stream
        }
        stream?.cancel()
    }

    func shutdown() async {
        reset()
    }
}

/// The GET stream of one SSE session: finds the `endpoint` event, then hands every `message`
/// event to the channel. Lives on the stream's event loop.
private final class SSEStream: UpstreamCallSink, @unchecked Sendable {
    // @unchecked: touched on the stream's event loop only, except `cancel`, which hops there.
    private weak var channel: SSEChannel?
    private let endpointPromise: EventLoopPromise<UpstreamURL>
    private let base: UpstreamURL
    private var call: UpstreamCall?
    private var parser = SSEParser()
    private var endpointKnown = false
    private var keepAlive: SSEStream?

    init(channel: SSEChannel, endpointPromise: EventLoopPromise<UpstreamURL>, base: UpstreamURL) {
        self.channel = channel
        self.endpointPromise = endpointPromise
        self.base = base
    }

    func start(_ call: UpstreamCall) {
        self.call = call
        keepAlive = self
        call.start()
    }

    func cancel() {
        endpointPromise.futureResult.eventLoop.execute { [self] in
            call?.cancel()
            ended(UpstreamFailure.unreachable("closed"))
        }
    }

    private func ended(_ error: Error) {
        if !endpointKnown {
            endpointKnown = true
            endpointPromise.fail(error)
        }
        channel?.streamEnded(self)
        call = nil
        keepAlive = nil
    }

    func callHead(_ head: HTTPResponseHead) {
        if head.status != .ok {
            call?.cancel()
            ended(UpstreamFailure.status(Int(head.status.code), "the SSE stream was refused"))
        }
    }

    func callBody(_ body: ByteBuffer) {
        guard let events = try? parser.feed(body) else {
            call?.cancel()
            return ended(UpstreamFailure.protocolError("an SSE event was too large"))
        }
        for e in events {
            if e.event == "endpoint" {
                guard !endpointKnown else { continue }
                endpointKnown = true
                if let u = Self.resolve(e.data, against: base) {
                    endpointPromise.succeed(u)
                } else {
                    endpointPromise.fail(UpstreamFailure.protocolError("bad endpoint event: \(e.data)"))
                }
            } else if e.event == nil || e.event == "message", !e.data.isEmpty, let m = try? RPCMessage.parse(ByteBuffer(string: e.data)) {
                channel?.received(m)
            }
        }
    }

    func callEnd() { ended(UpstreamFailure.unreachable("the SSE stream ended")) }
    func callFailed(_ failure: UpstreamCall.Failure) { ended(UpstreamFailure.unreachable("the SSE stream failed: \(failure)")) }
    func callReadComplete() {}

    /// The endpoint URL: absolute, or a path (with its query) on the stream's origin.
    static func resolve(_ text: String, against base: UpstreamURL) -> UpstreamURL? {
        if text.hasPrefix("http://") || text.hasPrefix("https://") { return try? UpstreamURL.parse(text).get() }
        guard text.hasPrefix("/") else { return nil }
        var u = base
        u.basePath = text
        return u
    }
}
