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
                                  helpText: "Upstream MCP messages no agent may receive (sent after their call's answer, or undefined in the agent's revision), dropped"),
                labels: [("server", server), ("reason", reason.rawValue)])
            all[key] = c
            return c
        }
    }
}
