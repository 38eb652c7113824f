import Foundation
import GatewayCore
import NIOCore

/// One config's AI gate, compiled: public model names with their deployments resolved against
/// the provider catalog, and the policy chains. Immutable and shared by every event loop.
package final class AISnapshot: Sendable {
    package let models: [String: ModelGroup]
    /// Model names in config order (the order `/v1/models` lists them).
    package let modelNames: [String]
    /// The gate's policies (`llm.policies`), run before the body is read.
    package let chain: PolicyChain
    package let retries: LLMRetryConfig
    /// Token limits and budgets (`llm.limits`, `llm.budgets`).
    package let spendRules: SpendRules
    /// Set when `llm.counters: redis`: limits and budgets shared by replicas.
    let redisCounters: RedisSpendCounters?
    package let maxBodyBytes: Int
    /// `llm.cache`, if caching is on.
    package let cache: LLMCacheConfig?
    let metrics: [Endpoint: RouteMetrics]
    /// Each model's worst case on the day the snapshot was built (recomputed on other days).
    let worstCases: [String: WorstCase]
    let builtDay: Int

    init(config: GatewayConfig, llm: LLMConfig, catalog: ProviderCatalog, core: CoreServices, routing: RoutingState) {
        let environment = core.environment(for: config)
        chain = PolicyChain(llm.policies.enumerated().map { i, p in
            core.policy(p, scope: "llm#\(i)", route: "llm", environment: environment)
        })
        var models: [String: ModelGroup] = [:]
        for m in llm.models {
            let chain = PolicyChain(m.policies.enumerated().map { i, p in
                core.policy(p, scope: "llm/\(m.name)#\(i)", route: "llm/\(m.name)", environment: environment)
            })
            let deployments = m.deployments.compactMap { d -> Deployment? in
                guard let provider = catalog.providers[d.provider] else { return nil }
                let metrics = GenAIMetrics(registry: core.metrics.registry, provider: provider.name, requestModel: m.name, responseModel: d.model)
                return Deployment(config: d, provider: provider, cooldown: llm.cooldown, metrics: metrics, routing: routing)
            }
            models[m.name] = ModelGroup(name: m.name, routing: m.routing, deployments: deployments, fallbacks: m.fallbacks,
                                        fallbackOn: Set(m.fallbackOn), chain: chain)
        }
        self.models = models
        let day = Int(Date().timeIntervalSince1970 / 86_400)
        builtDay = day
        worstCases = models.mapValues { Self.worstCase($0, models: models, day: day) }
        modelNames = llm.models.map(\.name)
        retries = llm.retries
        spendRules = SpendRules(limits: llm.limits, budgets: llm.budgets)
        redisCounters = llm.counters == .redis ? core.redis.map(RedisSpendCounters.init) : nil
        maxBodyBytes = config.server.limits.maxBodyBytes(gate: llm.maxBodyBytes)
        cache = llm.cache
        metrics = Dictionary(uniqueKeysWithValues: Endpoint.allCases.map { ($0, core.metrics.route(service: "llm", route: $0.rawValue)) })
    }
}

extension AISnapshot {
    /// The most a call to `group` could cost per token (input, output, pico-USD) and the largest
    /// output any of its deployments (or its fallbacks') allows: what a reservation assumes.
    func worstCase(_ group: ModelGroup, day: Int) -> WorstCase {
        if day == builtDay, let cached = worstCases[group.name] { return cached }
        return Self.worstCase(group, models: models, day: day)
    }

    static func worstCase(_ group: ModelGroup, models: [String: ModelGroup], day today: Int) -> WorstCase {
        var input: Int64 = 0, output: Int64 = 0, maxOutput = 0
        for g in [group] + group.fallbacks.compactMap({ models[$0] }) {
            for d in g.deployments {
                if let p = d.spec?.price(onDay: today) {
                    input = max(input, p.input.microsPerMillion, p.cacheWrite?.microsPerMillion ?? 0)
                    output = max(output, p.output.microsPerMillion)
                }
                maxOutput = max(maxOutput, d.spec?.maxOutputTokens ?? 0)
            }
        }
        return WorstCase(input: input, output: output, maxOutput: maxOutput > 0 ? maxOutput : 4096)
    }
}

/// The most a call could cost per token (pico-USD) and the largest output it could produce.
struct WorstCase: Sendable {
    var input: Int64
    var output: Int64
    var maxOutput: Int
}

