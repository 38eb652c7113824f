import GatewayCore
import NIOHTTP1

/// Why one attempt failed.
package enum AttemptFailure: Sendable, Equatable {
    /// Nothing was sent: the connection was never made. Safe to retry for any method.
    case connect
    /// The connection closed before the response head. The request may have been processed.
    case closedEarly
    /// No response head within the per-try timeout.
    case timeout
    /// The upstream answered with this status.
    case status(Int)
}

/// Decides whether a failed attempt is tried again, and after how long. Pure: the clock and
/// the random source come from the caller.
package struct RetryPolicy: Sendable {
    package let config: RetryConfig

    package init(config: RetryConfig) { self.config = config }

    package enum Decision: Equatable, Sendable {
        case retry(after: Duration)
        case giveUp
    }

    /// `attempt` counts from 1 (the first try). `replayable`: the whole request body is still
    /// held, so it can be sent again. `budgetAllows` asks the retry budget (called only when
    /// every other condition holds, so a refused retry never spends budget).
    package func decide<R: RandomNumberGenerator>(
        _ failure: AttemptFailure, attempt: Int, method: HTTPMethod, replayable: Bool,
        budgetAllows: () -> Bool, random: inout R
    ) -> Decision {
        guard attempt <= config.attempts else { return .giveUp }
        let eligible: Bool
        switch failure {
        case .connect:
            eligible = config.on.connect && replayable
        case .closedEarly:
            // The upstream may have acted on it: only idempotent requests are sent again.
            eligible = config.on.connect && replayable && method.isIdempotent
        case .timeout:
            eligible = config.on.timeout && replayable && method.isIdempotent
        case .status(let code):
            eligible = config.on.statuses.contains(code) && replayable && method.isIdempotent
        }
        guard eligible, budgetAllows() else { return .giveUp }
        return .retry(after: backoff(attempt: attempt, random: &random))
    }

    /// Exponential backoff with full jitter (AWS's recommendation): uniform in
    /// `0 ..< min(max, base × 2^(attempt-1))`, so retries from many clients spread out.
    package func backoff<R: RandomNumberGenerator>(attempt: Int, random: inout R) -> Duration {
        let base = Double(config.backoffBase.components.seconds) * 1e9 + Double(config.backoffBase.components.attoseconds) / 1e9
        let cap = Double(config.backoffMax.components.seconds) * 1e9 + Double(config.backoffMax.components.attoseconds) / 1e9
        let ceiling = min(cap, base * pow2(attempt - 1))
        guard ceiling >= 1 else { return .zero }
        return .nanoseconds(Int64(Double.random(in: 0..<ceiling, using: &random)))
    }

    private func pow2(_ n: Int) -> Double { Double(1 << min(max(n, 0), 30)) }
}

extension HTTPMethod {
    /// RFC 9110 §9.2.2: repeating the request has the same effect as sending it once.
    package var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: return true
        default: return false
        }
    }
}
