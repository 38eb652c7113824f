@testable import GatewayCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@Suite struct PolicyConfigTests {
    func config(_ policies: String) -> String {
        """
        services:
          - name: a
            upstream: builtin:echo
            policies:
        \(policies)
            routes: [{ paths: [/a], policies: [{ rate_limit: { second: 5 } }] }]
        """
    }

    @Test func rateLimitDefaultsAndWindows() throws {
        let c = try GatewayConfig.parse(yaml: config("      - rate_limit: { minute: 100, hour: 1000 }"), environment: [:])
        guard case .rateLimit(let r) = c.services[0].policies[0] else { Issue.record("not a rate limit"); return }
        #expect(r.by == [.clientIP])
        #expect(r.algorithm == .slidingWindow)
        #expect(r.windows.map(\.limit) == [100, 1000])
        #expect(r.windows.map(\.window) == [.seconds(60), .seconds(3600)])
        guard case .rateLimit(let routeLimit) = c.services[0].routes[0].policies[0] else { Issue.record("no route policy"); return }
        #expect(routeLimit.windows.map(\.limit) == [5])
    }

    @Test func everyInvalidFieldIsReportedWithItsPath() {
        let yaml = config("""
                  - rate_limit: { by: [client_ip, consumer, nose], minute: 0, burst: 3, store: redis, burts: 1 }
                  - rate_limt: {}
                  - { rate_limit: { minute: 1 }, extra: {} }
                  - rate_limit: {}
            """)
        #expect(problems(yaml) == [
            "services[0].policies[0].rate_limit.by: must be consumer, team, client_ip, route, service, tool or header:NAME (got \"nose\")",
            "services[0].policies[0].rate_limit.minute: must be >= 1 (got 0)",
            "services[0].policies[0].rate_limit.burst: applies only to algorithm: token_bucket",
            "services[0].policies[0].rate_limit.burts: unknown key",
            "services[0].policies[1].rate_limt: unknown policy (known: acl, jwt, key_auth, mtls_auth, oauth2_introspection, rate_limit)",
            "services[0].policies[2].extra: unknown policy (known: acl, jwt, key_auth, mtls_auth, oauth2_introspection, rate_limit)",
            "services[0].policies[2]: must name exactly one policy, as `- rate_limit: {...}`",
            "services[0].policies[3].rate_limit: must set at least one of second, minute, hour, day",
            "services[0].policies[0].rate_limit.store: redis needs a top-level redis: redis://host:port",
        ])
    }
}

/// A policy that waits on a future, for suspension tests.
struct Waiting: RequestPolicy {
    let name = "waiting"
    let phase = PolicyPhase.limit
    let priority = 0
    let future: EventLoopFuture<PolicyResumption>

    func apply(_ context: inout PolicyContext) -> PolicyVerdict { .suspend(future) }
}

/// A policy that records its order, for chain-order tests.
struct Marker: RequestPolicy {
    let name: String
    let phase: PolicyPhase
    let priority: Int
    let reject: Bool

    func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        context.responseHeaders.append(("ran", name))
        return reject ? .reject(ProblemDetails(status: .forbidden)) : .proceed
    }
}

@Suite struct PolicyChainTests {
    func context() -> PolicyContext {
        PolicyContext(method: .GET, headers: [:], clientIP: "127.0.0.1", service: "s", route: "r", now: 0)
    }

    @Test func runsByPhaseThenPriorityThenNameThenConfigOrder() {
        let chain = PolicyChain([
            Marker(name: "limit-b", phase: .limit, priority: 0, reject: false),
            Marker(name: "auth", phase: .authenticate, priority: 0, reject: false),
            Marker(name: "limit-a", phase: .limit, priority: 0, reject: false),
            Marker(name: "limit-high", phase: .limit, priority: 10, reject: false),
            Marker(name: "acl", phase: .authorize, priority: 0, reject: false),
        ])
        guard case .done(_, let ctx) = chain.run(context(), on: EmbeddedEventLoop()) else { Issue.record("suspended"); return }
        #expect(ctx.responseHeaders.map(\.1) == ["auth", "acl", "limit-high", "limit-a", "limit-b"])
    }

    @Test func aRejectionStopsTheChain() {
        let chain = PolicyChain([
            Marker(name: "auth", phase: .authenticate, priority: 0, reject: true),
            Marker(name: "limit", phase: .limit, priority: 0, reject: false),
        ])
        guard case .done(.reject(let p), let ctx) = chain.run(context(), on: EmbeddedEventLoop()) else { Issue.record("expected a rejection"); return }
        #expect(p.status == .forbidden)
        #expect(ctx.responseHeaders.map(\.1) == ["auth"])
    }

    @Test func aSuspendedPolicyResumesTheChainWithItsUpdate() throws {
        let loop = EmbeddedEventLoop()
        let promise = loop.makePromise(of: PolicyResumption.self)
        let chain = PolicyChain([
            Marker(name: "auth", phase: .authenticate, priority: 0, reject: false),
            Waiting(future: promise.futureResult),
            Marker(name: "after", phase: .transform, priority: 0, reject: false),
        ])
        guard case .pending(let future) = chain.run(context(), on: loop) else { Issue.record("did not suspend"); return }
        promise.succeed(PolicyResumption(verdict: .proceed) { $0.responseHeaders.append(("ran", "waited")) })
        let (verdict, ctx) = try future.wait()
        guard case .proceed = verdict else { Issue.record("not proceeding"); return }
        #expect(ctx.responseHeaders.map(\.1) == ["auth", "waited", "after"])
    }

