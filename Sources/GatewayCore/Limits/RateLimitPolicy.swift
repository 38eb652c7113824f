import Prometheus

/// `rate_limit` in the limit phase: counts each request against every configured window and
/// refuses with 429, `Retry-After` and `RateLimit-Limit/-Remaining/-Reset`; allowed responses
/// carry the `RateLimit-*` headers of the tightest window.
public struct RateLimitPolicy: RequestPolicy {
    public let name = "rate_limit"
    public let phase = PolicyPhase.limit
    public let priority = 0
    let config: RateLimitConfig
    /// Where the policy is attached (`service/route`), so two policies never share counters.
    let scope: String
    let store: LocalLimiterStore
    let allowed: Counter?
    let refused: Counter?

    public init(config: RateLimitConfig, scope: String, store: LocalLimiterStore, allowed: Counter? = nil, refused: Counter? = nil) {
        self.config = config
        self.scope = scope
        self.store = store
        self.allowed = allowed
        self.refused = refused
    }

    public func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        var key = scope
        for part in config.by {
            key += "|"
            switch part {
            case .clientIP: key += context.clientIP ?? "-"
            // Without a consumer (an anonymous route), requests count by address: never one
            // shared bucket for everyone unidentified.
            case .consumer: key += context.consumer.map { "c=" + $0.name } ?? "ip=" + (context.clientIP ?? "-")
            case .team: key += context.consumer?.team.map { "t=" + $0 } ?? "ip=" + (context.clientIP ?? "-")
            case .route: key += context.route
            case .service: key += context.service
            case .header(let name):
                // A request without the header is counted by its address instead, so leaving a
                // header out cannot join (or escape into) one shared bucket.
                key += context.headers.first(name: name).map { "h=" + $0 } ?? "ip=" + (context.clientIP ?? "-")
            }
        }
        var tightest: RateLimitDecision?
        for (i, w) in config.windows.enumerated() {
            let d: RateLimitDecision
            switch config.algorithm {
            case .slidingWindow:
                d = store.takeWindow("\(key)|\(i)|\(w.limit)/\(w.window)", limit: w.limit, window: w.window, now: context.now)
            case .tokenBucket:
                d = store.takeTokens("\(key)|\(i)|\(w.limit)/\(w.window)|b\(config.burst ?? w.limit)", capacity: config.burst ?? w.limit,
                                     rate: w.limit, period: w.window, now: context.now)
            }
            if !d.allowed {
                context.limitOutcome = "refused"
                refused?.increment()
                let headers = Self.headers(d) + [("retry-after", String(d.retryAfterSeconds ?? 1))]
                return .reject(ProblemDetails(status: .tooManyRequests, title: "Rate limit exceeded",
                                              detail: "limit is \(w.limit) per \(ConfigDuration.format(w.window))", headers: headers))
            }
            if tightest == nil || d.remaining < tightest!.remaining { tightest = d }
        }
        if let tightest { context.responseHeaders += Self.headers(tightest) }
        context.limitOutcome = "allowed"
        allowed?.increment()
        return .proceed
    }

    static func headers(_ d: RateLimitDecision) -> [(String, String)] {
        [("ratelimit-limit", String(d.limit)), ("ratelimit-remaining", String(d.remaining)), ("ratelimit-reset", String(d.resetSeconds))]
    }
}
