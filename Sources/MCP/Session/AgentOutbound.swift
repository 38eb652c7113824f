import NIOConcurrencyHelpers
import Prometheus

/// How far an agent that does not read may fall behind on one response stream. While its
/// connection takes bytes, everything is written. Once it stops (the channel is no longer
/// writable), a call with a stream of its own upstream (Streamable HTTP) stops reading that
/// stream until the agent reads again (`whenWritable`); messages that still come (a shared
/// session's, or those of the read in hand) are queued up to `budget` bytes, and further
/// notifications are dropped and server requests refused upstream, each counted in
/// `triplegate_mcp_agent_messages_dropped_total`. An answer is always written: it is the one
/// message the agent cannot do without, and there is one per call. 150 MB of progress to an
/// agent that did not read once took 316 MB of memory and kept it.
final class AgentOutbound: Sendable {
    static let budget = 1 << 20

    private struct State {
        var writable = true
        /// Bytes admitted since the connection stopped taking them.
        var behind = 0
        /// Told once when the connection takes bytes again.
        var waiting: [@Sendable () -> Void] = []
    }

    private let state = NIOLockedValueBox(State())
    private let dropped: Counter

    init(dropped: Counter) {
        self.dropped = dropped
    }

    /// The connection stopped or started taking bytes (on its loop).
    func writabilityChanged(_ writable: Bool) {
        let resumed = state.withLockedValue { s -> [@Sendable () -> Void] in
            s.writable = writable
            guard writable else { return [] }
            s.behind = 0
            defer { s.waiting = [] }
            return s.waiting
        }
        for r in resumed { r() }
    }

    /// Whether the agent's connection takes no more bytes now.
    var isHeldUp: Bool {
        state.withLockedValue { !$0.writable }
    }

    /// Calls `resume` once when the connection takes bytes again (at once if it does now).
    func whenWritable(_ resume: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { s -> Bool in
            if s.writable { return true }
            s.waiting.append(resume)
            return false
        }
        if now { resume() }
    }

    /// Whether a message of `bytes` that is not an answer may be queued for the agent now;
    /// false (and counted) when it is behind past the budget.
    func admit(_ bytes: Int) -> Bool {
        let ok = state.withLockedValue { s -> Bool in
            if s.writable { return true }
            guard s.behind + bytes <= Self.budget else { return false }
            s.behind += bytes
            return true
        }
        if !ok { dropped.increment() }
        return ok
    }

    static func makeCounter(_ registry: PrometheusCollectorRegistry) -> Counter {
        registry.makeCounter(descriptor: .init(metricName: "triplegate_mcp_agent_messages_dropped", unitName: "total",
                                               helpText: "Messages for an agent that stopped reading and fell behind past its budget (notifications dropped, server requests refused upstream)"))
    }
}
