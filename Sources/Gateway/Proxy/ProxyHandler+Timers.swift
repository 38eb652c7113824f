import GatewayCore
import NIOCore

/// The client-side timers: a new connection must send its head within the header timeout, a
/// kept-alive one may idle for the keep-alive timeout, and a body may pause for at most the body
/// timeout (unless the pause is ours, waiting on the upstream).
extension ProxyHandler {
    func armIdleTimer(_ timeout: Duration, firstRequest: Bool) {
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { [weak self] in
            guard let self, !self.requestOpen, !self.responseOpen else { return }
            if firstRequest {
                // Slow or silent client: no complete request head within the header timeout.
                self.closeAfterResponse = true
                self.responseOpen = true
                self.respond(ProblemDetails(status: .requestTimeout, title: "Request head not received in time"))
            } else {
                self.context.close(promise: nil)
            }
        }
    }

    /// Asks for the body timer: at the end of the current read burst (most small bodies have
    /// arrived by then and need none), or now when the request is dispatched outside one (after
    /// a policy waited on I/O).
    func wantBodyTimer() {
        if inReadBurst { bodyTimerWanted = true } else { armBodyTimer() }
    }

    func armBodyTimer() {
        let timeout = gate.snapshot.limits.clientBodyTimeout.nanoseconds
        bodyTimer?.cancel()
        bodyTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: lastBodyRead + .nanoseconds(timeout)) { [weak self] in
            guard let self, self.requestOpen else { return }
            let idle = NIODeadline.now().uptimeNanoseconds - self.lastBodyRead.uptimeNanoseconds
            if self.readsPausedByExchange || idle < UInt64(timeout) {
                // Waiting on the upstream is not the client's fault; or a read came since.
                if self.readsPausedByExchange { self.lastBodyRead = .now() }
                self.armBodyTimer()
                return
            }
            let e = self.exchange
            self.exchange = nil
            e?.clientClosed()
            if self.responseOpen {
                self.closeAfterResponse = true
                self.fail(ProblemDetails(status: .requestTimeout, title: "Request body not received in time"))
            } else {
                self.context.close(promise: nil)
            }
        }
    }
}
