import GatewayCore
import NIOCore

/// The client-side timers: a new connection must send its head within the header timeout, a
/// kept-alive one may idle for the keep-alive timeout, and a body may pause for at most the body
/// timeout (unless the pause is ours, waiting on the upstream). They live on the loop's
/// `LoopTimers`: the idle timer is cancelled and re-armed on every request.
extension ProxyHandler {
    func armIdleTimer(_ timeout: Duration) {
        timers.arm(idleTimer, in: .nanoseconds(timeout.nanoseconds))
    }

    func idleTimerFired() {
        switch connection.idleTimedOut() {
        case .answerTimeout:
            // Slow or silent client: no complete request head within the header timeout.
            respond(ProblemDetails(status: .requestTimeout, title: "Request head not received in time"))
        case .close:
            closeConnection()
        case .ignore:
            break
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
        timers.arm(bodyTimer, at: lastBodyRead + .nanoseconds(timeout))
    }

    func bodyTimerFired() {
        guard connection.requestOpen else { return }
        let timeout = gate.snapshot.limits.clientBodyTimeout.nanoseconds
        let idle = NIODeadline.now().uptimeNanoseconds - lastBodyRead.uptimeNanoseconds
        if connection.readsPaused || idle < UInt64(timeout) {
            // Waiting on the upstream is not the client's fault; or a read came since.
            if connection.readsPaused { lastBodyRead = .now() }
            armBodyTimer()
            return
        }
        let e = exchange
        exchange = nil
        e?.clientClosed()
        switch connection.bodyTimedOut() {
        case .fail: fail(ProblemDetails(status: .requestTimeout, title: "Request body not received in time"))
        case .close: closeConnection()
        case .ignore: break
        }
    }
}
