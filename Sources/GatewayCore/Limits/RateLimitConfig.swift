/// `rate_limit`: how many requests a key (a client IP, a header's value, a route, or a
/// combination) may make per window.
package struct RateLimitConfig: Sendable, Hashable {
    /// What a limit is counted by.
    package enum KeyPart: Sendable, Hashable {
        case clientIP
        /// The authenticated consumer (an authenticate policy must run first).
        case consumer
        /// The consumer's team.
        case team
        case route
        case service
        /// The resource a gate names once it has read the body (the MCP gate's tool,
        /// `server.tool`); only in the policy lists a gate counts per resource, where such a
        /// limit is counted per call of the resource rather than per HTTP request. Written
        /// `resourceWord` in the config.
        case resource
        case header(String)
    }

    /// How `by` writes `.resource` in the config: the one resource any gate names so far is the
    /// MCP gate's tool.
    package static let resourceWord = "tool"

    package enum Algorithm: String, Sendable, CaseIterable {
        /// Quotas: at most `limit` in any window (sliding-window counter). The default.
        case slidingWindow = "sliding_window"
        /// Rates with bursts: `burst` at once, refilled at `limit` per window.
        case tokenBucket = "token_bucket"
    }

    /// Default `[client_ip]`: the one key every request has before identity exists.
    package var by: [KeyPart] = [.clientIP]
    /// Limits per window; at least one. Every one must allow the request.
    package var windows: [(limit: Int, window: Duration)] = []
    package var algorithm: Algorithm = .slidingWindow
    /// Token bucket capacity; default the limit itself.
    package var burst: Int?
    /// Where counters live: `local` (this process) or `redis` (shared by replicas).
    package var store: Store = .local
    /// With `store: redis`, when Redis cannot answer: count locally instead (true, the default,
    /// as Kong) or refuse with 503 (false).
    package var faultTolerant: Bool = true

    package enum Store: String, Sendable, CaseIterable {
        case local, redis
    }

    package init() {}

    package static func == (a: RateLimitConfig, b: RateLimitConfig) -> Bool {
        a.by == b.by && a.algorithm == b.algorithm && a.burst == b.burst && a.store == b.store && a.faultTolerant == b.faultTolerant
            && a.windows.count == b.windows.count && zip(a.windows, b.windows).allSatisfy { $0.limit == $1.limit && $0.window == $1.window }
    }

    package func hash(into h: inout Hasher) {
        h.combine(by)
        h.combine(algorithm)
        h.combine(burst)
        h.combine(store)
        h.combine(faultTolerant)
        for w in windows {
            h.combine(w.limit)
            h.combine(w.window)
        }
    }
}