/// A public model name and where it is served.
package final class ModelGroup: Sendable {
    package let name: String
    package let routing: LLMModelConfig.Routing
    package let deployments: [Deployment]
    package let fallbacks: [String]
    package let fallbackOn: Set<LLMModelConfig.FallbackTrigger>
    /// The model's own policies (acl, rate_limit): run once the body names this model.
    package let chain: PolicyChain

    init(name: String, routing: LLMModelConfig.Routing, deployments: [Deployment], fallbacks: [String],
         fallbackOn: Set<LLMModelConfig.FallbackTrigger>, chain: PolicyChain) {
        self.name = name
        self.routing = routing
        self.deployments = deployments
        self.fallbacks = fallbacks
        self.fallbackOn = fallbackOn
        self.chain = chain
    }
}

/// One provider deployment, ready to call.
package final class Deployment: Sendable {
    /// Identifies the deployment's shared routing state across reloads.
    package let id: String
    package let provider: String
    package let style: APIStyle
    /// The provider's model name (sent upstream, priced, reported as served).
    package let model: String
    package let azureDeployment: String?
    package let apiVersion: String?
    package let target: UpstreamURL
    package let poolKey: UpstreamPoolKey
    package let authHeader: String
    /// One header value per configured key, used in turn.
    package let authValues: [String]
    /// The configured keys themselves: scrubbed from any provider text passed back.
    let apiKeys: [String]
    package let weight: Int
    /// The attempt's deadline and the longest gap between reads.
    package let timeout: TimeAmount
    package let stallTimeout: TimeAmount
    package let spec: ModelSpec?
    /// The provider's priced models, for an answer that names another model than `model`.
    let providerModels: [String: ModelSpec]
    package let cooldown: LLMCooldownConfig
    /// Input plus output price per 1M tokens when the config was applied, for `lowest_cost`
    /// (unpriced deployments sort last).
    package let routingPrice: Int64
    let metrics: GenAIMetrics
    /// The deployment's place in the shared routing state.
    let slot: Int
    /// The `Host` header and the path before the operation, worked out once.
    let hostHeader: String
    let basePath: String

    init?(config d: LLMDeploymentConfig, provider: ProviderSpec, cooldown: LLMCooldownConfig, metrics: GenAIMetrics, routing: RoutingState) {
        self.metrics = metrics
        guard let base = d.baseURL ?? provider.baseURL, case .success(let target) = UpstreamURL.parse(base) else { return nil }
        self.provider = provider.name
        style = provider.apiStyle
        model = d.model
        azureDeployment = d.deployment
        apiVersion = d.apiVersion
        self.target = target
        var tls = UpstreamTLS()
        tls.caFile = d.caFile
        poolKey = UpstreamPoolKey(target: target, maxConnections: 512, idleTimeout: .seconds(90), connectTimeout: .seconds(5), tls: tls)
        authHeader = provider.auth.header
        authValues = d.apiKeys.map { provider.auth.value(for: $0) }
        apiKeys = d.apiKeys
        weight = d.weight
        timeout = .nanoseconds(d.timeout.nanoseconds)
        stallTimeout = .nanoseconds(d.stallTimeout.nanoseconds)
        spec = provider.models[d.model]
        providerModels = provider.models
        self.cooldown = cooldown
        let today = Int(Date().timeIntervalSince1970 / 86_400)
        routingPrice = spec?.price(onDay: today).map { $0.input.microsPerMillion + $0.output.microsPerMillion } ?? .max
        id = "\(provider.name)|\(base)|\(d.deployment ?? d.model)"
        slot = routing.slot(for: id, cooldown: cooldown)
        hostHeader = target.hostForHeader
        basePath = target.basePath.hasSuffix("/") ? String(target.basePath.dropLast()) : target.basePath
    }
}

/// The AI gate's endpoints under `/v1`.
package enum Endpoint: String, Sendable, CaseIterable {
    case chatCompletions = "chat_completions"
    case completions
    case embeddings
    case models
    case messages
    case countTokens = "count_tokens"

    /// The endpoint for a path (`/v1/...`), if the gate serves it.
    static func of(path: Substring) -> Endpoint? {
        switch path {
        case "/v1/chat/completions": return .chatCompletions
        case "/v1/completions": return .completions
        case "/v1/embeddings": return .embeddings
        case "/v1/models": return .models
        case "/v1/messages": return .messages
        case "/v1/messages/count_tokens": return .countTokens
        default: return path.hasPrefix("/v1/models/") && path.count > 11 ? .models : nil
        }
    }

    /// The dialect callers speak on this endpoint.
    var dialect: ClientDialect { self == .messages || self == .countTokens ? .anthropic : .openai }
}

/// The API a caller speaks (and gets its answers and errors in).
package enum ClientDialect: Sendable {
    case openai
    case anthropic
}
