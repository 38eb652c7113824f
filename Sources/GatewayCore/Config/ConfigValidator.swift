import Foundation

/// Checks that need more than one key at a time: uniqueness, cross references, patterns.
/// Type and range errors were already reported while reading.
struct ConfigValidator {
    let collector: ProblemCollector

    static let methodToken = #"^[A-Z][A-Z0-9_-]*$"#

    func validate(_ config: GatewayConfig) {
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
        for (i, service) in config.services.enumerated() {
            validate(service.policies, at: "services[\(i)].policies", in: config)
            for (j, route) in service.routes.enumerated() {
                validate(route.policies, at: "services[\(i)].routes[\(j)].policies", in: config)
            }
        }
        validate(config.llm?.policies ?? [], at: "llm.policies", in: config)
        if let semantic = config.llm?.cache?.semantic, !semantic.embeddingModel.isEmpty,
           config.llm?.models.contains(where: { $0.name == semantic.embeddingModel }) == false {
            collector.add("llm.cache.semantic.embedding_model", "names no model in llm.models (got \"\(semantic.embeddingModel)\")")
        }
        if config.llm?.counters == .redis, config.redis == nil {
            collector.add("llm.counters", "redis needs a top-level redis: redis://host:port")
        }
        for (i, model) in (config.llm?.models ?? []).enumerated() {
            validate(model.policies, at: "llm.models[\(i)].policies", in: config)
        }
        validate(config.mcp?.policies ?? [], at: "mcp.policies", in: config, toolKeys: true)
        if config.services.isEmpty, (config.llm?.models ?? []).isEmpty, (config.mcp?.servers ?? []).isEmpty {
            collector.add("services", "must list at least one service (or llm.models, or mcp.servers)")
        }
        if let llm = config.llm { validate(llm) }
        if let mcp = config.mcp { validate(mcp) }
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

    private func validate(_ llm: LLMConfig) {
        var names: [String: Int] = [:]
        for (i, m) in llm.models.enumerated() where !m.name.isEmpty {
            if let first = names[m.name] {
                collector.add("llm.models[\(i)].name", "duplicates llm.models[\(first)].name \"\(m.name)\"")
            } else {
                names[m.name] = i
            }
        }
        for (i, m) in llm.models.enumerated() {
            for (j, f) in m.fallbacks.enumerated() {
                if f == m.name {
                    collector.add("llm.models[\(i)].fallbacks[\(j)]", "names the model itself")
                } else if names[f] == nil {
                    collector.add("llm.models[\(i)].fallbacks[\(j)]", "names no model in llm.models (got \"\(f)\")")
                }
            }
            if !m.deployments.isEmpty, m.deployments.allSatisfy({ $0.weight == 0 }) {
                collector.add("llm.models[\(i)].deployments", "every weight is 0: nothing would be served")
            }
        }
        if llm.retries.maxDelay < llm.retries.baseDelay {
            collector.add("llm.retries.max_delay", "must be at least base_delay")
        }
    }

    /// Cross checks of one `policies:` list against the rest of the config.
    private func validate(_ policies: [PolicyConfig], at path: String, in config: GatewayConfig, toolKeys: Bool = false) {
        for (k, p) in policies.enumerated() {
            if !toolKeys, case .rateLimit(let r) = p, r.by.contains(.tool) {
                collector.add("\(path)[\(k)].rate_limit.by", "tool applies only in mcp.policies")
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

    private func validate(_ mcp: MCPConfig) {
        if !mcp.path.hasPrefix("/") { collector.add("mcp.path", "must start with \"/\" (got \"\(mcp.path)\")") }
        var names: [String: Int] = [:]
        for (i, s) in mcp.servers.enumerated() where !s.name.isEmpty {
            if let first = names[s.name] {
                collector.add("mcp.servers[\(i)].name", "duplicates mcp.servers[\(first)].name \"\(s.name)\"")
            } else {
                names[s.name] = i
            }
            if s.name.contains(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_")) }) {
                collector.add("mcp.servers[\(i)].name", "may hold only letters, digits, - and _ (got \"\(s.name)\")")
            }
        }
        let separator = mcp.toolNames.separator
        if separator != "_", separator != "-" {
            collector.add("mcp.tool_names.separator", "must be _ or - (got \"\(separator)\")")
        }
        // The names agents see start with the server's prefix (`MCPToolNames.serverPrefix`):
        // two servers with one prefix could be given one name for two tools.
        var prefixes: [String: Int] = [:]
        for (i, s) in mcp.servers.enumerated() where !s.name.isEmpty && names[s.name] == i {
            let prefix = MCPToolNames.serverPrefix(s.name, separator: separator)
            if let first = prefixes[prefix] {
                collector.add("mcp.servers[\(i)].name", "names tools as mcp.servers[\(first)].name does (both become \"\(prefix)\"); rename one")
            } else {
                prefixes[prefix] = i
            }
        }
        var paths: Set<String> = [mcp.path]
        for (i, v) in mcp.virtualServers.enumerated() {
            if !v.path.hasPrefix("/") {
                collector.add("mcp.virtual_servers[\(i)].path", "must start with \"/\" (got \"\(v.path)\")")
            } else if !paths.insert(v.path).inserted {
                collector.add("mcp.virtual_servers[\(i)].path", "is used twice (\"\(v.path)\")")
            }
            if v.tools.isEmpty { collector.add("mcp.virtual_servers[\(i)].tools", "must list at least one pattern") }
        }
        for (i, rule) in mcp.access.enumerated() where rule.allow.isEmpty && rule.deny.isEmpty {
            collector.add("mcp.access[\(i)]", "must have allow or deny patterns")
        }
        for (i, o) in mcp.allowedOrigins.enumerated() where !(o.hasPrefix("http://") || o.hasPrefix("https://")) {
            collector.add("mcp.allowed_origins[\(i)]", "must be an origin like https://app.example (got \"\(o)\")")
        }
    }
}
