import Logging
import NIOConcurrencyHelpers
import NIOCore
import Prometheus

/// Says that the shared limiter store failed: a counter per failure (by what was done about it)
/// and a log line at most every 10 seconds, so an outage is visible without flooding the log.
package final class LimiterStoreErrors: Sendable {
    let fallback: Counter
    let refused: Counter
    let logger: Logger
    private let lastLog = NIOLockedValueBox<NIODeadline?>(nil)

    init(metrics: GatewayMetrics, logger: Logger) {
        func make(_ action: String) -> Counter {
            metrics.registry.makeCounter(
                descriptor: .init(metricName: "triplegate_limiter_store_errors", unitName: "total", helpText: "Shared limiter store failures by what was done"),
                labels: [("store", "redis"), ("action", action)])
        }
        fallback = make("fallback_local")
        refused = make("refused")
        self.logger = logger
    }

    func record(_ error: Error, fellBack: Bool) {
        (fellBack ? fallback : refused).increment()
        let now = NIODeadline.now()
        let due = lastLog.withLockedValue { last -> Bool in
            if let l = last, now - l < .seconds(10) { return false }
            last = now
            return true
        }
        if due {
            logger.warning(fellBack ? "redis limiter store unavailable; counting locally" : "redis limiter store unavailable; refusing (fault_tolerant: false)",
                           metadata: ["error": "\(error)"])
        }
    }
}
