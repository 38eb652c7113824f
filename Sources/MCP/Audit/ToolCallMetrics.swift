import GatewayCore
import NIOConcurrencyHelpers
import Prometheus

/// `triplegate_mcp_tool_calls_total{server,tool,outcome}` and
/// `triplegate_mcp_tool_call_duration_seconds{server}`, their handles kept: the registry's
/// lookup by labels costs more than the increment.
final class ToolCallMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let counters = NIOLockedValueBox<[String: Counter]>([:])
    private let histograms = NIOLockedValueBox<[String: DurationHistogram]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func calls(server: String, tool: String, outcome: String) -> Counter {
        let key = server + "\u{0}" + tool + "\u{0}" + outcome
        return counters.withLockedValue { all in
            if let c = all[key] { return c }
            let c = registry.makeCounter(descriptor: .init(metricName: "triplegate_mcp_tool_calls", unitName: "total", helpText: "MCP tools/call requests by server, tool and outcome"),
                                         labels: [("server", server), ("tool", tool), ("outcome", outcome)])
            all[key] = c
            return c
        }
    }

    func duration(server: String) -> DurationHistogram {
        histograms.withLockedValue { all in
            if let h = all[server] { return h }
            let h = registry.makeDurationHistogram(
                descriptor: .init(metricName: "triplegate_mcp_tool_call_duration", unitName: "seconds", helpText: "Time to answer an MCP tools/call"),
                labels: [("server", server)], buckets: GatewayMetrics.buckets)
            all[server] = h
            return h
        }
    }
}
