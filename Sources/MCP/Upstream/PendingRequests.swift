import NIOConcurrencyHelpers

/// The requests a message-stream channel (stdio, HTTP+SSE) waits on, by our id: the answers
/// come back on one shared stream and are matched here; progress notifications reach their
/// call by its progress token. Thread-safe.
final class PendingRequests: Sendable {
    private struct Pending {
        var continuation: CheckedContinuation<RPCMessage, Error>
        var onMessage: @Sendable (RPCMessage) -> Void
        var progressToken: String?
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

    /// Fails one request (a timeout, a send that failed).
    func fail(_ id: String, _ error: Error) {
        state.withLockedValue { Self.remove(id, from: &$0) }?.continuation.resume(throwing: error)
    }

    /// Fails every request (the stream or the program is gone).
    func failAll(_ error: Error) {
        let all = state.withLockedValue { s -> [Pending] in
            defer { s = State() }
            return Array(s.byID.values)
        }
        for p in all { p.continuation.resume(throwing: error) }
    }

    private static func remove(_ id: String, from s: inout State) -> Pending? {
        guard let p = s.byID.removeValue(forKey: id) else { return nil }
        if let t = p.progressToken { s.byProgressToken[t] = nil }
        return p
    }
}
