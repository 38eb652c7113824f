/// The effective config (every default filled in) as JSON, for `GET /admin/config`.
/// Secrets never appear: `${VAR}` values were substituted at load time, so any field that can
/// hold a secret is redacted here by name.
extension GatewayConfig {
    /// The `server` section (split out: one expression of the whole config is too much for
    /// the type checker).
    var serverJSON: JSONValue {
        .object([
                ("listen", .string(server.listen)),
                ("event_loops", .int(server.eventLoops)),
                ("h2c", .bool(server.h2c)),
                ("tls", server.tls.map { .object([("certificate", .string($0.certificate)), ("key", .string("[redacted]")),
                                                   ("client_ca_file", $0.clientCAFile.map { .string($0) } ?? .null),
                                                   ("client_auth", .string($0.clientAuth.rawValue))]) } ?? .null),
                ("limits", .object([
                    ("max_header_bytes", .int(server.limits.maxHeaderBytes)),
                    ("max_headers", .int(server.limits.maxHeaders)),
                    ("max_body_bytes", .int(server.limits.maxBodyBytes)),
                    ("client_header_timeout", .string(ConfigDuration.format(server.limits.clientHeaderTimeout))),
                    ("client_body_timeout", .string(ConfigDuration.format(server.limits.clientBodyTimeout))),
                    ("keepalive_timeout", .string(ConfigDuration.format(server.limits.keepaliveTimeout))),
                    ("max_connections", .int(server.limits.maxConnections)),
                ])),
                ("escaped_slashes", .string(server.escapedSlashes.rawValue)),
                ("shutdown_grace", .string(ConfigDuration.format(server.shutdownGrace))),
            ])
    }

    package var effectiveJSON: JSONValue {
        var fields = coreJSON
        // The gates' sections, before `services`, by key; a section the binary has but the file
        // does not is printed as null.
        let keys = Set(sectionKeys).union(sections.keys).sorted()
        fields.insert(contentsOf: keys.map { ($0, sections[$0]?.effectiveJSON ?? .null) }, at: fields.count - 1)
        return .object(fields)
    }

    private var coreJSON: [(String, JSONValue)] {
        [
            ("server", serverJSON),
            ("admin", .object([("listen", .string(admin.listen)), ("enabled", .bool(admin.enabled)),
                               ("allowed_hosts", .array(admin.allowedHosts.map { .string($0) }))])),
            ("store", .string(storeLocation?.description ?? store)),  // without a PostgreSQL password
            ("redis", redis.map { .string(RedisURL($0)?.description ?? "[redacted]") } ?? .null),  // no password
            ("consumers", .array(consumers.map { c in
                .object([("name", .string(c.name)), ("team", c.team.map { .string($0) } ?? .null),
                         ("groups", .array(c.groups.map { .string($0) })), ("tags", .array(c.tags.map { .string($0) }))])
            })),
            ("telemetry", .object([("access_log", .object([
                ("enabled", .bool(telemetry.accessLog.enabled)), ("path", .string(telemetry.accessLog.path)),
                ("fields", .array(telemetry.accessLog.fields.map { .string($0) })),
            ])), ("traces", telemetry.traces.map { t in
                .object([("endpoint", .string(t.endpoint)), ("protocol", .string(t.protocol.rawValue)), ("service_name", .string(t.serviceName)),
                         ("sample_ratio", .double(t.sampleRatio)), ("batch_delay", .string(ConfigDuration.format(t.batchDelay)))])
            } ?? .null)])),
            ("reload", .object([("watch", .bool(reload.watch)), ("interval", .string(ConfigDuration.format(reload.interval)))])),
            ("auth", auth.effectiveJSON),
            ("services", .array(services.map(\.effectiveJSON))),
        ]
    }
}

extension ServiceConfig {
    var effectiveJSON: JSONValue {
        let u = upstream
        let hash: JSONValue
        switch u.hashOn {
        case .header(let h)?: hash = .object([("header", .string(h))])
        case .cookie(let c)?: hash = .object([("cookie", .string(c))])
        case .clientIP?: hash = .object([("client_ip", .bool(true))])
        case nil: hash = .null
        }
        var on: [JSONValue] = []
        if u.retries.on.connect { on.append(.string("connect")) }
        if u.retries.on.timeout { on.append(.string("timeout")) }
        on += u.retries.on.statuses.sorted().map { .string(String($0)) }
        return .object([
            ("name", .string(name)),
            ("policies", .array(policies.map(\.effectiveJSON))),
            ("upstream", .object([
                ("targets", .array(u.targets.map { .object([("url", .string(ConfigRedaction.url($0.url))), ("weight", .int($0.weight))]) })),
                ("balance", .string(u.balance.rawValue)),
                ("protocol", .string(u.protocol.rawValue)),
                ("tls", .object([
                    ("verify", .bool(u.tls.verify)),
                    ("ca_file", u.tls.caFile.map { .string($0) } ?? .null),
                    ("server_name", u.tls.serverName.map { .string($0) } ?? .null),
                ])),
                ("hash_on", hash),
                ("pool", .object([("max_connections", .int(u.pool.maxConnections)), ("idle_timeout", .string(ConfigDuration.format(u.pool.idleTimeout)))])),
                ("timeouts", .object([
                    ("connect", .string(ConfigDuration.format(u.timeouts.connect))),
                    ("per_try", .string(ConfigDuration.format(u.timeouts.perTry))),
                    ("total", .string(ConfigDuration.format(u.timeouts.total))),
                    ("read", .string(ConfigDuration.format(u.timeouts.read))),
                ])),
                ("retries", .object([
                    ("attempts", .int(u.retries.attempts)),
                    ("on", .array(on)),
                    ("backoff", .object([("base", .string(ConfigDuration.format(u.retries.backoffBase))), ("max", .string(ConfigDuration.format(u.retries.backoffMax)))])),
                    ("budget", .object([("ratio", .double(u.retries.budgetRatio)), ("min_per_second", .int(u.retries.budgetMinPerSecond))])),
                    ("buffer_bytes", .int(u.retries.bufferBytes)),
                ])),
            ])),
            ("routes", .array(routes.map { r in
                .object([
                    ("name", .string(r.name)),
                    ("paths", .array(r.paths.map { .string($0) })),
                    ("methods", .array(r.methods.map { .string($0) })),
                    ("hosts", .array(r.hosts.map { .string($0) })),
                    ("headers", .object(r.headers.map { ($0.name, .array($0.values.map { .string($0) })) })),
                    ("query", .object(r.query.map { ($0.name, .array($0.values.map { .string($0) })) })),
                    ("strip_path", .bool(r.stripPath)),
                    ("rewrite_prefix", r.rewritePrefix.map { .string($0) } ?? .null),
                    ("preserve_host", .bool(r.preserveHost)),
                    ("max_body_bytes", .int(r.maxBodyBytes)),
                    ("policies", .array(r.policies.map(\.effectiveJSON))),
                ])
            })),
        ])
    }
}

