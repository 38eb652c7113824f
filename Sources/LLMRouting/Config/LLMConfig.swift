import GatewayCore

/// `llm:`: the AI gate's public model names and the provider deployments behind them.
/// Read here with the rest of the config (so every problem has its path); checked against the
/// provider catalog by the AI gate when it is built.
package struct LLMConfig: Sendable {
    /// A folder of provider files, read after the shipped ones (built into the binary): a file
    /// adds a provider or replaces the shipped one of its name. Left out: `providers` next to
    /// the config file if there is one, else the shipped providers alone.
    package var providersDir: String?
    package static let defaultProvidersDir = "providers"
    package var models: [LLMModelConfig] = []
    /// Policies for every AI gate request (key_auth, jwt, rate_limit, ...), before the model's own.
    /// Default none: declare an authenticate policy, or the endpoints are open.
    package var policies: [PolicyConfig] = []
    package var retries = LLMRetryConfig()
    package var cooldown = LLMCooldownConfig()
    /// Token and request limits, counted before and settled after each call.
    package var limits: [LLMTokenLimit] = []
    /// USD budgets with soft alerts and hard stops.
    package var budgets: [LLMBudget] = []
    /// Where limit and budget counters live: `local` (this process; rebuilt from the ledger at
    /// start) or `redis` (the top-level `redis:`, shared by replicas). Default local.
    package var counters: Counters = .local
    package enum Counters: String, Sendable, CaseIterable { case local, redis }
    /// Write one ledger row per call into the store. Default true: chargeback reports, and
    /// budgets that survive a restart, need it.
    package var ledger = true
    /// Largest request body. Default 32MiB: the gate reads whole bodies to route and price
    /// them, and a long-context prompt with images fits in it; larger bodies get 413.
    package var maxBodyBytes: Int = 32 * 1024 * 1024
    /// Exact and semantic answer caching. Default off.
    package var cache: LLMCacheConfig?

    package init() {}
}

/// One public model name (what clients put in `model`) and where it is served.
package struct LLMModelConfig: Sendable {
    package enum Routing: String, Sendable, CaseIterable {
        case weighted
        case leastBusy = "least_busy"
        case lowestLatency = "lowest_latency"
        case lowestCost = "lowest_cost"
    }

    /// What sends a request on to the `fallbacks`.
    package enum FallbackTrigger: String, Sendable, CaseIterable {
        /// Every deployment failed (after retries) or is cooling down.
        case errors
        /// The prompt does not fit this model's context window.
        case contextWindow = "context_window"
        /// The provider refused the content.
        case contentPolicy = "content_policy"
    }

    package var name: String = ""
    package var deployments: [LLMDeploymentConfig] = []
    package var routing: Routing = .weighted
    /// Other model names tried in order when this one cannot answer.
    package var fallbacks: [String] = []
    package var fallbackOn: [FallbackTrigger] = FallbackTrigger.allCases
    /// Policies (acl, rate_limit, ...) for this model, after the gate's own.
    package var policies: [PolicyConfig] = []

    package init() {}
}

/// One place a model is served: a provider, its model (or Azure deployment), keys.
package struct LLMDeploymentConfig: Sendable {
    /// A provider file's `name`.
    package var provider: String = ""
    /// The provider's model name (and the price list used for this deployment).
    package var model: String = ""
    /// Azure OpenAI: the deployment name in the URL.
    package var deployment: String?
    /// Overrides the provider file's base URL (Azure resources, self-hosted servers).
    package var baseURL: String?
    /// Azure OpenAI's `api-version`.
    package var apiVersion: String?
    /// One key or several, used in turn.
    package var apiKeys: [String] = []
    package var weight: Int = 1
    /// Trust anchors for an https provider; default the system's.
    package var caFile: String?
    /// The longest one attempt may take, answer streamed to its end included: a deadline from
    /// the start, however steadily bytes come. Default 600 s (the OpenAI and Anthropic SDKs' own).
    package var timeout: Duration = .seconds(600)
    /// The longest gap between two reads from the provider, the wait for the response head
    /// (time to first token when streaming) included. Default 60 s.
    package var stallTimeout: Duration = .seconds(60)

    package init() {}
}

package struct LLMRetryConfig: Sendable {
    package enum Backoff: String, Sendable, CaseIterable { case exponential, constant }
    package enum Condition: Sendable, Hashable {
        case status(Int)
        case timeout
        case connect
    }

    /// Attempts after the first, across the model's deployments. Default 2.
    package var attempts: Int = 2
    package var backoff: Backoff = .exponential
    /// The first wait; `exponential` doubles it each time (with full jitter). Default 200 ms.
    package var baseDelay: Duration = .milliseconds(200)
    /// Waits never exceed this, `retry-after` included (a longer one fails over instead). Default 10 s.
    package var maxDelay: Duration = .seconds(10)
    package var on: Set<Condition> = [.status(429), .status(500), .status(502), .status(503), .status(504), .status(529), .timeout, .connect]

    package init() {}
}

