import GatewayCore
import Prometheus

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
