/// A token bucket for rates with bursts: holds up to `capacity` tokens, refilled continuously at
/// `rate` tokens per `period`. Tokens are kept in fixed point (millionths) so refills never drift.
/// Pure: time comes from the caller.
package struct TokenBucket: Sendable, Equatable {
    package let capacity: Int
    package let rate: Int
    package let periodNanos: Int64
    private static let scale: Int64 = 1_000_000
    private var tokens: Int64
    private var last: Int64?

    package init(capacity: Int, rate: Int, period: Duration) {
        precondition(capacity > 0 && rate > 0 && period > .zero)
        self.capacity = capacity
        self.rate = rate
        self.periodNanos = period.nanoseconds
        self.tokens = Int64(capacity) * Self.scale
    }

    package mutating func take(cost: Int = 1, now: Int64) -> RateLimitDecision {
        refill(now: now)
        let need = Int64(cost) * Self.scale
        let full = Int64(capacity) * Self.scale
        if tokens >= need {
            tokens -= need
            return RateLimitDecision(allowed: true, limit: capacity, remaining: Int(tokens / Self.scale), resetSeconds: secondsRoundedUp(nanos(toRefill: full - tokens)))
        }
        return RateLimitDecision(allowed: false, limit: capacity, remaining: 0, resetSeconds: secondsRoundedUp(nanos(toRefill: full - tokens)),
                                 retryAfterSeconds: max(1, secondsRoundedUp(nanos(toRefill: need - tokens))))
    }

    private mutating func refill(now: Int64) {
        guard let last else {
            self.last = now
            return
        }
        guard now > last else { return }
        // tokens per nanosecond = rate * scale / period
        let added = (now - last).multipliedFullWidth(by: Int64(rate) * Self.scale)
        let gained = Int64(truncatingIfNeeded: Int64(exactly: added.high) == 0 ? Int64(bitPattern: added.low) / periodNanos : Int64.max)
        if gained > 0 {
            tokens = min(Int64(capacity) * Self.scale, tokens + gained)
            // Advance only by the time that produced whole fixed-point tokens, so no fraction is lost.
            self.last = gained >= Int64(capacity) * Self.scale ? now : last + gained * periodNanos / (Int64(rate) * Self.scale)
        }
    }

    private func nanos(toRefill missing: Int64) -> Int64 {
        missing <= 0 ? 0 : (missing * periodNanos + Int64(rate) * Self.scale - 1) / (Int64(rate) * Self.scale)
    }
}