extension PolicyConfig {
    package var effectiveJSON: JSONValue {
        switch self {
        case .rateLimit(let c):
            let by: [JSONValue] = c.by.map {
                switch $0 {
                case .clientIP: return .string("client_ip")
                case .consumer: return .string("consumer")
                case .team: return .string("team")
                case .route: return .string("route")
                case .service: return .string("service")
                case .resource: return .string(RateLimitConfig.resourceWord)
                case .header(let h): return .string("header:\(h)")
                }
            }
            var fields: [(String, JSONValue)] = [("by", .array(by)), ("algorithm", .string(c.algorithm.rawValue)), ("store", .string(c.store.rawValue)),
                                                 ("fault_tolerant", .bool(c.faultTolerant))]
            for w in c.windows {
                let name = w.window == .seconds(1) ? "second" : w.window == .seconds(60) ? "minute" : w.window == .seconds(3600) ? "hour" : "day"
                fields.append((name, .int(w.limit)))
            }
            if let b = c.burst { fields.append(("burst", .int(b))) }
            return .object([("rate_limit", .object(fields))])
        case .keyAuth(let c):
            return .object([("key_auth", .object([
                ("header_names", .array(c.headerNames.map { .string($0) })),
                ("query_names", .array(c.queryNames.map { .string($0) })),
                ("hide_credentials", .bool(c.hideCredentials)),
                ("anonymous", .bool(c.anonymous)),
            ]))])
        case .acl(let c):
            return .object([("acl", .object([("allow", .array(c.allow.map { .string($0) })), ("deny", .array(c.deny.map { .string($0) }))]))])
        case .jwt(let c):
            return .object([("jwt", .object([("anonymous", .bool(c.anonymous)), ("hide_credentials", .bool(c.hideCredentials))]))])
        case .oauth2Introspection(let c):
            return .object([("oauth2_introspection", .object([
                ("scopes", .array(c.scopes.map { .string($0) })), ("mandatory_scope", .bool(c.mandatoryScope)),
                ("anonymous", .bool(c.anonymous)), ("hide_credentials", .bool(c.hideCredentials)),
            ]))])
        case .mtlsAuth(let c):
            return .object([("mtls_auth", .object([("consumer_by", .array(c.consumerBy.map { .string($0.rawValue) })), ("anonymous", .bool(c.anonymous))]))])
        }
    }
}

extension AuthConfig {
    /// Secrets (HMAC keys, the introspection client secret) are redacted.
    var effectiveJSON: JSONValue {
        var fields: [(String, JSONValue)] = []
        if let j = jwt {
            fields.append(("jwt", .object([
                ("issuers", .array(j.issuers.map { .string($0) })), ("audiences", .array(j.audiences.map { .string($0) })),
                ("jwks_url", j.jwksURL.map { .string(ConfigRedaction.url($0)) } ?? .null),
                ("jwks_refresh", .string(ConfigDuration.format(j.jwksRefresh))),
                ("jwks_min_refresh", .string(ConfigDuration.format(j.jwksMinRefresh))),
                ("keys", .array(j.keys.map { k in
                    .object([("kid", k.kid.map { .string($0) } ?? .null), ("algorithm", .string(k.algorithm)),
                             ("material", .string({ if case .secret = k.material { return "[redacted]" } else { return "public key" } }()))])
                })),
                ("claims_to_verify", .array(j.claimsToVerify.map { .string($0.rawValue) })),
                ("maximum_expiration", j.maximumExpiration.map { .string(ConfigDuration.format($0)) } ?? .null),
                ("clock_skew", .string(ConfigDuration.format(j.clockSkew))),
                ("consumer_claim", .string(j.consumerClaim)),
                ("groups_claim", j.groupsClaim.map { .string($0) } ?? .null),
                ("team_claim", j.teamClaim.map { .string($0) } ?? .null),
                ("require_known_consumer", .bool(j.requireKnownConsumer)),
            ])))
        }
        if let i = introspection {
            fields.append(("introspection", .object([
                ("url", .string(ConfigRedaction.url(i.url))), ("client_id", i.clientID.map { .string($0) } ?? .null),
                ("client_secret", i.clientSecret == nil ? .null : .string("[redacted]")),
                ("cache_ttl", .string(ConfigDuration.format(i.cacheTTL))), ("negative_ttl", .string(ConfigDuration.format(i.negativeTTL))),
                ("timeout", .string(ConfigDuration.format(i.timeout))),
            ])))
        }
        return .object(fields)
    }
}
