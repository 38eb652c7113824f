import GatewayCore
import NIOCore
import NIOHTTP1

/// The client side of one HTTP/1.1 connection or one HTTP/2 stream: reads requests, applies
/// the server's limits, routes each request on the current snapshot and hands it to an
/// exchange, then writes the exchange's response back.
///
/// HTTP pipelining assistance is off in the pipeline (it cost 12%); this handler queues a
/// pipelined request itself and stops reading until the response before it is done.
final class ProxyHandler: ChannelDuplexHandler, ClientResponder, HeldFlushWriter {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let gate: APIGateLoop
    let isHTTP2: Bool
    let scheme: String
    let clientCertificate: ClientCertificate?
    private(set) var context: ChannelHandlerContext!
    var exchange: RequestExchange?
    /// Which request is in flight, how its body and response overlap, whether the connection
    /// stays open and when the client may be read: every decision of the connection's life is
    /// the state machine's; this handler feeds it events and does what it says.
    var connection: ClientConnectionStateMachine
    /// The HTTP version of the request being answered: the response is written in it, so an
    /// HTTP/1.0 client never gets chunked framing.
    var requestVersion: HTTPVersion = .http1_1
    /// The method of the request being answered: HEAD and CONNECT answers carry no body.
    var requestMethod: HTTPMethod = .GET
    /// How the current request's body is framed, as `RequestHeadCheck` read it.
    var requestFraming: RequestHeadCheck.Framing = .none
    /// The most body bytes the current request's exchange takes (0: no limit here) and the
    /// bytes it got so far.
    var bodyLimit = 0
    var bodyBytes = 0
    /// HTTP/1 responses are encoded here, not by NIO's encoder (see `HTTP1ResponseEncoder`).
    private var encoder = HTTP1ResponseEncoder()
    /// Request parts that arrived while a policy waited on I/O, handled once it answers.
    var heldParts: [HTTPServerRequestPart] = []
    /// Counts requests, so a late policy answer for a request that is gone is ignored.
    var requestSerial = 0
    /// Headers the policy chain asked every response of this request to carry.
    var policyHeaders: [(String, String)] = []
    /// The current request's access-log line, filled in as it goes.
    var logRecord: AccessLogRecord?
    /// The request's server span, when traces are on.
    var span: RequestSpan?
    /// How the current request's errors are written when a mounted gate serves it.
    var dialect: (any ErrorDialect)?
    /// The current request's instruments, status and upstream latency, for the metrics.
    var routeMetrics: RouteMetrics?
    var responseStatus = 0
    var upstreamNanos: Int64?
    var requestStart: UInt64 = 0
    /// The bytes the parser refused after a request still being answered (the state machine
    /// says when to answer them).
    private var deferredParseError: HTTPParserError?
    var lingerTimer: Scheduled<Void>?
    /// How long unread input is drained after an early answer (nginx's lingering_timeout is 5s).
    static let lingerTimeout: TimeAmount = .seconds(2)
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    /// A flush waits in the loop's `flushes` for the end of the tick.
    private var flushHeld = false
    /// An HTTP/1 head not yet written: it waits for its first body bytes (see `send`).
    private var pendingHead: ByteBuffer?
    /// The header timeout before the first request, the keep-alive timeout between requests;
    /// made once per connection, armed on the loop's timers.
    lazy var idleTimer = LoopTimer { [weak self] in self?.idleTimerFired() }
    lazy var bodyTimer = LoopTimer { [weak self] in self?.bodyTimerFired() }
    /// The current request has a body still to come: its timer is armed at the end of the read
    /// burst, so a small body that arrived with its head never schedules (and cancels) a timer.
    var bodyTimerWanted = false
    /// Inside `channelRead` calls, before the burst's `channelReadComplete`.
    var inReadBurst = false
    var lastBodyRead = NIODeadline.uptimeNanoseconds(0)
    var clientIP: String?

    init(gate: APIGateLoop, isHTTP2: Bool, connection: ConnectionInfo) {
        self.gate = gate
        self.isHTTP2 = isHTTP2
        self.connection = ClientConnectionStateMachine(isHTTP2: isHTTP2)
        self.scheme = connection.scheme
        self.clientCertificate = connection.clientCertificate
    }

