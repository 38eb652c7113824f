import GatewayCore

/// The deadlines of one proxied exchange: per attempt (`per_try`) and overall (`total`), both
/// up to the response head. Pure; times are monotonic nanoseconds from the caller's clock.
package struct ExchangeDeadlines: Sendable, Equatable {
    package let start: Int64
    package let perTry: Int64
    package let total: Int64

    package init(start: Int64, perTry: Duration, total: Duration) {
        self.start = start
        self.perTry = perTry.nanoseconds
        self.total = total.nanoseconds
    }

    package enum Kind: Equatable, Sendable { case perTry, total }

    /// When the attempt that started at `attemptStart` times out, and which limit that is.
    package func deadline(attemptStart: Int64) -> (at: Int64, kind: Kind) {
        let tryEnd = attemptStart + perTry
        let totalEnd = start + total
        return tryEnd < totalEnd ? (tryEnd, .perTry) : (totalEnd, .total)
    }

    /// Whether another attempt may start at `now` after waiting `backoff` nanoseconds.
    package func allowsAttempt(at now: Int64, after backoff: Int64) -> Bool {
        now + backoff < start + total
    }
}
