import NIOCore

/// `rate_limit` in the limit phase: counts each request against every configured window and
/// refuses with 429, `Retry-After` and `RateLimit-Limit/-Remaining/-Reset`; allowed responses
/// carry the `RateLimit-*` headers of the tightest window.
package struct RateLimitPolicy: RequestPolicy {
    package let name = "rate_limit"
    package let phase = PolicyPhase.limit
    package let priority = 0
    let config: RateLimitConfig
    /// Where the policy is attached (`service/route`), so two policies never share counters.
    let scope: String
    let store: LocalLimiterStore
    let decisions: LimiterDecisions?
    /// Set for `store: redis`: decisions are made there, and the local store is the fallback.
    let redis: RedisLimiterStore?
    let storeErrors: LimiterStoreErrors?
    /// Each window's part of its counter's name, formatted once (a `Duration` prints slowly).
    let windowSuffixes: [String]

    package init(config: RateLimitConfig, scope: String, store: LocalLimiterStore, decisions: LimiterDecisions? = nil,
                redis: RedisLimiterStore? = nil, storeErrors: LimiterStoreErrors? = nil) {
        self.config = config
        self.scope = scope
        self.store = store
        self.decisions = decisions
        self.redis = redis
        self.storeErrors = storeErrors
        windowSuffixes = config.windows.enumerated().map { i, w in
            config.algorithm == .tokenBucket ? "|\(i)|\(w.limit)/\(w.window)|b\(config.burst ?? w.limit)" : "|\(i)|\(w.limit)/\(w.window)"
        }
    }

    package func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        var key = scope
        key.reserveCapacity(scope.utf8.count + 48)
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
            case .resource: key += context.resource ?? "-"
            case .header(let name):
                // A request without the header is counted by its address instead, so leaving a
                // header out cannot join (or escape into) one shared bucket.
                key += context.headers.first(name: name).map { "h=" + $0 } ?? "ip=" + (context.clientIP ?? "-")
            }
        }
        if let redis, let loop = context.eventLoop {
            return .suspend(shared(redis, key: "tg:rl:" + key, fallbackContext: context, on: loop))
        }
        return local(key: key, &context)
    }

    /// Decides in Redis; on failure counts locally (`fault_tolerant`) or refuses with 503.
    private func shared(_ redis: RedisLimiterStore, key: String, fallbackContext: PolicyContext, on loop: EventLoop) -> EventLoopFuture<PolicyResumption> {
        let decided = config.algorithm == .tokenBucket
            ? redis.takeTokens(key, windows: config.windows, burst: config.burst, on: loop)
            : redis.take(key, windows: config.windows, on: loop)
        return decided.map { decision in
            self.resumption(decision)
        }.flatMapErrorThrowing { error in
            self.storeErrors?.record(error, fellBack: self.config.faultTolerant)
            guard self.config.faultTolerant else {
                return PolicyResumption(verdict: .reject(ProblemDetails(status: .serviceUnavailable, title: "Rate limiter unavailable")))
            }
            var copy = fallbackContext
            let verdict = self.local(key: String(key.dropFirst("tg:rl:".count)), &copy)
            let headers = copy.responseHeaders, outcome = copy.limitOutcome
            return PolicyResumption(verdict: verdict) {
                $0.responseHeaders = headers
                $0.limitOutcome = outcome
            }
        }
    }

    private func resumption(_ d: RateLimitDecision) -> PolicyResumption {
        if d.allowed {
            decisions?.allowed()
            return PolicyResumption(verdict: .proceed) {
                $0.responseHeaders += Self.headers(d)
                $0.limitOutcome = "allowed"
            }
        }
        decisions?.refused()
        return PolicyResumption(verdict: .reject(refusal(d))) { $0.limitOutcome = "refused" }
    }

    private func refusal(_ d: RateLimitDecision) -> ProblemDetails {
        let per = config.windows.first { $0.limit == d.limit }.map { " per \(ConfigDuration.format($0.window))" } ?? ""
        return ProblemDetails(status: .tooManyRequests, title: "Rate limit exceeded", detail: "limit is \(d.limit)\(per)",
                              headers: Self.headers(d) + [("retry-after", String(d.retryAfterSeconds ?? 1))])
    }

    private func local(key: String, _ context: inout PolicyContext) -> PolicyVerdict {
        var tightest: RateLimitDecision?
        for (i, w) in config.windows.enumerated() {
            let d: RateLimitDecision
            switch config.algorithm {
            case .slidingWindow:
                d = store.takeWindow(key + windowSuffixes[i], limit: w.limit, window: w.window, now: context.now)
            case .tokenBucket:
                d = store.takeTokens(key + windowSuffixes[i], capacity: config.burst ?? w.limit, rate: w.limit, period: w.window, now: context.now)
            }
            if !d.allowed {
                context.limitOutcome = "refused"
                decisions?.refused()
                return .reject(refusal(d))
            }
            if tightest == nil || d.remaining < tightest!.remaining { tightest = d }
        }
        if let tightest { context.responseHeaders += Self.headers(tightest) }
        context.limitOutcome = "allowed"
        decisions?.allowed()
        return .proceed
    }

    static func headers(_ d: RateLimitDecision) -> [(String, String)] {
        [("ratelimit-limit", String(d.limit)), ("ratelimit-remaining", String(d.remaining)), ("ratelimit-reset", String(d.resetSeconds))]
    }
}
