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

/// OpenTelemetry's generative-AI client metrics for one public model served by one deployment
/// (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`). Labels come from the
/// config (provider, the public model, the deployment's model), never from responses.
package final class GenAIMetrics: Sendable {
    let inputTokens: ValueHistogram
    let outputTokens: ValueHistogram
    let duration: DurationHistogram
    let timeToFirstToken: DurationHistogram
    /// Answers naming another model than the deployment's (`triplegate_llm_served_model_mismatches_total`).
    package let servedModelMismatches: Counter

    static let tokenBuckets: [Double] = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304]

    package init(registry: PrometheusCollectorRegistry, provider: String, requestModel: String, responseModel: String) {
        let labels = [("gen_ai_system", provider), ("gen_ai_request_model", requestModel), ("gen_ai_response_model", responseModel)]
        let tokens = MetricNameDescriptor(metricName: "gen_ai_client_token_usage", unitName: "", helpText: "Tokens used per call, by type")
        inputTokens = registry.makeValueHistogram(descriptor: tokens, labels: labels + [("gen_ai_token_type", "input")], buckets: Self.tokenBuckets)
        outputTokens = registry.makeValueHistogram(descriptor: tokens, labels: labels + [("gen_ai_token_type", "output")], buckets: Self.tokenBuckets)
        duration = registry.makeDurationHistogram(
            descriptor: .init(metricName: "gen_ai_client_operation_duration", unitName: "seconds", helpText: "Time of a successful provider call"),
            labels: labels, buckets: GatewayMetrics.buckets)
        timeToFirstToken = registry.makeDurationHistogram(
            descriptor: .init(metricName: "gen_ai_server_time_to_first_token", unitName: "seconds", helpText: "Time to the provider's first response bytes"),
            labels: labels, buckets: GatewayMetrics.buckets)
        servedModelMismatches = registry.makeCounter(
            descriptor: .init(metricName: "triplegate_llm_served_model_mismatches", unitName: "total",
                              helpText: "Provider answers naming another model than the deployment's (billed as served when priced)"),
            labels: labels)
    }

    /// Records a call that answered.
    package func record(_ r: GenAIRecord, durationNanos: Int64, firstByteNanos: Int64?) {
        if let n = r.inputTokens { inputTokens.record(Double(n)) }
        if let n = r.outputTokens { outputTokens.record(Double(n)) }
        duration.recordNanoseconds(durationNanos)
        if let firstByteNanos { timeToFirstToken.recordNanoseconds(firstByteNanos) }
    }
}
