import GatewayCore

/// The AI gate's section of the config file, `llm:`: read, checked and printed here, in the gate
/// that serves it; the core only hosts it.
extension LLMConfig: ConfigSection {
    package static let key = "llm"
    package static let servesWhat = "llm.models"
    package static let accessLogFields = [GenAIRecord.accessLogField]

    package var servesSomething: Bool { !models.isEmpty }

    package var policyLists: [ConfigPolicyList] {
        [ConfigPolicyList(path: "llm.policies", policies: policies)]
            + models.enumerated().map { ConfigPolicyList(path: "llm.models[\($0)].policies", policies: $1.policies) }
    }

    package func validate(in config: GatewayConfig, problems: ProblemCollector) {
        if let semantic = cache?.semantic, !semantic.embeddingModel.isEmpty, !models.contains(where: { $0.name == semantic.embeddingModel }) {
            problems.add("llm.cache.semantic.embedding_model", "names no model in llm.models (got \"\(semantic.embeddingModel)\")")
        }
        if counters == .redis, config.redis == nil {
            problems.add("llm.counters", "redis needs a top-level redis: redis://host:port")
        }
        var names: [String: Int] = [:]
        for (i, m) in models.enumerated() where !m.name.isEmpty {
            if let first = names[m.name] {
                problems.add("llm.models[\(i)].name", "duplicates llm.models[\(first)].name \"\(m.name)\"")
            } else {
                names[m.name] = i
            }
        }
        for (i, m) in models.enumerated() {
            for (j, f) in m.fallbacks.enumerated() {
                if f == m.name {
                    problems.add("llm.models[\(i)].fallbacks[\(j)]", "names the model itself")
                } else if names[f] == nil {
                    problems.add("llm.models[\(i)].fallbacks[\(j)]", "names no model in llm.models (got \"\(f)\")")
                }
            }
            if !m.deployments.isEmpty, m.deployments.allSatisfy({ $0.weight == 0 }) {
                problems.add("llm.models[\(i)].deployments", "every weight is 0: nothing would be served")
            }
        }
        if retries.maxDelay < retries.baseDelay {
            problems.add("llm.retries.max_delay", "must be at least base_delay")
        }
    }
}

extension GatewayConfig {
    /// The AI gate's models and provider deployments, if the file has them.
    package var llm: LLMConfig? {
        get { self[section: LLMConfig.self] }
        set { self[section: LLMConfig.self] = newValue }
    }
}

extension LLMConfig {
    /// Provider API keys are redacted.
    package var effectiveJSON: JSONValue {
        .object([
            ("providers_dir", .string(providersDir ?? LLMConfig.defaultProvidersDir)),
            ("models", .array(models.map { m in
                .object([
                    ("name", .string(m.name)), ("routing", .string(m.routing.rawValue)),
                    ("fallbacks", .array(m.fallbacks.map { .string($0) })),
                    ("fallback_on", .array(m.fallbackOn.map { .string($0.rawValue) })),
                    ("deployments", .array(m.deployments.map { d in
                        .object([
                            ("provider", .string(d.provider)), ("model", .string(d.model)),
                            ("deployment", d.deployment.map { .string($0) } ?? .null), ("base_url", d.baseURL.map { .string(ConfigRedaction.url($0)) } ?? .null),
                            ("api_version", d.apiVersion.map { .string($0) } ?? .null),
                            ("api_keys", .array(d.apiKeys.map { _ in .string("[redacted]") })),
                            ("weight", .int(d.weight)), ("timeout", .string(ConfigDuration.format(d.timeout))),
                            ("stall_timeout", .string(ConfigDuration.format(d.stallTimeout))),
                        ])
                    })),
                    ("policies", .array(m.policies.map(\.effectiveJSON))),
                ])
            })),
            ("retries", .object([
                ("attempts", .int(retries.attempts)), ("backoff", .string(retries.backoff.rawValue)),
                ("base_delay", .string(ConfigDuration.format(retries.baseDelay))), ("max_delay", .string(ConfigDuration.format(retries.maxDelay))),
                ("on", .array(retries.on.map { c -> String in
                    switch c {
                    case .status(let code): return String(code)
                    case .timeout: return "timeout"
                    case .connect: return "connect"
                    }
                }.sorted().map { .string($0) })),
            ])),
            ("cooldown", .object([("failures", .int(cooldown.failures)), ("for", .string(ConfigDuration.format(cooldown.duration)))])),
            ("limits", .array(limits.map { l in
                .object([("by", .string(l.by.rawValue)), ("model", .string(l.model)),
                         ("tokens_per_minute", l.tokensPerMinute.map { .int($0) } ?? .null), ("requests_per_minute", l.requestsPerMinute.map { .int($0) } ?? .null),
                         ("tokens_per_day", l.tokensPerDay.map { .int($0) } ?? .null), ("requests_per_day", l.requestsPerDay.map { .int($0) } ?? .null)])
            })),
            ("budgets", .array(budgets.map { b in
                .object([(b.subject.rawValue, .string(b.name)), ("usd", .string(b.usdText)), ("period", .string(b.period.rawValue)),
                         ("soft_alert_at", b.softAlertAt.map { .double($0) } ?? .null), ("webhook", b.webhook.map { .string(ConfigRedaction.wholeURL($0)) } ?? .null)])
            })),
            ("counters", .string(counters.rawValue)),
            ("ledger", .bool(ledger)),
            ("max_body_bytes", .int(maxBodyBytes)),
            ("cache", cache.map { c in
                .object([
                    ("exact", c.exactTTL.map { .object([("ttl", .string(ConfigDuration.format($0)))]) } ?? .object([("enabled", .bool(false))])),
                    ("semantic", c.semantic.map { s in
                        .object([("embedding_model", .string(s.embeddingModel)), ("threshold", .double(s.threshold)), ("ttl", .string(ConfigDuration.format(s.ttl))),
                                 ("max_entries", .int(c.maxEntries)), ("scope", .array(c.scope.map { .string($0.rawValue) })),
                                 ("only_when", .object([("temperature_max", .double(s.temperatureMax)), ("max_messages", .int(s.maxMessages))])),
                                 ("timeout", .string(ConfigDuration.format(s.timeout))), ("storage", .string(s.int8 ? "int8" : "float32"))])
                    } ?? .null),
                    ("max_entry_bytes", .int(c.maxEntryBytes)), ("max_bytes", .int(c.maxBytes)),
                    ("snapshot_dir", c.snapshotDir.map { .string($0) } ?? .null),
                ])
            } ?? .null),
        ])
    }
}

extension LLMBudget {
    /// The ceiling as a decimal with six places (`12.500000`), as it was read.
    var usdText: String {
        let fraction = String(microUSD % 1_000_000)
        return String(microUSD / 1_000_000) + "." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }
}
