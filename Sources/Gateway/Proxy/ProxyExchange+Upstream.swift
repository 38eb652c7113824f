import GatewayCore
import NIOCore
import NIOHTTP1

/// The response side: what the leased upstream connection reports.
extension ProxyExchange: UpstreamConnectionDelegate {
    func upstreamResponseHead(_ upstreamHead: HTTPResponseHead) {
        guard !finished else { return }
        let code = Int(upstreamHead.status.code)
        // A listed status on a request fully received: ask the retry policy (attempts, method,
        // replayable body, budget). If it retries, this answer is dropped (closing the
        // connection discards its body); if not, it is forwarded as the upstream sent it.
        if service.upstream.retries.on.statuses.contains(code), requestComplete, wouldRetry(.status(code)) {
            attemptFailed(.status(code), status: upstreamHead.status, title: upstreamHead.status.reasonPhrase)
            return
        }
        loop.timers.cancel(timer)
        responseStarted = true
        upstreamKeepAlive = upstreamHead.isKeepAlive
        sent.removeAll()
        sentBytes = 0
        downstream.noteUpstream(address: connection?.remoteAddress,
                                latencyNanos: Int64(NIODeadline.now().uptimeNanoseconds) - attemptStart)
        let out = ForwardedHeaders.downstreamResponse(upstreamHead, requestID: requestID, close: false, isHTTP2: downstream.isHTTP2)
        downstream.writeResponseHead(out)
        lastUpstreamRead = NIODeadline.now().uptimeNanoseconds
    }

    /// Asks the policy without spending budget, so a refused retry forwards the real answer.
    private func wouldRetry(_ failure: AttemptFailure) -> Bool {
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        var budget = loopState.budget
        var rng = SystemRandomNumberGenerator()
        let d = service.retryPolicy.decide(failure, attempt: attempt, method: head.method, replayable: replayable,
                                           budgetAllows: { budget.tryRetry(nowNanos: now) }, random: &rng)
        if case .retry(let after) = d { return deadlines.allowsAttempt(at: now, after: after.nanoseconds) }
        return false
    }

    func upstreamResponseBody(_ body: ByteBuffer) {
        guard !finished else { return }
        lastUpstreamRead = NIODeadline.now().uptimeNanoseconds
        downstream.writeResponseBody(body)
        if !downstream.isWritable { connection?.pauseReads() }
    }

    func upstreamReadComplete() {
        if responseStarted, !finished {
            downstream.flush()
            // The response goes on past this read: from now on, silence is timed. (A response
            // that arrives whole in one read never schedules the timer.)
            if timer?.isArmed != true { armReadTimer() }
        }
    }

    func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
        guard !finished else { return }
        finished = true
        dropTimer()
        endAttempt(reusable: upstreamKeepAlive && requestEndSent)
        downstream.writeResponseEnd(trailers)
    }

    func upstreamFailed(_ error: UpstreamError) {
        guard !finished else { return }
        connection = nil  // already closed; nothing to release into the pool
        if responseStarted {
            finished = true
            dropTimer()
            endAttempt(reusable: false)
            downstream.abort()
            return
        }
        switch error {
        case .malformedResponse:
            // A broken upstream is not retried: it would most likely answer the same way.
            finish(with: ProblemDetails(status: .badGateway, title: "Malformed upstream response", requestID: requestID))
        case .requestFraming:
            // The body did not fit the framing its head announced; sending it again would not help.
            finish(with: ProblemDetails(status: .badRequest, title: "Request body does not match its declared length", requestID: requestID))
        default:
            attemptFailed(.closedEarly, status: .badGateway, title: "Upstream closed the connection")
        }
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { downstream.resumeClientReads() } else { downstream.pauseClientReads() }
    }

    func armReadTimer() {
        armTimer(at: .uptimeNanoseconds(lastUpstreamRead + UInt64(service.upstream.timeouts.read.nanoseconds)))
    }

    func readTimerFired() {
        let idle = NIODeadline.now().uptimeNanoseconds - lastUpstreamRead
        if idle < UInt64(service.upstream.timeouts.read.nanoseconds) || !downstream.isWritable {
            // A read came since, or the client is the slow side: not the upstream's fault.
            if !downstream.isWritable { lastUpstreamRead = NIODeadline.now().uptimeNanoseconds }
            armReadTimer()
            return
        }
        finished = true
        dropTimer()
        endAttempt(reusable: false)
        downstream.abort()
    }
}
