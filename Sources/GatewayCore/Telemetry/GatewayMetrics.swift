import Prometheus

/// The gateway's Prometheus instruments. Labels are bounded by the config (route and service
/// names, status classes, fixed reasons): never raw paths or consumer ids. Instruments are made
/// when a config snapshot is built, not per request; the registry hands back the same instrument
/// for the same name and labels, so counts carry across reloads.
package final class GatewayMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    package let activeConnections: Gauge
    /// Connections closed on accept because the listener was at `max_connections`.
    package let refusedConnections: Counter
    let reloadsApplied: Counter
    let reloadsRefused: Counter
    let authMissing: Counter
    let authInvalid: Counter
    let authForbidden: Counter
    /// Per-route histograms, outside `registry` (RouteMetrics.swift says why).
    let routes = RouteMetricsFamily()
    let limiterDecisions = LimiterDecisionsFamily()

    /// Request-duration buckets (seconds): sub-millisecond to a minute.
    package static let buckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    package init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        activeConnections = registry.makeGauge(descriptor: .init(metricName: "triplegate_active_connections", unitName: "", helpText: "Open client connections on the data plane"), labels: [])
        refusedConnections = registry.makeCounter(descriptor: .init(metricName: "triplegate_connections_refused", unitName: "total",
                                                                    helpText: "Client connections closed on accept: the listener was at max_connections"), labels: [])
        func reloads(_ result: String) -> Counter {
            registry.makeCounter(descriptor: .init(metricName: "triplegate_config_reloads", unitName: "total", helpText: "Config reloads by result"), labels: [("result", result)])
        }
        reloadsApplied = reloads("applied")
        reloadsRefused = reloads("refused")
        func auth(_ reason: String) -> Counter {
            registry.makeCounter(descriptor: .init(metricName: "triplegate_auth_failures", unitName: "total", helpText: "Refused authentications and authorizations by reason"),
                                 labels: [("reason", reason)])
        }
        authMissing = auth("missing_credentials")
        authInvalid = auth("invalid_credentials")
        authForbidden = auth("forbidden")
    }

    /// The auth-failure counter for one reason (`jwt_expired`, `introspection_inactive`, ...).
    /// Reasons come from fixed lists in the policies, never from request data.
    package func authFailure(_ reason: String) -> Counter {
        registry.makeCounter(descriptor: .init(metricName: "triplegate_auth_failures", unitName: "total", helpText: "Refused authentications and authorizations by reason"),
                             labels: [("reason", reason)])
    }

    package func reloaded(applied: Bool) { (applied ? reloadsApplied : reloadsRefused).increment() }

    /// The instruments of one route.
    package func route(service: String, route: String) -> RouteMetrics {
        routes.metrics(service: service, route: route)
    }

    /// Limiter decision counters for a route.
    package func limiter(route: String) -> LimiterDecisions { limiterDecisions.decisions(route: route) }

    /// The text exposition format for `/metrics`.
    package func exposition() -> [UInt8] {
        var text = registry.emitToBuffer()
        routes.emit(into: &text)
        limiterDecisions.emit(into: &text)
        return text
    }
}
