import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import Prometheus

/// What a call needs of the spend machinery: the counters (in this process, or in Redis when
/// `llm.counters: redis`) and where alerts go.
struct Spend {
    let counters: SpendCounters
    let redis: RedisSpendCounters?
    let alerts: BudgetAlerts
}

/// Soft budget alerts: a log line, a counter, and the budget's webhook (a JSON POST, sent off
/// the request path; a failed delivery is logged, never retried into the request).
final class BudgetAlerts: Sendable {
    private let logger = Logger(label: "triplegate.llm")
    private let metrics: GatewayMetrics

    init(metrics: GatewayMetrics) { self.metrics = metrics }

    func fire(_ alerts: [SpendCounters.Alert], on eventLoop: EventLoop) {
        for a in alerts {
            logger.warning("budget soft alert", metadata: [
                "budget": "\(a.budget)", "spent_usd": "\(CallCost.decimal(micros: a.spentMicros))", "budget_usd": "\(CallCost.decimal(micros: a.ceilingMicros))",
            ])
            metrics.registry.makeCounter(descriptor: .init(metricName: "triplegate_budget_alerts", unitName: "total", helpText: "Budget soft alerts fired"),
                                         labels: [("budget", a.budget)]).increment()
            guard let url = a.webhook else { continue }
            var body = ByteBuffer()
            JSONValue.object([
                ("type", .string("budget.soft_alert")), ("budget", .string(a.budget)),
                ("spent_usd", .string(CallCost.decimal(micros: a.spentMicros))), ("budget_usd", .string(CallCost.decimal(micros: a.ceilingMicros))),
            ]).write(to: &body)
            let logger = self.logger
            HTTPFetcher().request(.POST, url, headers: ["content-type": "application/json"], body: body, on: eventLoop).whenComplete { result in
                switch result {
                case .success(let r) where r.status.code < 300: break
                case .success(let r): logger.error("budget alert webhook refused", metadata: ["url": "\(url)", "status": "\(r.status.code)"])
                case .failure(let e): logger.error("budget alert webhook failed", metadata: ["url": "\(url)", "error": "\(e)"])
                }
            }
        }
    }
}
