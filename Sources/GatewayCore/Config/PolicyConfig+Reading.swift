/// Reading `policies:` lists: each entry is a one-key mapping naming the policy.
extension PolicyConfig {
    package static func readList(_ r: ConfigReader) -> [PolicyConfig] {
        r.list { item -> PolicyConfig? in
            // One entry per key, parsed or not, so the key count is what the user wrote.
            let entries = item.dictionary { name, value -> PolicyConfig?? in
                switch name {
                case "rate_limit":
                    return .some(optionsOf(value) { .rateLimit(RateLimitConfig.read($0)) })
                case "key_auth":
                    return .some(optionsOf(value) { o in
                        var c = KeyAuthConfig()
                        c.headerNames = o["header_names"].list { $0.string() } ?? c.headerNames
                        c.queryNames = o["query_names"].list { $0.string() } ?? c.queryNames
                        c.hideCredentials = o["hide_credentials"].bool() ?? c.hideCredentials
                        c.anonymous = o["anonymous"].bool() ?? c.anonymous
                        return .keyAuth(c)
                    })
                case "jwt":
                    return .some(optionsOf(value) { o in
                        var c = JWTPolicyConfig()
                        c.anonymous = o["anonymous"].bool() ?? c.anonymous
                        c.hideCredentials = o["hide_credentials"].bool() ?? c.hideCredentials
                        return .jwt(c)
                    })
                case "oauth2_introspection":
                    return .some(optionsOf(value) { o in
                        var c = IntrospectionPolicyConfig()
                        c.scopes = o["scopes"].list { $0.string() } ?? c.scopes
                        c.mandatoryScope = o["mandatory_scope"].bool() ?? c.mandatoryScope
                        c.anonymous = o["anonymous"].bool() ?? c.anonymous
                        c.hideCredentials = o["hide_credentials"].bool() ?? c.hideCredentials
                        if c.mandatoryScope, c.scopes.isEmpty { o.problem(at: "mandatory_scope", "needs scopes") }
                        return .oauth2Introspection(c)
                    })
                case "mtls_auth":
                    return .some(optionsOf(value) { o in
                        var c = MTLSAuthConfig()
                        c.consumerBy = o["consumer_by"].list { $0.oneOf(MTLSAuthConfig.Source.self) } ?? c.consumerBy
                        if c.consumerBy.isEmpty { o.problem(at: "consumer_by", "must name at least one of san_dns, san_uri, san_email, san, subject") }
                        c.anonymous = o["anonymous"].bool() ?? c.anonymous
                        return .mtlsAuth(c)
                    })
                case "acl":
                    return .some(value.object { o -> PolicyConfig in
                        var c = ACLConfig()
                        c.allow = o["allow"].list { $0.string() } ?? []
                        c.deny = o["deny"].list { $0.string() } ?? []
                        if c.allow.isEmpty, c.deny.isEmpty { o.problem("must list allow or deny groups") }
                        return .acl(c)
                    })
                default:
                    value.problem("unknown policy (known: \(PolicyConfig.known.joined(separator: ", ")))")
                    return .some(nil)
                }
            }
            guard let entries else { return nil }
            if entries.count != 1 {
                item.problem("must name exactly one policy, as `- rate_limit: {...}`")
                return nil
            }
            return entries[0].1 ?? nil
        } ?? []
    }

    /// A policy's options: `- key_auth:` with nothing after it means every default.
    private static func optionsOf(_ value: ConfigReader, _ read: (ConfigObject) -> PolicyConfig) -> PolicyConfig? {
        value.isAbsent ? read(ConfigReader.empty(like: value)) : value.object(read)
    }
}

extension RateLimitConfig {
    static func read(_ o: ConfigObject) -> RateLimitConfig {
        var c = RateLimitConfig()
        let byReader = o["by"]
        if !byReader.isAbsent {
            let words = byReader.scalarIfPresent().map { [$0] } ?? byReader.list { $0.string() } ?? []
            var parts: [KeyPart] = []
            for word in words {
                switch word {
                case "client_ip", "ip": parts.append(.clientIP)
                case "route": parts.append(.route)
                case "service": parts.append(.service)
                case "consumer": parts.append(.consumer)
                case "team": parts.append(.team)
                case RateLimitConfig.resourceWord: parts.append(.resource)
                default:
                    if word.hasPrefix("header:"), word.count > 7 {
                        parts.append(.header(String(word.dropFirst(7))))
                    } else {
                        byReader.problem("must be consumer, team, client_ip, route, service, \(RateLimitConfig.resourceWord) or header:NAME (got \"\(word)\")")
                    }
                }
            }
            if !parts.isEmpty { c.by = parts }
        }
        for (key, window) in [("second", Duration.seconds(1)), ("minute", .seconds(60)), ("hour", .seconds(3600)), ("day", .seconds(86400))] {
            if let n = o[key].int(min: 1) { c.windows.append((n, window)) }
        }
        if c.windows.isEmpty, !o.hasAny(["second", "minute", "hour", "day"]) {
            o.problem("must set at least one of second, minute, hour, day")
        }
        c.algorithm = o["algorithm"].oneOf(Algorithm.self) ?? c.algorithm
        c.burst = o["burst"].int(min: 1)
        if c.burst != nil, c.algorithm != .tokenBucket {
            o.problem(at: "burst", "applies only to algorithm: token_bucket")
        }
        c.store = o["store"].oneOf(Store.self) ?? c.store
        c.faultTolerant = o["fault_tolerant"].bool() ?? c.faultTolerant
        return c
    }
}
