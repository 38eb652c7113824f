import Logging

/// The shared core's long-lived state that every gate uses and that outlives config snapshots:
/// one limiter store (a rule means the same on a route, a model or a tool) and one API-key index.
public final class CoreServices: Sendable {
    public let limiters = LocalLimiterStore()
    public let keys = KeyIndex()
    /// The access log, as configured at start (its file and fields apply after a restart).
    public let accessLog: AccessLog
    public let metrics = GatewayMetrics()
    /// Shared limiter counters, when the config names a Redis (applies at start).
    public let redis: RedisLimiterStore?
    let limiterStoreErrors: LimiterStoreErrors

    public init(accessLog: AccessLogConfig = AccessLogConfig(), redis: String? = nil, logger: Logger = Logger(label: "triplegate.limits")) {
        self.accessLog = AccessLog(config: accessLog)
        self.redis = redis.flatMap(RedisLimiterStore.parse).map { RedisLimiterStore(host: $0.host, port: $0.port) }
        self.limiterStoreErrors = LimiterStoreErrors(metrics: metrics, logger: logger)
    }

    /// The consumers of a config, by name, for authenticate policies.
    public static func consumers(of config: GatewayConfig) -> [String: Consumer] {
        Dictionary(config.consumers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Builds the policy for one config entry, attached at `scope`.
    public func policy(_ config: PolicyConfig, scope: String, route: String, consumers: [String: Consumer]) -> any RequestPolicy {
        switch config {
        case .rateLimit(let c):
            let counters = metrics.limiter(route: route)
            return RateLimitPolicy(config: c, scope: scope, store: limiters, allowed: counters.allowed, refused: counters.refused,
                                   redis: c.store == .redis ? redis : nil, storeErrors: limiterStoreErrors)
        case .keyAuth(let c):
            return KeyAuthPolicy(config: c, keys: keys, consumers: consumers, missing: metrics.authMissing, invalid: metrics.authInvalid)
        case .acl(let c):
            return ACLPolicy(config: c, forbidden: metrics.authForbidden, missing: metrics.authMissing)
        }
    }
}