package struct LLMCooldownConfig: Sendable {
    /// Consecutive failures that take a deployment out of rotation. Default 3.
    package var failures: Int = 3
    /// How long it stays out. Default 30 s.
    package var duration: Duration = .seconds(30)

    package init() {}
}

extension LLMConfig {
    package init(reading o: ConfigObject) {
        self.init()
        providersDir = o["providers_dir"].string()
        models = o["models"].list { $0.object { LLMModelConfig(reading: $0) } } ?? []
        policies = PolicyConfig.readList(o["policies"])
        limits = o["limits"].list { $0.object { LLMTokenLimit(reading: $0) } } ?? []
        budgets = o["budgets"].list { $0.object { LLMBudget(reading: $0) } } ?? []
        ledger = o["ledger"].bool() ?? ledger
        maxBodyBytes = o["max_body_bytes"].byteSize() ?? maxBodyBytes
        counters = o["counters"].oneOf(Counters.self) ?? counters
        cache = o["cache"].object { LLMCacheConfig(reading: $0) }
        if let r = o["retries"].object({ LLMRetryConfig(reading: $0) }) { retries = r }
        if let c = o["cooldown"].object({ c -> LLMCooldownConfig in
            var cooldown = LLMCooldownConfig()
            cooldown.failures = c["failures"].int(min: 1, max: 1000) ?? cooldown.failures
            cooldown.duration = c["for"].duration() ?? cooldown.duration
            return cooldown
        }) { cooldown = c }
    }
}

extension LLMModelConfig {
    init(reading o: ConfigObject) {
        self.init()
        name = o["name"].requiredString() ?? ""
        deployments = o["deployments"].list { $0.object { LLMDeploymentConfig(reading: $0) } } ?? []
        if deployments.isEmpty, !o.has("deployments") { o.problem(at: "deployments", "must list at least one deployment") }
        routing = o["routing"].oneOf(Routing.self) ?? routing
        fallbacks = o["fallbacks"].list { $0.string() } ?? []
        fallbackOn = o["fallback_on"].list { $0.oneOf(FallbackTrigger.self) } ?? fallbackOn
        policies = PolicyConfig.readList(o["policies"])
    }
}

extension LLMDeploymentConfig {
    init(reading o: ConfigObject) {
        self.init()
        provider = o["provider"].requiredString() ?? ""
        deployment = o["deployment"].string()
        model = o["model"].string() ?? deployment ?? ""
        if !o.hasAny(["model", "deployment"]) { o.problem(at: "model", "is required") }
        baseURL = o["base_url"].string()
        if let baseURL, case .failure(let e) = UpstreamURL.parse(baseURL) { o.problem(at: "base_url", "\(e)") }
        apiVersion = o["api_version"].string()
        if let one = o["api_key"].string() { apiKeys = [one] }
        if let many = o["api_keys"].list({ $0.string() }) { apiKeys += many }
        if o.has("api_key"), o.has("api_keys") { o.problem(at: "api_keys", "give api_key or api_keys, not both") }
        for (i, k) in apiKeys.enumerated() where k.isEmpty { o.problem(at: o.has("api_keys") ? "api_keys[\(i)]" : "api_key", "is empty (is its environment variable set?)") }
        weight = o["weight"].int(min: 0, max: 1_000_000) ?? weight
        caFile = o["ca_file"].string()
        timeout = o["timeout"].duration() ?? timeout
        stallTimeout = o["stall_timeout"].duration() ?? stallTimeout
    }
}

extension LLMRetryConfig {
    init(reading o: ConfigObject) {
        self.init()
        attempts = o["attempts"].int(min: 0, max: 10) ?? attempts
        backoff = o["backoff"].oneOf(Backoff.self) ?? backoff
        baseDelay = o["base_delay"].duration() ?? baseDelay
        maxDelay = o["max_delay"].duration() ?? maxDelay
        let onReader = o["on"]
        if let words = onReader.list({ $0.string() }) {
            var set = Set<Condition>()
            for (i, w) in words.enumerated() {
                switch w {
                case "timeout": set.insert(.timeout)
                case "connect": set.insert(.connect)
                default:
                    if let code = Int(w), (400...599).contains(code) {
                        set.insert(.status(code))
                    } else {
                        onReader.problem(at: "[\(i)]", "must be a 4xx/5xx status, timeout or connect (got \"\(w)\")")
                    }
                }
            }
            on = set
        }
    }
}
