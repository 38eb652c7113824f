/// A sliding-window counter for quotas (`100 per minute`): the count of the current fixed window
/// plus the previous window's count weighted by how much of it still overlaps the sliding
/// window. Cloudflare's and Kong's approximation: O(1) memory per key, and never lets more than
/// `limit` through in any window aligned to the fixed grid. Pure: time comes from the caller.
package struct SlidingWindowCounter: Sendable, Equatable {
    package let limit: Int
    package let windowNanos: Int64
    private var windowStart: Int64 = 0
    private var current = 0
    private var previous = 0

    package init(limit: Int, window: Duration) {
        precondition(limit > 0 && window > .zero)
        self.limit = limit
        self.windowNanos = window.nanoseconds
    }

    /// Counts `cost` if it fits; the decision says what is left either way.
    package mutating func take(cost: Int = 1, now: Int64) -> RateLimitDecision {
        advance(to: now)
        let elapsed = now - windowStart
        let weight = Double(windowNanos - elapsed) / Double(windowNanos)
        let estimated = Double(previous) * weight + Double(current)
        let reset = secondsRoundedUp(windowNanos - elapsed)
        if estimated + Double(cost) <= Double(limit) {
            current += cost
            let left = Double(limit) - (estimated + Double(cost))
            return RateLimitDecision(allowed: true, limit: limit, remaining: max(0, Int(left.rounded(.down))), resetSeconds: reset)
        }
        // When would enough of the previous window have slid out? If the current window alone
        // is full, only the next window helps.
        var wait = windowNanos - elapsed
        if Double(current + cost) <= Double(limit), previous > 0 {
            let needed = (estimated + Double(cost) - Double(limit)) / Double(previous)  // share of a window
            wait = min(wait, Int64((needed * Double(windowNanos)).rounded(.up)))
        }
        return RateLimitDecision(allowed: false, limit: limit, remaining: 0, resetSeconds: reset, retryAfterSeconds: max(1, secondsRoundedUp(wait)))
    }

    private mutating func advance(to now: Int64) {
        let aligned = now - now % windowNanos
        if aligned == windowStart { return }
        previous = aligned - windowStart == windowNanos ? current : 0
        current = 0
        windowStart = aligned
    }
}
