import Logging
import NIOConcurrencyHelpers

/// What policies of one config snapshot share: its consumers and its `auth:` machinery.
package struct PolicyEnvironment: Sendable {
    package var consumers: [String: Consumer]
    package var jwt: (config: JWTAuthConfig, keys: JWTKeySource)?
    package var introspector: TokenIntrospector?
    package var clock: WallClock = .system
}

/// The shared core's long-lived state that every gate uses and that outlives config snapshots:
/// one limiter store (a rule means the same on a route, a model or a tool) and one API-key index.
package final class CoreServices: Sendable {
    package let limiters = LocalLimiterStore()
    package let keys = KeyIndex()
    /// The access log, as configured at start (its file and fields apply after a restart).
    package let accessLog: AccessLog
    package let metrics = GatewayMetrics()
    /// Shared limiter counters, when the config names a Redis (applies at start).
    package let redis: RedisLimiterStore?
    let limiterStoreErrors: LimiterStoreErrors
    /// JWKS caches and introspection caches outlive reloads while their settings stay the same.
    private let authMachinery = NIOLockedValueBox<(jwt: (JWTAuthConfig, JWTKeySource)?, introspection: (IntrospectionConfig, TokenIntrospector)?)>((nil, nil))

    /// Whether requests get spans (traces are configured and their exporter bootstrapped).
    package let tracing: Bool

    package init(accessLog: AccessLogConfig = AccessLogConfig(), redis: String? = nil, tracing: Bool = false,
                logger: Logger = Logger(label: "triplegate.limits")) {
        self.tracing = tracing
        self.accessLog = AccessLog(config: accessLog)
        self.redis = redis.flatMap(RedisURL.init).map { RedisLimiterStore(url: $0) }
        self.limiterStoreErrors = LimiterStoreErrors(metrics: metrics, logger: logger)
    }

    /// The consumers of a config, by name, for authenticate policies.
    package static func consumers(of config: GatewayConfig) -> [String: Consumer] {
        Dictionary(config.consumers.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The policy environment of a config: its consumers, and the JWT key source and token
    /// introspector its `auth:` section describes (the running ones when unchanged).
    package func environment(for config: GatewayConfig) -> PolicyEnvironment {
        var env = PolicyEnvironment(consumers: Self.consumers(of: config))
        authMachinery.withLockedValue { m in
            if let j = config.auth.jwt {
                if let (old, source) = m.jwt, old.sameKeys(as: j) {
                    env.jwt = (j, source)
                } else if let source = try? JWTKeySource(config: j) {
                    m.jwt = (j, source)
                    env.jwt = (j, source)
                }
            }
            if let i = config.auth.introspection {
                if let (old, introspector) = m.introspection, old.sameServer(as: i) {
                    env.introspector = introspector
                } else {
                    let introspector = TokenIntrospector(config: i)
                    m.introspection = (i, introspector)
                    env.introspector = introspector
                }
            }
        }
        return env
    }

    /// Builds the policy for one config entry, attached at `scope`.
    package func policy(_ config: PolicyConfig, scope: String, route: String, environment env: PolicyEnvironment) -> any RequestPolicy {
        let consumers = env.consumers
        switch config {
        case .rateLimit(let c):
            return RateLimitPolicy(config: c, scope: scope, store: limiters, decisions: metrics.limiter(route: route),
                                   redis: c.store == .redis ? redis : nil, storeErrors: limiterStoreErrors)
        case .keyAuth(let c):
            return KeyAuthPolicy(config: c, keys: keys, consumers: consumers, missing: metrics.authMissing, invalid: metrics.authInvalid,
                                 metrics: metrics)
        case .acl(let c):
            return ACLPolicy(config: c, forbidden: metrics.authForbidden, missing: metrics.authMissing)
        case .jwt(let c):
            // The validator refuses a jwt policy without auth.jwt, and bad static keys.
            guard let (auth, keys) = env.jwt else { return Refuse(name: "jwt", title: "JWT authentication is not configured") }
            return JWTPolicy(config: c, auth: auth, keys: keys, consumers: consumers, clock: env.clock, metrics: metrics)
        case .oauth2Introspection(let c):
            guard let introspector = env.introspector else { return Refuse(name: "oauth2_introspection", title: "Token introspection is not configured") }
            return IntrospectionPolicy(config: c, introspector: introspector, consumers: consumers, clock: env.clock, metrics: metrics)
        case .mtlsAuth(let c):
            return MTLSAuthPolicy(config: c, consumers: consumers, metrics: metrics)
        }
    }
}

/// Stands in for a policy whose machinery could not be built; refuses every request (fail closed).
struct Refuse: RequestPolicy {
    let name: String
    let phase = PolicyPhase.authenticate
    let priority = Int.max
    let title: String
    func apply(_ context: inout PolicyContext) -> PolicyVerdict { .reject(ProblemDetails(status: .internalServerError, title: title)) }
}

extension JWTAuthConfig {
    /// Whether two configs fetch and hold the same keys (the claims rules may differ).
    func sameKeys(as other: JWTAuthConfig) -> Bool {
        jwksURL == other.jwksURL && jwksRefresh == other.jwksRefresh && jwksMinRefresh == other.jwksMinRefresh
            && jwksCAFile == other.jwksCAFile && keys.map(\.fingerprint) == other.keys.map(\.fingerprint)
    }
}

extension JWTStaticKey {
    var fingerprint: String {
        let m: String
        switch material {
        case .secret(let s): m = "secret:" + s
        case .publicKeyPEM(let p): m = "pem:" + p
        case .jwk(let j): m = "jwk:" + j
        }
        return "\(kid ?? "")|\(algorithm)|\(m)"
    }
}

extension IntrospectionConfig {
    func sameServer(as other: IntrospectionConfig) -> Bool {
        url == other.url && clientID == other.clientID && clientSecret == other.clientSecret && cacheTTL == other.cacheTTL
            && negativeTTL == other.negativeTTL && timeout == other.timeout && caFile == other.caFile
            && consumerClaim == other.consumerClaim && groupsClaim == other.groupsClaim
    }
}
