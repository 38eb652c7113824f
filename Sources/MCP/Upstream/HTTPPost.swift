import GatewayCore
import NIOCore
import NIOHTTP1

/// What an upstream MCP server answered to one HTTP request.
struct HTTPPostReply: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    /// The JSON-RPC response awaited (`awaiting` id), when one came.
    var response: RPCMessage?
    /// The start of a body that was not the awaited response (for error messages).
    var text: String = ""
}

/// One HTTP request to an upstream MCP server over the loop's upstream pool, as Streamable HTTP
/// answers it: a JSON body, or an SSE stream whose events are JSON-RPC messages. The awaited
/// response completes the call as soon as it arrives; other messages on the stream before it
/// (progress, server requests) go to `onMessage` as they come. The stream ends with the answer
/// (MCP: the server should close it then): its connection is closed, never reused, and whatever
/// the server sent after the answer is dropped and counted (`afterAnswer`), so a caller's answer
/// ends exactly once and nothing of this call reaches anyone later. Runs on `pool.eventLoop`.
final class HTTPPost: UpstreamCallSink {
    private let promise: EventLoopPromise<HTTPPostReply>
    private let awaiting: String?
    private let onMessage: @Sendable (RPCMessage) -> Void
    private let afterAnswer: @Sendable (RPCMessage) -> Void
    private var call: UpstreamCall?
    private var head: HTTPResponseHead?
    private var isSSE = false
    private var parser = SSEParser()
    private var body: ByteBuffer?
    private var done = false
    /// The call holds its sink weakly; the post keeps itself alive until the call ends.
    private var keepAlive: HTTPPost?
    /// The agent this stream is read for: while it does not read, neither does the post.
    private var pace: AgentOutbound?
    private var paused = false
    static let maxBody = 32 * 1024 * 1024

    private init(promise: EventLoopPromise<HTTPPostReply>, awaiting: String?, onMessage: @escaping @Sendable (RPCMessage) -> Void,
                 afterAnswer: @escaping @Sendable (RPCMessage) -> Void) {
        self.promise = promise
        self.awaiting = awaiting
        self.onMessage = onMessage
        self.afterAnswer = afterAnswer
    }

    /// Sends `body` (nil for GET/DELETE) and completes with the reply. `awaiting` is the id
    /// (JSON text) of the response to wait for; nil waits for the end of the response.
    static func send(method: HTTPMethod, key: UpstreamPoolKey, loop: LoopContext, headers: HTTPHeaders, body: ByteBuffer?, awaiting: String?,
                     timeout: TimeAmount, uri: String? = nil, onMessage: @escaping @Sendable (RPCMessage) -> Void,
                     afterAnswer: @escaping @Sendable (RPCMessage) -> Void = { _ in }) -> EventLoopFuture<HTTPPostReply> {
        start(method: method, key: key, loop: loop, headers: headers, body: body, awaiting: awaiting, bounds: CallBounds(deadline: timeout),
              uri: uri, pace: nil, onMessage: onMessage, afterAnswer: afterAnswer).futureResult
    }

    /// `send` for a call its caller may leave: the reply within `bounds`, failed at once with
    /// `CancellationError` (its connection closed, so the server sees the call end) when the
    /// waiting task is cancelled.
    /// While `pace` is held up (the agent does not read), the stream is not read either: the
    /// server is held back by TCP, not buffered here.
    static func call(method: HTTPMethod, key: UpstreamPoolKey, loop: LoopContext, headers: HTTPHeaders, body: ByteBuffer?, awaiting: String?,
                     bounds: CallBounds, pace: AgentOutbound? = nil, onMessage: @escaping @Sendable (RPCMessage) -> Void,
                     afterAnswer: @escaping @Sendable (RPCMessage) -> Void = { _ in }) async throws -> HTTPPostReply {
        let started = start(method: method, key: key, loop: loop, headers: headers, body: body, awaiting: awaiting, bounds: bounds, uri: nil,
                            pace: pace, onMessage: onMessage, afterAnswer: afterAnswer)
        return try await withTaskCancellationHandler {
            try await started.futureResult.get()
        } onCancel: {
            started.cancel()
        }
    }

