import NIOConcurrencyHelpers
import NIOCore

/// The requests a message-stream channel (stdio, HTTP+SSE) waits on, by our id: the answers
/// come back on one shared stream and are matched here; progress notifications reach their
/// call by its progress token. Thread-safe.
final class PendingRequests: Sendable {
    private struct Pending {
        var continuation: CheckedContinuation<RPCMessage, Error>
        var onMessage: @Sendable (RPCMessage) -> Void
        var progressToken: String?
        var timer: Scheduled<Void>?
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
              let handler = state.withLockedValue({ s in s.byProgressToken[token].flatMap { s.byID[$0]?.onMessage } }) else { return false }
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

    /// Fails `id` with a timeout after `delay` unless it is answered first. The timer is
    /// cancelled with the answer, so a busy server leaves no scheduled task per finished call
    /// in the loop's queue.
    func expire(_ id: String, after delay: TimeAmount, on eventLoop: EventLoop) {
        let task = eventLoop.scheduleTask(in: delay) { [weak self] () -> Void in self?.fail(id, UpstreamFailure.timeout) }
        let kept = state.withLockedValue { s -> Bool in
            guard s.byID[id] != nil else { return false }
            s.byID[id]!.timer = task
            return true
        }
        if !kept { task.cancel() }
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
