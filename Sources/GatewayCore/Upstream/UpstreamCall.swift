import NIOCore
import NIOHTTP1

/// What an upstream call reports, on the call's event loop.
package protocol UpstreamCallSink: AnyObject {
    func callHead(_ head: HTTPResponseHead)
    func callBody(_ body: ByteBuffer)
    func callEnd()
    func callFailed(_ failure: UpstreamCall.Failure)
    /// The end of a read burst: the moment to flush what was forwarded to the client.
    func callReadComplete()
}

/// One HTTP request to an upstream (an LLM provider, an MCP server) over the loop's upstream
/// pool (HTTP/1.1 kept alive, TLS via NIOSSL). Two clocks bound it: a deadline from the start
/// for the whole answer (a byte a second cannot hold it past), and a stall limit on the gap
/// between reads (from the start to the first bytes, then between reads), so an upstream that
/// goes quiet fails the call before the deadline.
package final class UpstreamCall: UpstreamConnectionDelegate {
    package enum Failure: Error, Equatable, Sendable {
        case connect(String)
        /// The deadline passed.
        case timeout
        /// Nothing came for the stall limit.
        case stalled
        /// The provider closed or broke the connection before the response ended.
        case broken(String)
    }

    private let pool: UpstreamPool
    private let head: HTTPRequestHead
    private let body: ByteBuffer
    private let deadline: TimeAmount?
    private let stall: TimeAmount?
    /// When the deadline passes (set at `start`).
    private var deadlineAt: NIODeadline?
    private weak var sink: UpstreamCallSink?
    private var connection: UpstreamConnection?
    private var waiter: Int?
    /// Armed from the start; holds the call until it ends (then dropped, so no cycle stays).
    private var timer: LoopTimer?
    /// When the provider last sent something. The timer is armed for the nearer of the two
    /// clocks and, when it fires early because bytes came meanwhile, re-armed for the rest: a
    /// read only stores the time.
    private var lastActivity = NIODeadline.now()
    private var finished = false
    /// The connection's address, once leased.
    package private(set) var address: SocketAddress?

    /// `deadline`: the longest the whole call may take; `stall`: the longest gap between reads
    /// (nil: no such bound). At least one is given.
    package init(pool: UpstreamPool, head: HTTPRequestHead, body: ByteBuffer, deadline: TimeAmount?, stall: TimeAmount?, sink: UpstreamCallSink) {
        precondition(deadline != nil || stall != nil, "an upstream call needs a bound")
        self.pool = pool
        self.head = head
        self.body = body
        self.deadline = deadline
        self.stall = stall
        self.sink = sink
    }

    package func start() {
        let now = NIODeadline.now()
        lastActivity = now
        deadlineAt = deadline.map { now + $0 }
        let timer = LoopTimer { [self] in self.timerFired() }
        self.timer = timer
        pool.timers.arm(timer, in: min(deadline ?? .hours(1_000_000), stall ?? .hours(1_000_000)))
        waiter = pool.acquire { [weak self] result in
            guard let self else {
                if case .success(let c) = result { c.release(reusable: true) }
                return
            }
            self.waiter = nil
            switch result {
            case .failure(let e):
                self.fail(.connect("\(e)"))
            case .success(let c):
                guard !self.finished else { return c.release(reusable: true) }
                self.connection = c
                c.delegate = self
                self.address = c.remoteAddress
                c.send(head: self.head, body: self.body)
                c.flush()
            }
        }
    }

    /// Stops the call (the client left, or the exchange gave up on it). The connection is
    /// closed unless its response had ended.
    package func cancel() {
        _ = stop()
    }

    /// Ends the call once: the timer, a pending lease or the connection (closed). False if it
    /// had already ended.
    private func stop() -> Bool {
        guard !finished else { return false }
        finished = true
        dropTimer()
        if let waiter { pool.cancel(waiter) }
        connection?.release(reusable: false)
        connection = nil
        return true
    }

    package func pauseReads() { connection?.pauseReads() }
    package func resumeReads() { connection?.resumeReads() }

    private func dropTimer() {
        pool.timers.cancel(timer)
        timer = nil
    }

    private func timerFired() {
        guard !finished, let timer else { return }
        let now = NIODeadline.now()
        var next = TimeAmount.hours(1_000_000)
        if let deadlineAt {
            if now >= deadlineAt { return fail(.timeout) }
            next = deadlineAt - now
        }
        if let stall {
            let idle = now - lastActivity
            if idle >= stall { return fail(.stalled) }
            next = min(next, stall - idle)
        }
        pool.timers.arm(timer, in: next)
    }

    private func fail(_ failure: Failure) {
        if stop() { sink?.callFailed(failure) }
    }

    // MARK: UpstreamConnectionDelegate

    package func upstreamResponseHead(_ head: HTTPResponseHead) {
        guard !finished else { return }
        lastActivity = .now()
        sink?.callHead(head)
    }

    package func upstreamResponseBody(_ body: ByteBuffer) {
        guard !finished else { return }
        lastActivity = .now()
        sink?.callBody(body)
    }

    package func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
        guard !finished else { return }
        finished = true
        dropTimer()
        connection?.release(reusable: true)
        connection = nil
        sink?.callEnd()
    }

    package func upstreamReadComplete() { sink?.callReadComplete() }

    package func upstreamFailed(_ error: UpstreamError) { fail(.broken("\(error)")) }

    package func upstreamWritabilityChanged(isWritable: Bool) {}
}