    var allocator: ByteBufferAllocator { context.channel.allocator }
    var isWritable: Bool { context.channel.isWritable }
    var eventLoop: EventLoop { context.eventLoop }
    var loopContext: LoopContext { gate.loop }
    var timers: LoopTimers { gate.loop.timers }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { connectionStarted() }
    }

    func channelActive(context: ChannelHandlerContext) {
        connectionStarted()
        context.fireChannelActive()
    }

    private func connectionStarted() {
        guard clientIP == nil else { return }
        let address = isHTTP2 ? context.channel.parent?.remoteAddress : context.channel.remoteAddress
        clientIP = address?.ipAddress ?? "unknown"
        if !isHTTP2 { armIdleTimer(gate.snapshot.limits.clientHeaderTimeout) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch connection.inbound(queueEmpty: queued.isEmpty) {
        case .drop: return
        case .queue:
            // A pipelined request while the previous response is still going: hold it.
            inReadBurst = true
            queued.append(unwrapInboundIn(data))
        case .handle:
            inReadBurst = true
            handle(unwrapInboundIn(data))
        }
    }

    func handle(_ part: HTTPServerRequestPart) {
        switch part {
        case .head(let head):
            timers.cancel(idleTimer)
            startRequest(head)
        case .body(let body):
            switch connection.receivedBody() {
            case .hold: return heldParts.append(part)
            case .drop, .ignore: return
            case .forward: break
            }
            lastBodyRead = .now()
            if bodyLimit > 0 {
                // A mounted gate reads bodies whole: one without a length is cut off here, at
                // its limit, before it is held in memory.
                bodyBytes += body.readableBytes
                if bodyBytes > bodyLimit { return refuseBodyTooLarge() }
            }
            exchange?.requestBody(body)
        case .end(let trailers):
            switch connection.receivedEnd() {
            case .hold:
                heldParts.append(part)
            case .ignore:
                break
            case .forward:
                timers.cancel(bodyTimer)
                exchange?.requestEnd(trailers)
            case .dropped(let next):
                timers.cancel(bodyTimer)
                if next { afterResponse() }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBurst = false
        if bodyTimerWanted {
            bodyTimerWanted = false
            if connection.requestOpen, !bodyTimer.isArmed { armBodyTimer() }
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if connection.readRequested(queueEmpty: queued.isEmpty) { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.clientWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client left before its response ended: 499, as nginx logs it.
        let left = connection.closed()
        if left.responseOpen { finishLog(status: left.headSent ? nil : 499) }
        lingerTimer?.cancel()
        timers.cancel(idleTimer)
        timers.cancel(bodyTimer)
        let e = exchange
        exchange = nil
        e?.clientClosed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // Graceful shutdown: finish what is in flight, then close.
            if connection.quiesce() { closeConnection() }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if connection.isLingering { return }  // the rest of a refused request fails to parse: expected
        // Bad bytes from the client: answer, then close. Other connections are untouched.
        guard let parse = error as? HTTPParserError else { return closeConnection() }
        switch connection.parseError(queueEmpty: queued.isEmpty) {
        case .ignore: return
        case .deferred: deferredParseError = parse
        case .abort: abort()
        case .answer(let newRequest): answerParseError(parse, newRequest: newRequest)
        }
    }

    /// Answers bytes the HTTP parser refused (400, or 431 for an oversized head) and closes
    /// (lingering: unread input may follow). `newRequest`: no request was being answered.
    private func answerParseError(_ parse: HTTPParserError, newRequest: Bool) {
        let status: HTTPResponseStatus = parse == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
        let title = parse == .headerOverflow ? "Request header fields too large" : "Malformed HTTP request"
        let e = exchange
        exchange = nil
        e?.clientClosed()
        if newRequest {
            // Not a request already under way (whose route and clock stay): a new one.
            routeMetrics = gate.snapshot.unrouted
            requestStart = NIODeadline.now().uptimeNanoseconds
            logRecord = nil
        }
        if logRecord == nil, gate.accessLog.isEnabled {
            // Unparseable requests are logged too, with what little is known.
            var record = AccessLogRecord()
            record.requestID = gate.loop.nextRequestID()
            record.method = "-"
            record.path = "-"
            logRecord = record
        }
        respond(ProblemDetails(status: status, title: title))
    }

    private func refuseBodyTooLarge() {
        let e = exchange
        exchange = nil
        e?.clientClosed()
        fail(ProblemDetails(status: .payloadTooLarge, title: "Request body too large", detail: "limit is \(bodyLimit) bytes"))
    }

    /// Answers a request the gateway refuses before any upstream is involved.
    func reject(_ problem: ProblemDetails, close: Bool) {
        connection.rejecting(close: close)
        respond(problem)
    }

    // MARK: Responses (called by exchanges)

    /// Answers with an RFC 9457 problem (or the mounted gate's dialect) and ends the response.
    func respond(_ problem: ProblemDetails) {
        var problem = problem
        if !policyHeaders.isEmpty, problem.status != .tooManyRequests { problem.headers += policyHeaders }
        dialect?.adjust(&problem)
        let (contentType, body) = dialect?.render(problem, allocator: allocator) ?? ("application/problem+json", problem.body(allocator: allocator))
        let close = connection.closesAfterResponse
        connection.wroteResponseHead()
        responseStatus = Int(problem.status.code)
        logRecord?.status = responseStatus
        logRecord?.bytes += body.readableBytes
        let head = problem.head(version: isHTTP2 ? .http1_1 : requestVersion, bodyLength: body.readableBytes, close: close && !isHTTP2, contentType: contentType)
        send(.head(head))
        send(.body(.byteBuffer(body)))
        writeResponseEnd(nil)
    }

    /// Fails the exchange's request with a problem; if the client is still sending, the rest of
    /// the body is dropped (HTTP/1 then closes the connection, since it cannot skip it cheaply).
    func fail(_ problem: ProblemDetails) {
        guard connection.failing() == .respond else { return abort() }
        exchange = nil
        respond(problem)
    }

    func writeResponseHead(_ head: consuming HTTPResponseHead) {
        prepareResponseHead(&head)
        send(.head(head))
    }

    /// For HTTP/1, the head is encoded here with `lines` after its list, and waits for its
    /// body as `send` keeps any head.
    func writeResponseHead(_ head: consuming HTTPResponseHead, lines: some ResponseHeaderLines) {
        guard !isHTTP2 else {
            lines.add(to: &head.headers)
            return writeResponseHead(head)
        }
        prepareResponseHead(&head)
        writePendingHead()
        let bytes = encoder.encodeHead(head, requestMethod: requestMethod, allocator: context.channel.allocator, lines: lines)
        if head.status.code >= 200 { pendingHead = bytes } else { context.write(NIOAny(IOData.byteBuffer(bytes)), promise: nil) }
    }

    /// The listener's part of every answer's head: the policies' headers, the HTTP/1.0 and
    /// `connection` rules, and the status for the log.
    private func prepareResponseHead(_ head: inout HTTPResponseHead) {
        for (name, value) in policyHeaders { head.headers.add(name: name, value: value) }
        if !isHTTP2, requestVersion == .http1_0 {
            head.version = .http1_0
            // HTTP/1.0 has no chunked framing: without a length, the close ends the body.
            if !head.headers.contains(name: "content-length") { connection.closeAfterThisResponse() }
            if !connection.closesAfterResponse { head.headers.replaceOrAdd(name: "connection", value: "keep-alive") }
        }
        if connection.closesAfterResponse, !isHTTP2, !head.headers.contains(name: "connection") {
            head.headers.add(name: "connection", value: "close")
        }
        connection.wroteResponseHead()
        responseStatus = Int(head.status.code)
        logRecord?.status = responseStatus
    }

    func writeResponseBody(_ body: ByteBuffer) {
        logRecord?.bytes += body.readableBytes
        send(.body(.byteBuffer(body)))
    }

    /// Writes one response part: as bytes for HTTP/1, as a part for the HTTP/2 stream codec.
    /// `promise` completes with the part's last write.
    ///
    /// An HTTP/1 head (not a 1xx) waits in `pendingHead` for the bytes after it: a small first
    /// body goes out in the same buffer, so an answer in hand is one write, not two. Anything
    /// else written, a flush or a close sends the head first.
    func send(_ part: HTTPServerResponsePart, promise: EventLoopPromise<Void>? = nil) {
        guard !isHTTP2 else { return context.write(wrapOutboundOut(part), promise: promise) }
        let context = self.context!
        var head = pendingHead
        pendingHead = nil
        var last: IOData?
        encoder.encode(part, requestMethod: requestMethod, allocator: context.channel.allocator) { bytes in
            var bytes = bytes
            if var h = head {
                head = nil
                if case .byteBuffer(var small) = bytes, small.readableBytes <= Self.bodyWithHeadLimit {
                    h.writeBuffer(&small)
                    bytes = .byteBuffer(h)
                } else {
                    context.write(NIOAny(IOData.byteBuffer(h)), promise: nil)
                }
            }
            if let previous = last { context.write(NIOAny(previous), promise: nil) }
            last = bytes
        }
        if let head { context.write(NIOAny(IOData.byteBuffer(head)), promise: nil) }
        guard let last else { promise?.succeed(()); return }
        if promise == nil, case .head(let h) = part, h.status.code >= 200, case .byteBuffer(let bytes) = last {
            pendingHead = bytes
            return
        }
        context.write(NIOAny(last), promise: promise)
    }

    /// The largest body written in one buffer with its head (copied after it).
    static let bodyWithHeadLimit = 16 * 1024

    /// Writes the head that waits for its body (see `send`).
    private func writePendingHead() {
        guard let head = pendingHead else { return }
        pendingHead = nil
        context.write(NIOAny(IOData.byteBuffer(head)), promise: nil)
    }

    func flush() {
        writePendingHead()
        guard !flushHeld else { return }
        if gate.loop.flushes.hold(self) { flushHeld = true } else { context.flush() }
    }

    func flushHeldWrites() {
        writePendingHead()
        guard flushHeld else { return }  // a close flushed already
        flushHeld = false
        context.flush()
    }

    /// Closes the connection (or the stream, or its output side) after sending what was
    /// written: a close drops writes that were not flushed.
    func closeConnection(mode: CloseMode = .all) {
        flushHeldWrites()
        context.close(mode: mode, promise: nil)
    }

    func writeResponseEnd(_ trailers: HTTPHeaders?) {
        exchange = nil
        let next = connection.responseEnded()
        finishLog(status: nil)
        if case .close(let unread) = next {
            let written = context.eventLoop.makePromise(of: Void.self)
            send(.end(trailers), promise: written)
            context.flush()
            written.futureResult.assumeIsolated().whenComplete { [weak self] _ in
                guard let self, self.context != nil else { return }
                if unread { self.lingeringClose() } else { self.closeConnection() }
            }
            return
        }
        send(.end(trailers))
        flush()
        if next == .next { afterResponse() }
    }

    /// Closes after an answer sent while the client was still sending: closing at once would
    /// make the kernel reset the connection and the client could lose the answer, so the
    /// output side is shut first and input is drained for a while (nginx's lingering close).
    private func lingeringClose() {
        guard !isHTTP2, context.channel.isActive else {
            closeConnection()
            return
        }
        connection.startedLingering()
        queued.removeAll()
        closeConnection(mode: .output)
        lingerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTimeout) { [weak self] in
            self?.closeConnection()
        }
        context.read()
    }

    /// The response ended mid-way (the upstream failed after its head): the client must see
    /// an incomplete message, so the connection (or stream) is closed, never completed.
    func abort() {
        exchange = nil
        connection.aborted()
        finishLog(status: nil)
        closeConnection()
    }

    func pauseClientReads() { connection.pauseReads() }

    func resumeClientReads() {
        if connection.resumeReads(queueEmpty: queued.isEmpty) { context.read() }
    }

    /// Both the request and its response are done: serve a queued request or wait for the next.
    private func afterResponse() {
        connection.exchangeDone()
        while true {
            switch connection.next(queueEmpty: queued.isEmpty) {
            case .serveQueued:
                handle(queued.removeFirst())
            case .answerParseError:
                let parse = deferredParseError ?? .invalidConstant
                deferredParseError = nil
                return answerParseError(parse, newRequest: true)
            case .waitForRequest(let read):
                armIdleTimer(gate.snapshot.limits.keepaliveTimeout)
                if read { context.read() }
                return
            case .busy:
                return
            }
        }
    }
}
