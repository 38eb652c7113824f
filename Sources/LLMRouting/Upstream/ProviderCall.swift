import GatewayCore
import NIOCore
import NIOHTTP1

/// What a provider call reports, on the call's event loop.
protocol ProviderCallSink: AnyObject {
    func callHead(_ head: HTTPResponseHead)
    func callBody(_ body: ByteBuffer)
    func callEnd()
    func callFailed(_ failure: ProviderCall.Failure)
    /// The end of a read burst: the moment to flush what was forwarded to the client.
    func callReadComplete()
}

/// One HTTP request to a provider over the loop's upstream pool (HTTP/1.1 kept alive, TLS via
/// NIOSSL). A timer runs from the start until the first response bytes and between reads
/// afterwards, so a provider that stalls before or during a stream fails the call.
final class ProviderCall: UpstreamConnectionDelegate {
    enum Failure: Error, Equatable {
        case connect(String)
        case timeout
        /// The provider closed or broke the connection before the response ended.
        case broken(String)

        /// The retry condition this failure meets.
        var condition: LLMRetryConfig.Condition {
            switch self {
            case .connect: return .connect
            case .timeout: return .timeout
            // A cut connection is a server error for retry purposes.
            case .broken: return .status(502)
            }
        }
    }

    private let pool: UpstreamPool
    private let head: HTTPRequestHead
    private let body: ByteBuffer
    private let timeout: TimeAmount
    private weak var sink: ProviderCallSink?
    private var connection: UpstreamConnection?
    private var waiter: Int?
    private var timer: Scheduled<Void>?
    /// When the provider last sent something. The timer is armed once and, when it fires early
    /// because bytes came meanwhile, re-armed for the rest: rescheduling it on every read cost
    /// a heap insert and removal per body part.
    private var lastActivity = NIODeadline.now()
    private var finished = false
    private var responseEnded = false
    /// The connection's address, once leased.
    private(set) var address: String?

    init(pool: UpstreamPool, head: HTTPRequestHead, body: ByteBuffer, timeout: TimeAmount, sink: ProviderCallSink) {
        self.pool = pool
        self.head = head
        self.body = body
        self.timeout = timeout
        self.sink = sink
    }

    func start() {
        lastActivity = .now()
        armTimer()
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
                self.address = c.remoteAddress?.description
                c.write(.head(self.head))
                if self.body.readableBytes > 0 { c.write(.body(.byteBuffer(self.body))) }
                c.write(.end(nil))
                c.flush()
            }
        }
    }

    /// Stops the call (the client left, or the exchange gave up on it). The connection is
    /// closed unless its response had ended.
    func cancel() {
        _ = stop()
    }

    /// Ends the call once: the timer, a pending lease or the connection (closed). False if it
    /// had already ended.
    private func stop() -> Bool {
        guard !finished else { return false }
        finished = true
        timer?.cancel()
        if let waiter { pool.cancel(waiter) }
        connection?.release(reusable: false)
        connection = nil
        return true
    }

    func pauseReads() { connection?.pauseReads() }
    func resumeReads() { connection?.resumeReads() }

    private func armTimer(in delay: TimeAmount? = nil) {
        timer = pool.eventLoop.assumeIsolated().scheduleTask(in: delay ?? timeout) { [weak self] in self?.timerFired() }
    }

    private func timerFired() {
        guard !finished else { return }
        let idle = NIODeadline.now() - lastActivity
        if idle < timeout { return armTimer(in: timeout - idle) }
        fail(.timeout)
    }

    private func fail(_ failure: Failure) {
        if stop() { sink?.callFailed(failure) }
    }

    // MARK: UpstreamConnectionDelegate

    func upstreamResponseHead(_ head: HTTPResponseHead) {
        guard !finished else { return }
        lastActivity = .now()
        sink?.callHead(head)
    }

    func upstreamResponseBody(_ body: ByteBuffer) {
        guard !finished else { return }
        lastActivity = .now()
        sink?.callBody(body)
    }

    func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        connection?.release(reusable: true)
        connection = nil
        sink?.callEnd()
    }

    func upstreamReadComplete() { sink?.callReadComplete() }

    func upstreamFailed(_ error: UpstreamError) { fail(.broken("\(error)")) }

    func upstreamWritabilityChanged(isWritable: Bool) {}
}
