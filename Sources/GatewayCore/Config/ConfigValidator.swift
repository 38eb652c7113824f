import Foundation

/// Checks that need more than one key at a time: uniqueness, cross references, patterns.
/// Type and range errors were already reported while reading.
struct ConfigValidator {
    let collector: ProblemCollector

    static let methodToken = #"^[A-Z][A-Z0-9_-]*$"#

    func validate(_ config: GatewayConfig, sections: [any ConfigSection.Type] = []) {
        if HostPort.parse(config.server.listen) == nil {
            collector.add("server.listen", "must be host:port (got \"\(config.server.listen)\")")
        }
        if config.admin.enabled, HostPort.parse(config.admin.listen) == nil {
            collector.add("admin.listen", "must be host:port (got \"\(config.admin.listen)\")")
        }
        if let tls = config.server.tls {
            for (key, file) in [("certificate", tls.certificate), ("key", tls.key), ("client_ca_file", tls.clientCAFile ?? tls.key)] where !FileManager.default.isReadableFile(atPath: file) {
                collector.add("server.tls.\(key)", "cannot read file \"\(file)\"")
            }
        }
        if config.reload.interval < .milliseconds(100) {
            collector.add("reload.interval", "must be at least 100ms")
        }
        var consumerNames: [String: Int] = [:]
        for (i, c) in config.consumers.enumerated() {
            if let first = consumerNames[c.name] {
                collector.add("consumers[\(i)].name", "duplicates consumers[\(first)].name \"\(c.name)\"")
            } else {
                consumerNames[c.name] = i
            }
        }
        if config.storeLocation == nil {
            collector.add("store", "must be sqlite:PATH or postgres://user[:password]@host[:port][/database][?sslmode=disable|prefer|require|verify-full] (got \"\(config.store)\")")
        }
        if let redis = config.redis, RedisURL(redis) == nil {
            // The value is not echoed: it may hold a password.
            collector.add("redis", "must be redis://[user[:password]@]host[:port][/db] or rediss://... (TLS)")
        }
        let resourceLists = sections.flatMap { $0.resourcePolicyLists }
        for (i, service) in config.services.enumerated() {
            validate(service.policies, at: "services[\(i)].policies", in: config, resourceLists: resourceLists)
            for (j, route) in service.routes.enumerated() {
                validate(route.policies, at: "services[\(i)].routes[\(j)].policies", in: config, resourceLists: resourceLists)
            }
        }
        for kind in sections {
            guard let section = config.sections[kind.key] else { continue }
            for list in section.policyLists {
                validate(list.policies, at: list.path, in: config, resourceKeys: list.resourceKeys, resourceLists: resourceLists)
            }
        }
        if config.services.isEmpty, !config.sections.values.contains(where: \.servesSomething) {
            let others = sections.map { ", or \($0.servesWhat)" }.joined()
            collector.add("services", "must list at least one service\(others.isEmpty ? "" : " (" + others.dropFirst(2) + ")")")
        }
        for kind in sections {
            config.sections[kind.key]?.validate(in: config, problems: collector)
        }
        var serviceNames: [String: Int] = [:]
        var routeNames: [String: String] = [:]
        for (i, service) in config.services.enumerated() {
            let sp = "services[\(i)]"
            if !service.name.isEmpty {
                if let first = serviceNames[service.name] {
                    collector.add("\(sp).name", "duplicates services[\(first)].name \"\(service.name)\"")
                } else {
                    serviceNames[service.name] = i
                }
            }
            validate(service.upstream, at: "\(sp).upstream")
            if service.routes.isEmpty {
                collector.add("\(sp).routes", "must list at least one route")
            }
            for (j, route) in service.routes.enumerated() {
                let rp = "\(sp).routes[\(j)]"
                validate(route, at: rp)
                if !route.name.isEmpty {
                    if let first = routeNames[route.name] {
                        collector.add("\(rp).name", "duplicates \(first).name \"\(route.name)\"")
                    } else {
                        routeNames[route.name] = rp
                    }
                }
            }
        }
    }

