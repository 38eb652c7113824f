import GatewayCore
import NIOCore
import NIOHTTP1

/// The upstream side of one proxied request: picks a target, leases a pooled connection,
/// streams the request body up and the response down with back-pressure both ways, and
/// retries or answers 502/503/504 when an attempt fails.
///
/// Bodies are never held whole: at most `pauseAbove` bytes wait for a connection, and at most
/// `retries.buffer_bytes` are kept for a replay.
final class ProxyExchange: RequestExchange {
    /// Unsent body bytes above which the client is asked to stop sending.
    static let pauseAbove = 64 * 1024

    unowned let downstream: ProxyHandler
    let service: CompiledService
    let loopState: ServiceLoopState
    let loop: LoopContext
    let route: Route
    let head: HTTPRequestHead
    let uri: String
    let requestID: String
    let clientIP: String?
    let deadlines: ExchangeDeadlines
    let hashKey: UInt64?

    var attempt = 0
    var tried = TargetSet()
    var target: Int?
    var connection: UpstreamConnection?
    var waiter: (pool: UpstreamPool, id: Int)?
    /// Body parts received but not yet written to the current connection.
    var pending = CircularBuffer<ByteBuffer>()
    var pendingBytes = 0
    /// Body parts written to the current attempt, kept for a replay while they fit.
    var sent: [ByteBuffer] = []
    var sentBytes = 0
    /// False once a sent part was dropped: the body can no longer be sent again.
    var replayable = true
    var bodyBytes = 0
    var requestComplete = false
    var requestTrailers: HTTPHeaders?
    var requestEndSent = false
    var responseStarted = false
    var upstreamKeepAlive = true
    /// The exchange's one timer, on the loop's `LoopTimers`: the attempt's deadline until the
    /// response head (`attemptDeadline` says which limit), then the upstream read timeout
    /// between reads. It holds the exchange until the exchange ends and drops it.
    var timer: LoopTimer?
    var attemptDeadline: ExchangeDeadlines.Kind = .perTry
    /// When the current attempt started (monotonic ns), for the upstream latency.
    var attemptStart: Int64 = 0
    var lastUpstreamRead: UInt64 = 0
    var finished = false

    init(downstream: ProxyHandler, service: CompiledService, loopState: ServiceLoopState, loop: LoopContext,
         route: Route, head: HTTPRequestHead, uri: String, requestID: String, clientIP: String?) {
        self.downstream = downstream
        self.service = service
        self.loopState = loopState
        self.loop = loop
        self.route = route
        self.head = head
        self.uri = uri
        self.requestID = requestID
        self.clientIP = clientIP
        let t = service.upstream.timeouts
        self.deadlines = ExchangeDeadlines(start: Int64(NIODeadline.now().uptimeNanoseconds), perTry: t.perTry, total: t.total)
        switch service.upstream.hashOn {
        case .header(let name)?:
            hashKey = head.headers.first(name: name).map { ConsistentHashRing.hash($0.utf8) }
        case .cookie(let name)?:
            hashKey = Self.cookie(name, in: head.headers).map { ConsistentHashRing.hash($0.utf8) }
        case .clientIP?:
            hashKey = clientIP.map { ConsistentHashRing.hash($0.utf8) }
        case nil:
            hashKey = nil
        }
    }

    func start() {
        loopState.budget.recordRequest()
        startAttempt()
    }

    // MARK: Attempts

    private func startAttempt() {
        guard !finished else { return }
        attempt += 1
        var picked = loopState.balancer.pick(hashKey: hashKey, excluding: tried)
        if picked == nil, !tried.isEmpty {
            // Every target was tried once: a retry may go to one again.
            picked = loopState.balancer.pick(hashKey: hashKey)
        }
        guard let t = picked else {
            return finish(with: ProblemDetails(status: .serviceUnavailable, title: "No upstream target available", requestID: requestID))
        }
        target = t
        tried.insert(t)
        loopState.balancer.started(t)
        attemptStart = Int64(NIODeadline.now().uptimeNanoseconds)
        armAttemptTimer()
        let pool = loop.pool(for: service.poolKeys[t])
        // `acquire` may call back at once with an idle connection; `waiter` is set first.
        let id = pool.acquire { [weak self] result in self?.leased(result) }
        // Still waiting only if the callback did not already run (an idle connection, or a
        // failure that moved on to another attempt).
        if connection == nil, !finished, target == t { waiter = (pool, id) }
    }

    private func leased(_ result: Result<UpstreamConnection, UpstreamError>) {
        waiter = nil
        guard !finished else {
            if case .success(let c) = result { c.release(reusable: true) }
            return
        }
        switch result {
        case .failure(.unavailable):
            attemptFailed(.connect, status: .serviceUnavailable, title: "Upstream unavailable")
        case .failure:
            attemptFailed(.connect, status: .badGateway, title: "Upstream connection failed")
        case .success(let c):
            connection = c
            c.delegate = self
            let upstreamHead = ForwardedHeaders.upstreamRequest(
                head, uri: service.targets[target!].basePath + uri, target: service.targets[target!],
                preserveHost: route.preserveHost, requestID: requestID, clientIP: clientIP, scheme: downstream.scheme)
            c.write(.head(upstreamHead))
            while let part = pending.popFirst() { send(part, on: c) }
            pendingBytes = 0
            if requestComplete {
                c.write(.end(requestTrailers))
                requestEndSent = true
            }
            c.flush()
            if c.isWritable { downstream.resumeClientReads() } else { downstream.pauseClientReads() }
        }
    }

