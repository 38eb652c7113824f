import GatewayCore
import NIOConcurrencyHelpers
import SemanticCache
import NIOCore
import NIOHTTP1
import NIOPosix

/// The AI gate: OpenAI- and Anthropic-compatible endpoints under `/v1/`, mounted on the API
/// gate's listener. Each config becomes an `AISnapshot`, published to every event loop;
/// routing state (cooldowns, in-flight counts, latency) is shared and outlives reloads.
package final class AIGate: MountableGate {
    private let core: CoreServices
    private let configFile: String?
    package let routing = RoutingState()
    /// Token limits and budgets: shared by every loop, kept across reloads.
    package let spend: SpendCounters
    private let loops = NIOLockedValueBox<[AIGateLoop]>([])
    private let current: NIOLockedValueBox<AISnapshot?>
    /// Where every call's ledger row goes; nil runs without a ledger (in-process tests).
    let ledger: LedgerWriter?
    let alerts: BudgetAlerts
    /// Cached answers (`llm.cache`): kept across reloads unless the cache's settings change.
    private let answers: NIOLockedValueBox<AnswerCache?>
    package let cacheMetrics: CacheMetrics

    /// `catalog` is the one `serve` validated `config` against; later configs load their own.
    /// `answers` is a cache loaded from a snapshot, if any.
    package init(config: GatewayConfig, catalog: ProviderCatalog?, configFile: String?, core: CoreServices, ledger: LedgerWriter? = nil,
                spend: SpendCounters = SpendCounters(), answers: AnswerCache? = nil) {
        self.spend = spend
        self.core = core
        self.cacheMetrics = CacheMetrics(registry: core.metrics.registry)
        self.answers = NIOLockedValueBox(Self.cache(for: config.llm?.cache, keeping: answers))
        self.ledger = ledger
        self.alerts = BudgetAlerts(metrics: core.metrics)
        self.configFile = configFile
        if let llm = config.llm, let catalog {
            current = NIOLockedValueBox(AISnapshot(config: config, llm: llm, catalog: catalog, core: core, routing: routing))
        } else {
            current = NIOLockedValueBox(nil)
        }
    }

    /// The cache for `config`: `current` when its settings still fit, else a new one (or none).
    static func cache(for config: LLMCacheConfig?, keeping current: AnswerCache?) -> AnswerCache? {
        guard let config else { return nil }
        let options = AnswerCache.Options(config)
        if let current, current.options == options { return current }
        return AnswerCache(options)
    }

    /// The cache in use, for the keeper (expiry, snapshot) and the admin purge.
    package var answerCache: AnswerCache? { answers.withLockedValue { $0 } }

    private func cacheContext(_ snapshot: AISnapshot?) -> CacheContext? {
        guard let config = snapshot?.cache, let answers = answerCache else { return nil }
        return CacheContext(answers: answers, config: config, metrics: cacheMetrics)
    }

    package func mount(on loop: LoopContext) -> MountedGate {
        let snapshot = current.withLockedValue { $0 }
        let state = AIGateLoop(loop: loop, snapshot: snapshot, cache: cacheContext(snapshot), routing: routing, ledger: ledger, spend: spend, alerts: alerts)
        loops.withLockedValue { $0.append(state) }
        return state
    }

    /// Loads the provider files and checks the deployments against them (throwing every
    /// problem found), then compiles the snapshot. Changes nothing until published.
    package func prepare(_ config: GatewayConfig) throws -> any PreparedGate {
        guard let llm = config.llm else { return Prepared(gate: self, snapshot: nil, cache: nil) }
        // Checked when the config was read (a reload reads the provider files once), or now.
        let catalog = try DeploymentCheck.catalog(for: llm, in: config, configFile: configFile)
        return Prepared(gate: self, snapshot: AISnapshot(config: config, llm: llm, catalog: catalog, core: core, routing: routing),
                        cache: llm.cache)
    }

    /// A compiled `llm:` section. The cache context is made when it is published: the answer
    /// cache is kept or replaced then.
    private final class Prepared: PreparedGate, @unchecked Sendable {
        // @unchecked: `context` is written by `publish`, which happens before any `install`
        // is submitted to a loop (the submission orders them).
        let gate: AIGate
        let snapshot: AISnapshot?
        let cache: LLMCacheConfig?
        var context: CacheContext?

        init(gate: AIGate, snapshot: AISnapshot?, cache: LLMCacheConfig?) {
            self.gate = gate
            self.snapshot = snapshot
            self.cache = cache
        }

        func publish() {
            gate.current.withLockedValue { $0 = snapshot }
            gate.answers.withLockedValue { $0 = AIGate.cache(for: cache, keeping: $0) }
            context = gate.cacheContext(snapshot)
        }

        func install(on loop: LoopContext) {
            for state in gate.loops.withLockedValue({ $0 }) where state.loop.index == loop.index {
                state.snapshot = snapshot
                state.cache = context
            }
        }
    }
}

