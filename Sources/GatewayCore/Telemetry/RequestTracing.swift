import Foundation
import Logging
import NIOHTTP1
import OTel
import ServiceLifecycle
import Tracing

/// Server spans for proxied requests through swift-distributed-tracing, exported by swift-otel.
/// When traces are not configured nothing here runs: the handler checks one Bool per request.
package enum RequestTracing {
    /// Makes the OTLP exporter and installs its tracer as the process's; returns the service that
    /// batches and sends spans (run it beside the gateway so shutdown flushes them).
    package static func bootstrap(_ config: TracesConfig) throws -> any Service {
        var otel = OTel.Configuration.default
        otel.serviceName = config.serviceName
        otel.propagators = [.traceContext]
        otel.diagnosticLogLevel = .warning
        otel.traces.enabled = true
        otel.metrics.enabled = false
        otel.logs.enabled = false
        otel.traces.exporter = .otlp
        otel.traces.sampler = config.sampleRatio >= 1 ? .parentBasedAlwaysOn : (.parentBasedTraceIDRatio(ratio: config.sampleRatio) ?? .parentBasedAlwaysOn)
        otel.traces.batchSpanProcessor.scheduleDelay = config.batchDelay
        // A collector that is down must not hold shutdown (or memory) for long.
        otel.traces.batchSpanProcessor.exportTimeout = .seconds(2)
        otel.traces.otlpExporter.timeout = .seconds(2)
        otel.traces.otlpExporter.endpoint = config.endpoint.hasSuffix("/v1/traces") ? config.endpoint : config.endpoint + "/v1/traces"
        otel.traces.otlpExporter.protocol = config.protocol == .httpJSON ? .httpJSON : .httpProtobuf
        let backend = try OTel.makeTracingBackend(configuration: otel)
        InstrumentationSystem.bootstrap(backend.factory)
        return backend.service
    }

    /// Starts the server span of a request, continuing the caller's `traceparent` if it sent one.
    package static func startServerSpan(method: HTTPMethod, target: String, headers: HTTPHeaders, clientIP: String?) -> RequestSpan {
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(headers, into: &context, using: HTTPHeadersExtractor())
        let span = InstrumentationSystem.tracer.startAnySpan(method.rawValue, context: context, ofKind: .server)
        span.attributes["http.request.method"] = method.rawValue
        span.attributes["url.path"] = String(target.prefix { $0 != "?" })
        if let clientIP { span.attributes["client.address"] = clientIP }
        return RequestSpan(span: span, method: method.rawValue)
    }
}

/// One request's server span, so the data plane needs no tracing types of its own.
package struct RequestSpan {
    let span: any Span
    let method: String

    /// Replaces any trace headers with the span's own, so the upstream's spans hang below it.
    package func inject(into headers: inout HTTPHeaders) {
        headers.remove(name: "traceparent")
        headers.remove(name: "tracestate")
        InstrumentationSystem.instrument.inject(span.context, into: &headers, using: HTTPHeadersInjector())
    }

    /// Names the span after its route (low cardinality: never the raw path).
    package func route(_ name: String) {
        span.attributes["http.route"] = name
        span.operationName = "\(method) \(name)"
    }

    package func consumer(_ name: String?) {
        if let name { span.attributes["triplegate.consumer"] = name }
    }

    package func upstream(_ address: String?) {
        if let address { span.attributes["server.address"] = address }
    }

    /// The attributes of the gate that served the request.
    package func annotate(_ annotation: some RequestAnnotation) {
        annotation.setSpanAttributes(&span.attributes)
    }

    /// Ends the span with the request's status.
    package func end(status: Int) {
        span.attributes["http.response.status_code"] = status
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }
}

struct HTTPHeadersExtractor: Extractor {
    func extract(key: String, from carrier: HTTPHeaders) -> String? { carrier.first(name: key) }
}

struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) { carrier.replaceOrAdd(name: key, value: value) }
}
