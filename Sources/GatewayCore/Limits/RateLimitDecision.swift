/// The answer of a limiter for one request: allowed or not, and what to tell the client in
/// `RateLimit-*` and `Retry-After` headers.
package struct RateLimitDecision: Sendable, Equatable {
    package var allowed: Bool
    /// The limit of the window (or the bucket's capacity).
    package var limit: Int
    /// What is left after this request (never negative).
    package var remaining: Int
    /// Seconds until the window resets or enough tokens return (rounded up, at least 0).
    package var resetSeconds: Int
    /// Seconds to wait before trying again, when refused.
    package var retryAfterSeconds: Int?

    package init(allowed: Bool, limit: Int, remaining: Int, resetSeconds: Int, retryAfterSeconds: Int? = nil) {
        self.allowed = allowed
        self.limit = limit
        self.remaining = remaining
        self.resetSeconds = resetSeconds
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// Rounds nanoseconds up to whole seconds (a client told "0" would retry at once).
@inlinable
func secondsRoundedUp(_ nanos: Int64) -> Int {
    nanos <= 0 ? 0 : Int((nanos + 999_999_999) / 1_000_000_000)
}