    /// A started request: its reply, and a way to abandon it.
    struct Started: Sendable {
        let futureResult: EventLoopFuture<HTTPPostReply>
        /// Set on the loop when the request starts (made empty here, off the loop).
        let post: NIOLoopBoundBox<HTTPPost?>

        /// Closes the request's connection and fails its reply; nothing if it already ended.
        func cancel() {
            let post = self.post
            post.eventLoop.execute {
                guard let p = post.value else { return }
                p.call?.cancel()
                p.finish(.failure(CancellationError()))
                p.release()
            }
        }
    }

    private static func start(method: HTTPMethod, key: UpstreamPoolKey, loop: LoopContext, headers: HTTPHeaders, body: ByteBuffer?,
                              awaiting: String?, bounds: CallBounds, uri: String?, pace: AgentOutbound?,
                              onMessage: @escaping @Sendable (RPCMessage) -> Void, afterAnswer: @escaping @Sendable (RPCMessage) -> Void) -> Started {
        let promise = loop.eventLoop.makePromise(of: HTTPPostReply.self)
        let box = NIOLoopBoundBox<HTTPPost?>.makeEmptyBox(valueType: HTTPPost.self, eventLoop: loop.eventLoop)
        // Run (or scheduled) before `Started` is returned: a `cancel` always runs after this.
        // A dispatcher on the loop's own task executor starts it in place, without a hop.
        let begin: @Sendable () -> Void = {
            let post = HTTPPost(promise: promise, awaiting: awaiting, onMessage: onMessage, afterAnswer: afterAnswer)
            post.keepAlive = post
            post.pace = pace
            box.value = post
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri ?? (key.target.basePath.isEmpty ? "/" : key.target.basePath), headers: headers)
            head.headers.replaceOrAdd(name: "host", value: key.target.hostForHeader)
            if let body { head.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes)) }
            let call = UpstreamCall(pool: loop.pool(for: key), head: head, body: body ?? ByteBuffer(), deadline: bounds.deadline, stall: bounds.stall, sink: post)
            post.call = call
            call.start()
        }
        if loop.eventLoop.inEventLoop { begin() } else { loop.eventLoop.executeSoon(begin) }
        return Started(futureResult: promise.futureResult, post: box)
    }

    private func finish(_ result: Result<HTTPPostReply, Error>) {
        guard !done else { return }
        done = true
        promise.completeWith(result)
    }

    private func release() {
        keepAlive = nil
        call = nil
    }

    private func deliver(_ data: ByteBuffer) {
        guard let m = try? RPCMessage.parse(data) else { return }
        if done {
            // After the answer: nobody's any more.
            return afterAnswer(m)
        }
        if m.kind == .response, let awaiting, m.id == awaiting || Self.isAnonymousError(m), let head {
            finish(.success(HTTPPostReply(status: head.status, headers: head.headers, response: m)))
        } else {
            onMessage(m)
        }
    }

    /// An error the server could not tie to a request (`id: null`, as for a parse error): on a
    /// POST it can only answer that POST's request, so it does, and reaches the agent.
    static func isAnonymousError(_ m: RPCMessage) -> Bool {
        m.isError && m.id == "null"
    }

    func callHead(_ head: HTTPResponseHead) {
        self.head = head
        isSSE = head.headers.first(name: "content-type").map { ASCII.hasPrefixIgnoringCase($0, "text/event-stream") } == true
    }

    func callBody(_ chunk: ByteBuffer) {
        if isSSE {
            guard let events = try? parser.feed(chunk) else {
                call?.cancel()
                finish(.failure(UpstreamFailure.protocolError("an SSE event was larger than \(SSEParser.maxEventBytes) bytes")))
                return release()
            }
            for e in events where !e.data.isEmpty { deliver(ByteBuffer(string: e.data)) }
            if done, call != nil {
                // The answer came: the stream is over for us. Closing its connection (it is mid
                // body, so it cannot be reused) stops the server's further messages at the socket.
                call?.cancel()
                release()
            } else if let pace, !paused, pace.isHeldUp, let call {
                paused = true
                call.pauseReads()
                let resume = NIOLoopBound(self, eventLoop: promise.futureResult.eventLoop)
                pace.whenWritable {
                    resume.eventLoop.execute {
                        let post = resume.value
                        post.paused = false
                        post.call?.resumeReads()
                    }
                }
            }
        } else {
            var chunk = chunk
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
            if body!.readableBytes > Self.maxBody {
                call?.cancel()
                finish(.failure(UpstreamFailure.protocolError("the answer was larger than \(Self.maxBody) bytes")))
                release()
            }
        }
    }

    func callEnd() {
        defer { release() }
        guard let head else { return finish(.failure(UpstreamFailure.protocolError("no response"))) }
        if isSSE {
            if let e = parser.finish(), !e.data.isEmpty { deliver(ByteBuffer(string: e.data)) }
            finish(.success(HTTPPostReply(status: head.status, headers: head.headers, response: nil)))
            return
        }
        var response: RPCMessage?
        if let body, head.status != .ok {
            return finish(.success(HTTPPostReply(status: head.status, headers: head.headers, response: nil,
                                                 text: String(buffer: body.getSlice(at: body.readerIndex, length: min(body.readableBytes, 300))!))))
        }
        if let body, body.readableBytes > 0 {
            // A JSON body may be one response or (2025-03-26 batches) an array of them.
            if let m = try? RPCMessage.parse(body) {
                if m.kind == .response, m.id == awaiting || Self.isAnonymousError(m) { response = m } else { onMessage(m) }
            } else {
                return finish(.failure(UpstreamFailure.protocolError("the answer was not a JSON-RPC message")))
            }
        }
        finish(.success(HTTPPostReply(status: head.status, headers: head.headers, response: response)))
    }

    func callFailed(_ failure: UpstreamCall.Failure) {
        defer { release() }
        switch failure {
        case .timeout: finish(.failure(UpstreamFailure.timeout))
        case .stalled: finish(.failure(UpstreamFailure.stalled))
        case .connect(let why): finish(.failure(UpstreamFailure.unreachable(why)))
        case .broken(let why): finish(.failure(UpstreamFailure.unreachable(why)))
        }
    }

    func callReadComplete() {}
}

/// Why an upstream could not answer.
enum UpstreamFailure: Error, Sendable, CustomStringConvertible {
    case unreachable(String)
    /// The call's deadline passed.
    case timeout
    /// Nothing came from the server for the call's stall limit.
    case stalled
    /// It answered something that is not MCP.
    case protocolError(String)
    /// It refused with an HTTP status.
    case status(Int, String)
    /// Its session is gone (HTTP 404 to a request carrying the session id).
    case sessionExpired

    /// The deadline passed or the server went quiet past the stall limit.
    var isTimeout: Bool {
        switch self {
        case .timeout, .stalled: true
        default: false
        }
    }

    var description: String {
        switch self {
        case .unreachable(let why): return "unreachable: \(why)"
        case .timeout: return "timed out"
        case .stalled: return "stalled"
        case .protocolError(let why): return "protocol error: \(why)"
        case .status(let code, let body): return "HTTP \(code)\(body.isEmpty ? "" : ": \(body)")"
        case .sessionExpired: return "session expired"
        }
    }
}

extension EventLoop {
    /// Runs `body` now when already on this loop (a task on the loop's executor), else soon on it.
    func executeSoon(_ body: @escaping @Sendable () -> Void) {
        if inEventLoop { body() } else { execute(body) }
    }
}
