import GatewayCore
import NIOCore
import Prometheus
import SemanticCache

/// The answer cache as one request sees it: the shared store, the config it was built for,
/// and the metrics.
struct CacheContext {
    let answers: AnswerCache
    let config: LLMCacheConfig
    let metrics: CacheMetrics
}

/// `triplegate_llm_cache_requests_total{result}` (hit_exact, hit_semantic, miss, bypass),
/// the lookup time (embedding included), embedding failures, answers not kept, and the size
/// gauges.
package final class CacheMetrics: Sendable {
    enum Result: String, CaseIterable { case hitExact = "hit_exact", hitSemantic = "hit_semantic", miss, bypass }

    private let results: [String: Counter]
    private let lookup: DurationHistogram
    private let embeddingFailures: Counter
    private let refused: Counter
    private let entries: Gauge
    private let indexBytes: Gauge

    package init(registry: PrometheusCollectorRegistry) {
        let requests = MetricNameDescriptor(metricName: "triplegate_llm_cache_requests", unitName: "total", helpText: "AI gate requests by cache result")
        results = Dictionary(uniqueKeysWithValues: Result.allCases.map { ($0.rawValue, registry.makeCounter(descriptor: requests, labels: [("result", $0.rawValue)])) })
        lookup = registry.makeDurationHistogram(
            descriptor: .init(metricName: "triplegate_llm_cache_lookup", unitName: "seconds", helpText: "Time to answer from the cache or decide it cannot (embedding included)"),
            labels: [], buckets: GatewayMetrics.buckets)
        embeddingFailures = registry.makeCounter(
            descriptor: .init(metricName: "triplegate_llm_cache_embedding_failures", unitName: "total", helpText: "Embedding calls that failed or timed out (the request went on uncached)"),
            labels: [])
        refused = registry.makeCounter(
            descriptor: .init(metricName: "triplegate_llm_cache_answers_not_kept", unitName: "total",
                              helpText: "Provider answers not cached: an error body, no choices, an abnormal finish (content_filter, a cut stream), bytes that are not UTF-8, or larger than max_entry_bytes"),
            labels: [])
        entries = registry.makeGauge(descriptor: .init(metricName: "triplegate_llm_cache_entries", unitName: "", helpText: "Cached answers"), labels: [])
        indexBytes = registry.makeGauge(
            descriptor: .init(metricName: "triplegate_llm_cache_index", unitName: "bytes", helpText: "Memory held by the semantic cache's vector indexes"), labels: [])
    }

    func count(_ r: Result, since started: NIODeadline?) {
        results[r.rawValue]?.increment()
        if let started { lookup.recordNanoseconds(Int64((NIODeadline.now() - started).nanoseconds)) }
    }

    func embeddingFailed() { embeddingFailures.increment() }

    func notKept() { refused.increment() }

    package func update(_ cache: AnswerCache) {
        let s = cache.stats
        entries.set(Double(s.entries))
        indexBytes.set(Double(s.indexBytes))
    }
}

extension AnswerCache.Options {
    /// The store's settings from `llm.cache`.
    init(_ c: LLMCacheConfig) {
        func millis(_ d: Duration) -> Int64 { d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000 }
        self.init(exactTTLMillis: c.exactTTL.map(millis) ?? 0, semanticTTLMillis: c.semantic.map { millis($0.ttl) } ?? 0,
                  threshold: Float(c.semantic?.threshold ?? 1), maxEntries: c.maxEntries, storage: c.semantic?.int8 == true ? .int8 : .float32,
                  maxEntryBytes: c.maxEntryBytes, maxTotalBytes: c.maxBytes)
    }
}