/// The AI gate on one event loop.
final class AIGateLoop: MountedGate, @unchecked Sendable {
    // @unchecked: `snapshot` is read and written only on `loop.eventLoop`.
    let loop: LoopContext
    var snapshot: AISnapshot? {
        didSet { routes = [:] }
    }
    var cache: CacheContext? {
        didSet { routes = [:] }
    }
    /// The route of each endpoint under the current snapshot and cache, made on its first call:
    /// a route made per call allocated its closure and retained a dozen references each time.
    private var routes: [Endpoint: MountedRoute] = [:]
    let routing: RoutingState
    let ledger: LedgerWriter?
    let spend: SpendCounters
    let alerts: BudgetAlerts

    init(loop: LoopContext, snapshot: AISnapshot?, cache: CacheContext?, routing: RoutingState, ledger: LedgerWriter?, spend: SpendCounters, alerts: BudgetAlerts) {
        self.cache = cache
        self.ledger = ledger
        self.spend = spend
        self.alerts = alerts
        self.loop = loop
        self.snapshot = snapshot
        self.routing = routing
    }

    func claim(_ head: HTTPRequestHead, path: Substring) -> MountedRoute? {
        guard let snapshot, path.hasPrefix("/v1/") else { return nil }
        guard let endpoint = Endpoint.of(path: path) else {
            // Under /v1/ but not ours: answered here in OpenAI's dialect rather than left to the
            // API routes, so SDK users get an error they can read.
            return MountedRoute(service: "llm", route: "unknown", chain: snapshot.chain, metrics: snapshot.metrics[.models]!,
                                dialect: OpenAIErrorDialect(), maxBodyBytes: snapshot.maxBodyBytes) { request, client in
                UnknownEndpoint(client: client, request: request)
            }
        }
        if let route = routes[endpoint] { return route }
        let routing = self.routing, ledger = self.ledger, spend = Spend(counters: self.spend, redis: snapshot.redisCounters, alerts: self.alerts)
        let cache = self.cache
        let route = MountedRoute(service: "llm", route: endpoint.rawValue, chain: snapshot.chain, metrics: snapshot.metrics[endpoint]!,
                                 dialect: endpoint.dialect.errors, maxBodyBytes: snapshot.maxBodyBytes) { request, client in
            LLMExchange(client: client, snapshot: snapshot, routing: routing, endpoint: endpoint, request: request, ledger: ledger, spend: spend, cache: cache)
        }
        routes[endpoint] = route
        return route
    }
}

/// A `/v1/...` path the gate does not serve: 404 in OpenAI's dialect once the body is read.
final class UnknownEndpoint: RequestExchange {
    unowned let client: ClientResponder
    let request: MountedRequest

    init(client: ClientResponder, request: MountedRequest) {
        self.client = client
        self.request = request
    }

    func requestBody(_ body: ByteBuffer) {}
    func requestEnd(_ trailers: HTTPHeaders?) {
        var p = ProblemDetails(status: .notFound, title: "Unknown endpoint: \(request.head.method.rawValue) \(request.path)", requestID: request.requestID)
        p.code = .unknownURL
        client.respond(p)
    }
    func clientWritabilityChanged(isWritable: Bool) {}
    func clientClosed() {}
}