    private func send(_ part: ByteBuffer, on c: UpstreamConnection) {
        c.write(.body(.byteBuffer(part)))
        if replayable {
            if sentBytes + part.readableBytes <= service.upstream.retries.bufferBytes {
                sent.append(part)
                sentBytes += part.readableBytes
            } else {
                replayable = false
                sent.removeAll()
                sentBytes = 0
            }
        }
    }

    /// Ends the current attempt after a failure, then retries or answers.
    func attemptFailed(_ failure: AttemptFailure, status: HTTPResponseStatus, title: String) {
        endAttempt(reusable: false)
        if replayable {
            // The next attempt sends everything again, from the first byte. (When not
            // replayable, parts already sent were dropped and the policy refuses a retry.)
            for part in sent.reversed() { pending.prepend(part) }
            pendingBytes += sentBytes
            sent.removeAll()
            sentBytes = 0
        }
        requestEndSent = false
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        var rng = SystemRandomNumberGenerator()
        let decision = service.retryPolicy.decide(
            failure, attempt: attempt, method: head.method, replayable: replayable,
            budgetAllows: { self.loopState.budget.tryRetry(nowNanos: now) }, random: &rng)
        if case .retry(let after) = decision, deadlines.allowsAttempt(at: now, after: after.nanoseconds) {
            if after == .zero {
                startAttempt()
            } else {
                downstream.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(after.nanoseconds)) { [weak self] in
                    self?.startAttempt()
                }
            }
            return
        }
        finish(with: ProblemDetails(status: status, title: title, requestID: requestID))
    }

    /// Releases what the current attempt holds.
    func endAttempt(reusable: Bool) {
        loop.timers.cancel(timer)
        if let w = waiter {
            w.pool.cancel(w.id)
            waiter = nil
        }
        if let c = connection {
            connection = nil
            c.release(reusable: reusable)
        }
        if let t = target {
            loopState.balancer.finished(t)
            target = nil
        }
    }

    /// Answers the client with an error and ends the exchange.
    func finish(with problem: ProblemDetails) {
        guard !finished else { return }
        finished = true
        endAttempt(reusable: false)
        dropTimer()
        pending.removeAll()
        sent.removeAll()
        downstream.fail(problem)
    }

    private func armAttemptTimer() {
        let (at, kind) = deadlines.deadline(attemptStart: Int64(NIODeadline.now().uptimeNanoseconds))
        attemptDeadline = kind
        armTimer(at: .uptimeNanoseconds(UInt64(max(at, 0))))
    }

    func armTimer(at deadline: NIODeadline) {
        if timer == nil { timer = LoopTimer { [self] in self.timerFired() } }
        loop.timers.arm(timer!, at: deadline)
    }

    /// Cancels the timer and lets go of it (and so of the exchange): the exchange has ended.
    func dropTimer() {
        loop.timers.cancel(timer)
        timer = nil
    }

    private func timerFired() {
        guard !finished else { return }
        if responseStarted { return readTimerFired() }
        if attemptDeadline == .total {
            finish(with: ProblemDetails(status: .gatewayTimeout, title: "Upstream timed out", requestID: requestID))
        } else {
            attemptFailed(.timeout, status: .gatewayTimeout, title: "Upstream timed out")
        }
    }

    // MARK: Client side

    func requestBody(_ body: ByteBuffer) {
        guard !finished else { return }
        bodyBytes += body.readableBytes
        if route.maxBodyBytes > 0, bodyBytes > route.maxBodyBytes {
            return finish(with: ProblemDetails(status: .payloadTooLarge, title: "Request body too large", detail: "limit is \(route.maxBodyBytes) bytes", requestID: requestID))
        }
        if let c = connection {
            send(body, on: c)
            c.flush()
            if !c.isWritable { downstream.pauseClientReads() }
        } else {
            pending.append(body)
            pendingBytes += body.readableBytes
            if pendingBytes > Self.pauseAbove { downstream.pauseClientReads() }
        }
    }

    func requestEnd(_ trailers: HTTPHeaders?) {
        guard !finished else { return }
        requestComplete = true
        requestTrailers = trailers
        if let c = connection {
            c.write(.end(trailers))
            c.flush()
            requestEndSent = true
        }
    }

    func clientWritabilityChanged(isWritable: Bool) {
        if isWritable { connection?.resumeReads() }
    }

    func clientClosed() {
        guard !finished else { return }
        finished = true
        dropTimer()
        endAttempt(reusable: false)
    }

    static func cookie(_ name: String, in headers: HTTPHeaders) -> String? {
        for line in headers["cookie"] {
            for pair in line.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces) == name {
                    return String(kv[1])
                }
            }
        }
        return nil
    }
}