    @Test func aFailedSuspensionRejectsWith500() throws {
        let loop = EmbeddedEventLoop()
        let promise = loop.makePromise(of: PolicyResumption.self)
        guard case .pending(let future) = PolicyChain([Waiting(future: promise.futureResult)]).run(context(), on: loop) else {
            Issue.record("did not suspend"); return
        }
        promise.fail(RedisError.timeout)
        guard case .reject(let p) = try future.wait().0 else { Issue.record("not rejected"); return }
        #expect(p.status == .internalServerError)
    }

    @Test func rateLimitPolicyRefusesWith429AndHeaders() {
        var config = RateLimitConfig()
        config.windows = [(2, .seconds(60))]
        let policy = RateLimitPolicy(config: config, scope: "s/r", store: LocalLimiterStore())
        var verdicts: [PolicyVerdict] = []
        for _ in 0..<3 {
            var ctx = context()
            verdicts.append(policy.apply(&ctx))
        }
        guard case .reject(let p) = verdicts[2] else { Issue.record("third request not refused"); return }
        #expect(p.status == .tooManyRequests)
        let headers = Dictionary(uniqueKeysWithValues: p.headers)
        #expect(headers["ratelimit-limit"] == "2" && headers["ratelimit-remaining"] == "0" && headers["retry-after"] == "60")
        var other = PolicyContext(method: .GET, headers: [:], clientIP: "10.0.0.2", service: "s", route: "r", now: 0)
        guard case .proceed = policy.apply(&other) else { Issue.record("another client shares the bucket"); return }
        #expect(other.responseHeaders.first { $0.0 == "ratelimit-remaining" }?.1 == "1")
    }
}

@Suite struct TelemetryConfigTests {
    @Test func accessLogDefaultsAndUnknownFields() throws {
        let c = try GatewayConfig.parse(yaml: "services: [{ name: e, upstream: builtin:echo, routes: [{ paths: [/] }] }]", environment: [:])
        #expect(c.telemetry.accessLog.enabled && c.telemetry.accessLog.path == "stdout")
        #expect(c.telemetry.accessLog.fields == AccessLogRecord.fieldNames)
        let bad = "telemetry: { access_log: { fields: [status, colour], verbose: true } }\nservices: [{ name: e, upstream: builtin:echo, routes: [{ paths: [/] }] }]"
        #expect(problems(bad) == [
            "telemetry.access_log.fields[1]: unknown field \"colour\" (known: time, request_id, consumer, team, service, route, method, path, status, bytes, upstream, upstream_ms, total_ms, limit)",
            "telemetry.access_log.verbose: unknown key",
        ])
    }
}

@Suite struct RedisConfigTests {
    @Test func redisStoreNeedsATopLevelRedis() {
        let yaml = """
            redis: http://wrong
            services:
              - name: s
                upstream: builtin:echo
                policies: [{ rate_limit: { minute: 5, store: redis, algorithm: token_bucket, fault_tolerant: sometimes } }]
                routes: [{ paths: [/], policies: [{ rate_limit: { minute: 5, store: memcached } }] }]
            """
        #expect(problems(yaml) == [
            "services[0].routes[0].policies[0].rate_limit.store: must be one of local, redis (got \"memcached\")",
            "services[0].policies[0].rate_limit.fault_tolerant: must be true or false (got \"sometimes\")",
            // The value is not echoed: a Redis URL may hold a password.
            "redis: must be redis://[user[:password]@]host[:port][/db] or rediss://... (TLS)",
        ])
        let missing = "services: [{ name: s, upstream: builtin:echo, policies: [{ rate_limit: { minute: 5, store: redis } }], routes: [{ paths: [/] }] }]"
        #expect(problems(missing) == ["services[0].policies[0].rate_limit.store: redis needs a top-level redis: redis://host:port"])
    }

    /// `redis://[user[:password]@]host[:port][/db]`, `rediss://` for TLS; the password is never
    /// part of the host, and never shown.
    @Test func redisURLsAreParsedStrictly() throws {
        let full = try #require(RedisURL("redis://app:p%40ss:w@cache.internal:6380/3"))
        #expect(full == RedisURL(host: "cache.internal", port: 6380, user: "app", password: "p@ss:w", database: 3))
        #expect(full.description == "redis://app:[redacted]@cache.internal:6380/3")
        #expect(full.handshake == [["AUTH", "app", "p@ss:w"], ["SELECT", "3"]])
        let passwordOnly = try #require(RedisURL("redis://:secret@10.0.0.5"))
        #expect(passwordOnly.user == nil && passwordOnly.password == "secret" && passwordOnly.port == 6379)
        #expect(passwordOnly.handshake == [["AUTH", "secret"]])
        #expect(RedisURL("rediss://[::1]:7000")?.tls == true)
        #expect(RedisURL("redis://h")?.handshake == [])
        for bad in ["http://h", "redis://", "redis://:pw@", "redis://h:0", "redis://h:99999", "redis://h/x", "redis://h/-1",
                    "redis://h?password=x", "redis://h#x", "redis://a@b@", "redis://h/16000", "redis://h/+1"] {
            #expect(RedisURL(bad) == nil, "\(bad)")
        }
    }

    @Test func redisRepliesBecomeDecisions() throws {
        let allowed = try RedisLimiterStore.decision(.array([.integer(1), .integer(100), .integer(41), .integer(12_300), .integer(0)]))
        #expect(allowed == RateLimitDecision(allowed: true, limit: 100, remaining: 41, resetSeconds: 13))
        let refused = try RedisLimiterStore.decision(.array([.integer(0), .integer(100), .integer(0), .integer(5_000), .integer(2_500)]))
        #expect(refused == RateLimitDecision(allowed: false, limit: 100, remaining: 0, resetSeconds: 5, retryAfterSeconds: 3))
        #expect(throws: RedisError.self) { try RedisLimiterStore.decision(.simple("OK")) }
    }
}
