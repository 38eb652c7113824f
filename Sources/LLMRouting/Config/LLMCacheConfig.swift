import GatewayCore

/// `llm.cache`: answers kept and replayed, by exact request and by similar question.
///
/// ```yaml
/// cache:
///   exact: { ttl: 1h }
///   semantic:
///     embedding_model: embed-small     # one of llm.models, called through the gate itself
///     threshold: 0.92                  # cosine similarity
///     ttl: 24h
///     max_entries: 1000000
///     scope: [team, model, system_prompt, params]
///     only_when: { temperature_max: 0.3, max_messages: 4 }
///   max_entry_bytes: 1MiB              # a larger answer is not kept
///   max_bytes: 256MiB                  # all answers together; the oldest go first
///   snapshot_dir: /var/lib/triplegate/cache   # kept across restarts
/// ```
package struct LLMCacheConfig: Sendable, Equatable {
    /// What must be equal for two requests to share an answer (`model` always is).
    package enum ScopeField: String, Sendable, CaseIterable { case team, consumer, model, systemPrompt = "system_prompt", params }

    /// How long an exact answer is kept; nil turns the exact cache off (`exact: { enabled: false }`).
    package var exactTTL: Duration? = .seconds(3600)
    package var semantic: Semantic?
    /// Entries at most (exact and semantic together); the oldest go first.
    package var maxEntries: Int = 1_000_000
    /// An answer larger than this is not kept. Default 1 MiB.
    package var maxEntryBytes: Int = 1 << 20
    /// All kept answers together at most; the oldest go first. Default 256 MiB.
    package var maxBytes: Int = 256 << 20
    package var scope: [ScopeField] = [.team, .model, .systemPrompt, .params]
    /// A directory the cache is saved to on a graceful stop and loaded from at start.
    package var snapshotDir: String?

    package struct Semantic: Sendable, Equatable {
        package var embeddingModel: String = ""
        package var threshold: Double = 0.92
        package var ttl: Duration = .seconds(86_400)
        /// Requests with a higher temperature are not looked up by similarity (a request
        /// without one counts as 1.0, the providers' default). Default 0.3.
        package var temperatureMax: Double = 0.3
        /// Conversations longer than this (system messages aside) are not looked up by
        /// similarity. Default 4.
        package var maxMessages: Int = 4
        /// The embedding call's time limit; past it the request goes on uncached. Default 2 s.
        package var timeout: Duration = .seconds(2)
        /// `int8` keeps a quarter of the vector memory. Default float32.
        package var int8 = false

        package init() {}
    }

    package init() {}
}

extension LLMCacheConfig {
    init(reading o: ConfigObject) {
        self.init()
        if let e = o["exact"].object({ e -> Duration? in
            let ttl = e["ttl"].duration() ?? .seconds(3600)
            return e["enabled"].bool() == false ? nil : ttl
        }) { exactTTL = e }
        if let (s, entries, fields) = o["semantic"].object({ s -> (Semantic, Int?, [ScopeField]?) in
            (Semantic(reading: s), s["max_entries"].int(min: 1, max: 100_000_000), s["scope"].list { $0.oneOf(ScopeField.self) })
        }) {
            semantic = s
            maxEntries = entries ?? maxEntries
            if let fields { scope = fields.contains(.model) ? fields : fields + [.model] }
        }
        maxEntryBytes = o["max_entry_bytes"].byteSize() ?? maxEntryBytes
        maxBytes = o["max_bytes"].byteSize() ?? maxBytes
        if maxEntryBytes > maxBytes { o.problem(at: "max_entry_bytes", "must not exceed max_bytes") }
        snapshotDir = o["snapshot_dir"].string()
    }
}

extension LLMCacheConfig.Semantic {
    init(reading o: ConfigObject) {
        self.init()
        embeddingModel = o["embedding_model"].requiredString() ?? ""
        threshold = o["threshold"].double(min: 0, max: 1) ?? threshold
        ttl = o["ttl"].duration() ?? ttl
        if let w = o["only_when"].object({ w -> (Double?, Int?) in
            (w["temperature_max"].double(min: 0, max: 2), w["max_messages"].int(min: 1, max: 1000))
        }) {
            temperatureMax = w.0 ?? temperatureMax
            maxMessages = w.1 ?? maxMessages
        }
        timeout = o["timeout"].duration() ?? timeout
        switch o["storage"].string() ?? "float32" {
        case "float32": int8 = false
        case "int8": int8 = true
        case let other: o.problem(at: "storage", "must be float32 or int8 (got \"\(other)\")")
        }
    }
}
