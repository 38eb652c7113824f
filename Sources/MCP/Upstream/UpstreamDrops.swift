import NIOConcurrencyHelpers
import Prometheus

/// `triplegate_mcp_upstream_messages_dropped_total{server,reason}`: messages an upstream sent
/// that no agent may receive. Each configured server's counters exist from the start (at 0), so
/// a dashboard sees the series before the first drop.
final class UpstreamDrops: Sendable {
    enum Reason: String, CaseIterable, Sendable {
        /// Written on a POST's stream after that POST's answer.
        case afterAnswer = "after_answer"
        /// A notification the agent's protocol revision does not define.
        case undefinedNotification = "undefined_notification"
        /// A log message a shared upstream session sent outside any call: it cannot be told
        /// whose it is, so it went to the gateway's log, not to an agent.
        case unattributedLog = "unattributed_log"
        /// A request (`roots/list`, sampling, elicitation) a shared upstream session sent outside
        /// any call: answered by the gateway, never handed to an arbitrary agent.
        case unattributedRequest = "unattributed_request"
    }

    private let registry: PrometheusCollectorRegistry
    private let counters = NIOLockedValueBox<[String: Counter]>([:])

    init(registry: PrometheusCollectorRegistry, servers: [String]) {
        self.registry = registry
        for server in servers {
            for reason in Reason.allCases { _ = counter(server, reason) }
        }
    }

    func count(server: String, reason: Reason) {
        counter(server, reason).increment()
    }

    private func counter(_ server: String, _ reason: Reason) -> Counter {
        counters.withLockedValue { all in
            let key = server + "\u{0}" + reason.rawValue
            if let c = all[key] { return c }
            let c = registry.makeCounter(
                descriptor: .init(metricName: "triplegate_mcp_upstream_messages_dropped", unitName: "total",
                                  helpText: "Upstream MCP messages no agent may receive (sent after their call's answer, undefined in the agent's revision, or not attributable to one agent on a shared session): dropped, logged or answered by the gateway"),
                labels: [("server", server), ("reason", reason.rawValue)])
            all[key] = c
            return c
        }
    }
}
