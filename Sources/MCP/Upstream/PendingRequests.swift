import NIOConcurrencyHelpers
import NIOCore

/// The requests a message-stream channel (stdio, HTTP+SSE) waits on, by our id: the answers
/// come back on one shared stream and are matched here; progress notifications reach their
/// call by its progress token, and count as the server's sign of life for the call's stall
/// limit. Thread-safe.
final class PendingRequests: Sendable {
    private struct Pending {
        var continuation: CheckedContinuation<RPCMessage, Error>
        var onMessage: @Sendable (RPCMessage) -> Void
        var progressToken: String?
        var timer: Scheduled<Void>?
        var deadlineAt = NIODeadline.distantFuture
        var stall: TimeAmount?
        /// When the server last said something for this call (its progress).
        var lastActivity = NIODeadline.now()
    }

    private struct State {
        var byID: [String: Pending] = [:]
        var byProgressToken: [String: String] = [:]
    }

    private let state = NIOLockedValueBox(State())

    func add(_ id: String, progressToken: String?, continuation: CheckedContinuation<RPCMessage, Error>,
             onMessage: @escaping @Sendable (RPCMessage) -> Void) {
        state.withLockedValue { s in
            s.byID[id] = Pending(continuation: continuation, onMessage: onMessage, progressToken: progressToken)
            if let progressToken { s.byProgressToken[progressToken] = id }
        }
    }

    /// Hands a response to its request; false if no request waits for it. An `id: null` error
    /// answers the one request in flight, if there is exactly one.
    @discardableResult
    func resolve(_ response: RPCMessage) -> Bool {
        guard let id = response.id else { return false }
        let p: Pending? = state.withLockedValue { s in
            let key = id == "null" && response.isError && s.byID.count == 1 ? s.byID.keys.first! : id
            return Self.remove(key, from: &s)
        }
        p?.timer?.cancel()
        p?.continuation.resume(returning: response)
        return p != nil
    }

    /// Hands a `notifications/progress` to the call that carries its token; false if none does.
    func routeProgress(_ m: RPCMessage) -> Bool {
        guard let token = progressTokenOfProgress(m),
              let handler = state.withLockedValue({ s -> (@Sendable (RPCMessage) -> Void)? in
                  guard let id = s.byProgressToken[token], s.byID[id] != nil else { return nil }
                  s.byID[id]!.lastActivity = .now()
                  return s.byID[id]!.onMessage
              }) else { return false }
        handler(m)
        return true
    }

    /// Routes a message read from the shared stream: a response to its request, progress to its
    /// call; everything else (and anything no request claims) to `otherwise`.
    func deliver(_ m: RPCMessage, otherwise: UnsolicitedMessages) {
        switch m.kind {
        case .response:
            resolve(m)
        case .notification where m.method == "notifications/progress":
            if !routeProgress(m) { otherwise(m) }
        default:
            otherwise(m)
        }
    }

    /// Fails `id` past its deadline (`UpstreamFailure.timeout`) or after `bounds.stall` with
    /// nothing from the server for it (`.stalled`), unless it is answered first. One timer per
    /// call, armed for the nearer bound and cancelled with the answer, so a busy server leaves no
    /// scheduled task per finished call in the loop's queue.
    func bound(_ id: String, by bounds: CallBounds, on eventLoop: EventLoop) {
        let now = NIODeadline.now()
        let armed = state.withLockedValue { s -> Bool in
            guard s.byID[id] != nil else { return false }
            s.byID[id]!.deadlineAt = now + bounds.deadline
            s.byID[id]!.stall = bounds.stall
            s.byID[id]!.lastActivity = now
            return true
        }
        if armed { arm(id, at: now + min(bounds.deadline, bounds.stall ?? bounds.deadline), on: eventLoop) }
    }

    private func arm(_ id: String, at when: NIODeadline, on eventLoop: EventLoop) {
        let task = eventLoop.scheduleTask(deadline: when) { [weak self] () -> Void in self?.check(id, on: eventLoop) }
        let kept = state.withLockedValue { s -> Bool in
            guard s.byID[id] != nil else { return false }
            s.byID[id]!.timer = task
            return true
        }
        if !kept { task.cancel() }
    }

    private func check(_ id: String, on eventLoop: EventLoop) {
        let now = NIODeadline.now()
        enum Verdict { case gone, timeout, stalled, later(NIODeadline) }
        let verdict = state.withLockedValue { s -> Verdict in
            guard let p = s.byID[id] else { return .gone }
            if now >= p.deadlineAt { return .timeout }
            guard let stall = p.stall else { return .later(p.deadlineAt) }
            if now - p.lastActivity >= stall { return .stalled }
            return .later(min(p.deadlineAt, p.lastActivity + stall))
        }
        switch verdict {
        case .gone: return
        case .timeout: fail(id, UpstreamFailure.timeout)
        case .stalled: fail(id, UpstreamFailure.stalled)
        case .later(let when): arm(id, at: when, on: eventLoop)
        }
    }

    /// Fails one request (a timeout, a send that failed).
    func fail(_ id: String, _ error: Error) {
        guard let p = state.withLockedValue({ Self.remove(id, from: &$0) }) else { return }
        p.timer?.cancel()
        p.continuation.resume(throwing: error)
    }

    /// Fails every request (the stream or the program is gone).
    func failAll(_ error: Error) {
        let all = state.withLockedValue { s -> [Pending] in
            defer { s = State() }
            return Array(s.byID.values)
        }
        for p in all {
            p.timer?.cancel()
            p.continuation.resume(throwing: error)
        }
    }

    private static func remove(_ id: String, from s: inout State) -> Pending? {
        guard let p = s.byID.removeValue(forKey: id) else { return nil }
        if let t = p.progressToken { s.byProgressToken[t] = nil }
        return p
    }
}
