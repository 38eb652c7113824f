import GatewayCore

/// The deadlines of one proxied exchange: per attempt (`per_try`) and overall (`total`), both
/// up to the response head. Pure; times are monotonic nanoseconds from the caller's clock.
public struct ExchangeDeadlines: Sendable, Equatable {
    public let start: Int64
    public let perTry: Int64
    public let total: Int64

    public init(start: Int64, perTry: Duration, total: Duration) {
        self.start = start
        self.perTry = perTry.nanoseconds
        self.total = total.nanoseconds
    }

    public enum Kind: Equatable, Sendable { case perTry, total }

    /// When the attempt that started at `attemptStart` times out, and which limit that is.
    public func deadline(attemptStart: Int64) -> (at: Int64, kind: Kind) {
        let tryEnd = attemptStart + perTry
        let totalEnd = start + total
        return tryEnd < totalEnd ? (tryEnd, .perTry) : (totalEnd, .total)
    }

    /// Whether another attempt may start at `now` after waiting `backoff` nanoseconds.
    public func allowsAttempt(at now: Int64, after backoff: Int64) -> Bool {
        now + backoff < start + total
    }
}
