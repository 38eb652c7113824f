import GatewayCore
import NIOCore

/// One config's API gate, compiled: immutable and shared by every event loop, apart from the
/// per-loop balancer and retry-budget state each service carries (one slot per loop, each slot
/// touched only by its own loop).
package final class APISnapshot: Sendable {
    package let routes: RouteTable
    package let services: [CompiledService]
    /// The policy chain of each route, by the route's position in the config.
    package let chains: [PolicyChain]
    /// Each route's instruments, by the route's position; `unrouted` for requests no route took.
    package let routeMetrics: [RouteMetrics]
    package let unrouted: RouteMetrics
    package let limits: ServerLimits
    /// What the listener does with encoded slashes in paths.
    package let escapedSlashes: EscapedSlashes
    /// Increases with every applied config.
    package let generation: Int

    package init(config: GatewayConfig, loopCount: Int, generation: Int, core: CoreServices) {
        let routes = RouteTable(services: config.services, serverMaxBody: config.server.limits.maxBodyBytes)
        self.routes = routes
        self.services = config.services.map { CompiledService(config: $0, loopCount: loopCount) }
        let environment = core.environment(for: config)
        self.chains = routes.routes.map { route in
            let service = config.services[route.serviceIndex]
            let routeConfig = service.routes[route.indexInService]
            let scope = "\(service.name)/\(route.name)"
            let all = (service.policies + routeConfig.policies).enumerated().map { i, p in
                core.policy(p, scope: "\(scope)#\(i)", route: route.name, environment: environment)
            }
            return PolicyChain(all)
        }
        self.routeMetrics = routes.routes.map { core.metrics.route(service: config.services[$0.serviceIndex].name, route: $0.name) }
        self.unrouted = core.metrics.route(service: "-", route: "-")
        self.limits = config.server.limits
        self.escapedSlashes = config.server.escapedSlashes
        self.generation = generation
    }
}

/// A service ready to serve: parsed targets, pool keys, policies.
package final class CompiledService: Sendable {
    package let name: String
    package let targets: [UpstreamURL]
    package let poolKeys: [UpstreamPoolKey]
    package let upstream: UpstreamConfig
    package let retryPolicy: RetryPolicy
    let loopStates: [ServiceLoopState]

    init(config: ServiceConfig, loopCount: Int) {
        self.name = config.name
        // The config was validated: every URL parses.
        self.targets = config.upstream.targets.compactMap { try? UpstreamURL.parse($0.url).get() }
        let connect = TimeAmount.nanoseconds(config.upstream.timeouts.connect.nanoseconds)
        self.poolKeys = targets.map {
            UpstreamPoolKey(
                target: $0, maxConnections: config.upstream.pool.maxConnections, idleTimeout: config.upstream.pool.idleTimeout,
                connectTimeout: connect, protocol: config.upstream.protocol, tls: config.upstream.tls)
        }
        self.upstream = config.upstream
        self.retryPolicy = RetryPolicy(config: config.upstream.retries)
        let weights = config.upstream.targets.map(\.weight)
        self.loopStates = (0..<loopCount).map { _ in
            ServiceLoopState(
                balancer: TargetBalancer(algorithm: config.upstream.balance, weights: weights),
                budget: RetryBudget(ratio: config.upstream.retries.budgetRatio, minPerSecond: config.upstream.retries.budgetMinPerSecond))
        }
    }
}

/// A service's mutable state on one event loop.
final class ServiceLoopState: @unchecked Sendable {
    // @unchecked: only the owning loop reads or writes it (the slot index is the loop's index).
    let balancer: TargetBalancer
    var budget: RetryBudget

    init(balancer: TargetBalancer, budget: RetryBudget) {
        self.balancer = balancer
        self.budget = budget
    }
}