    private func validate(_ upstream: UpstreamConfig, at path: String) {
        for (k, target) in upstream.targets.enumerated() {
            if case .failure(let e) = UpstreamURL.parse(target.url) {
                collector.add("\(path).targets[\(k)].url", "\(e.reason) (got \"\(target.url)\")")
            }
        }
        let schemes = Set(upstream.targets.compactMap { try? UpstreamURL.parse($0.url).get().scheme })
        if schemes.contains(.builtin), schemes.count > 1 {
            collector.add("\(path).targets", "cannot mix builtin: targets with network targets")
        }
        if upstream.protocol == .h2, schemes.contains(.builtin) {
            collector.add("\(path).protocol", "h2 does not apply to builtin: targets")
        }
        if let ca = upstream.tls.caFile, !FileManager.default.isReadableFile(atPath: ca) {
            collector.add("\(path).tls.ca_file", "cannot read file \"\(ca)\"")
        }
        if upstream.balance == .hash, upstream.hashOn == nil {
            collector.add("\(path).hash_on", "is required when balance is hash")
        }
        if upstream.retries.backoffMax < upstream.retries.backoffBase {
            collector.add("\(path).retries.backoff.max", "must be >= backoff.base")
        }
        for (name, d) in [("connect", upstream.timeouts.connect), ("per_try", upstream.timeouts.perTry), ("total", upstream.timeouts.total), ("read", upstream.timeouts.read)] where d <= .zero {
            collector.add("\(path).timeouts.\(name)", "must be more than 0")
        }
    }

    private func validate(_ route: RouteConfig, at path: String) {
        for (k, p) in route.paths.enumerated() {
            let pp = "\(path).paths[\(k)]"
            if p.hasPrefix("~") {
                if (try? NSRegularExpression(pattern: String(p.dropFirst()))) == nil {
                    collector.add(pp, "is not a valid regular expression")
                }
            } else {
                let literal = p.hasPrefix("=") ? String(p.dropFirst()) : p
                if !literal.hasPrefix("/") {
                    collector.add(pp, "must start with \"/\" (or \"=/\" for exact, \"~\" for a regex) (got \"\(p)\")")
                }
            }
        }
        for (k, m) in route.methods.enumerated() where m.range(of: Self.methodToken, options: .regularExpression) == nil {
            collector.add("\(path).methods[\(k)]", "must be an upper-case HTTP method (got \"\(m)\")")
        }
        for (k, h) in route.hosts.enumerated() {
            let body = h.hasPrefix("*.") ? String(h.dropFirst(2)) : h
            if body.isEmpty || body.contains("*") || body.contains("/") || body.contains(" ") {
                collector.add("\(path).hosts[\(k)]", "must be a host name or *.domain (got \"\(h)\")")
            }
        }
        for (label, conditions) in [("headers", route.headers), ("query", route.query)] {
            for c in conditions {
                if c.values.isEmpty { collector.add("\(path).\(label).\(c.name)", "must list at least one value") }
                for (k, v) in c.values.enumerated() where v.hasPrefix("~") {
                    if (try? NSRegularExpression(pattern: String(v.dropFirst()))) == nil {
                        collector.add("\(path).\(label).\(c.name)[\(k)]", "is not a valid regular expression")
                    }
                }
            }
        }
        if let p = route.rewritePrefix, !p.hasPrefix("/") {
            collector.add("\(path).rewrite_prefix", "must start with \"/\" (got \"\(p)\")")
        }
        if route.stripPath, route.rewritePrefix != nil {
            collector.add("\(path).rewrite_prefix", "cannot be combined with strip_path (strip_path is rewrite_prefix: /)")
        }
    }

    /// Cross checks of one `policies:` list against the rest of the config.
    private func validate(_ policies: [PolicyConfig], at path: String, in config: GatewayConfig, resourceKeys: Bool = false,
                          resourceLists: [String] = []) {
        for (k, p) in policies.enumerated() {
            if !resourceKeys, case .rateLimit(let r) = p, r.by.contains(.resource) {
                let lists = resourceLists.isEmpty ? "no policies list of this gateway" : resourceLists.joined(separator: ", ")
                collector.add("\(path)[\(k)].rate_limit.by", "\(RateLimitConfig.resourceWord) applies only in \(lists)")
            }
            switch p {
            case .rateLimit(let r) where r.store == .redis && config.redis == nil:
                collector.add("\(path)[\(k)].rate_limit.store", "redis needs a top-level redis: redis://host:port")
            case .jwt where config.auth.jwt == nil:
                collector.add("\(path)[\(k)].jwt", "needs a top-level auth.jwt (issuer, jwks_url or keys)")
            case .oauth2Introspection where config.auth.introspection == nil:
                collector.add("\(path)[\(k)].oauth2_introspection", "needs a top-level auth.introspection (url, client_id, client_secret)")
            case .mtlsAuth where (config.server.tls?.clientAuth ?? TLSFiles.ClientAuth.none) == TLSFiles.ClientAuth.none:
                collector.add("\(path)[\(k)].mtls_auth", "needs server.tls with client_ca_file (client certificates are asked for only then)")
            default:
                break
            }
        }
    }
}
