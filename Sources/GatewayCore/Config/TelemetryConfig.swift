/// `telemetry:` what the gateway reports about the requests it serves.
package struct TelemetryConfig: Sendable, Equatable {
    package var accessLog = AccessLogConfig()
    /// OpenTelemetry traces; none unless configured (applies at start).
    package var traces: TracesConfig?

    package init() {}
}

/// `telemetry.traces`: one server span per request, exported by OTLP to a collector. An incoming
/// W3C `traceparent` is continued, and the span's context is passed upstream.
package struct TracesConfig: Sendable, Equatable {
    package enum ExportProtocol: String, Sendable, CaseIterable {
        case httpProtobuf = "http/protobuf"
        case httpJSON = "http/json"
    }

    /// The collector's OTLP/HTTP base URL (`/v1/traces` is added). Default the OTLP port on loopback.
    package var endpoint: String = "http://127.0.0.1:4318"
    package var `protocol`: ExportProtocol = .httpProtobuf
    package var serviceName: String = "triplegate"
    /// Share of new traces recorded (incoming sampled flags are followed). Default 1.
    package var sampleRatio: Double = 1.0
    /// How long spans wait to be sent in a batch. Default 1 s.
    package var batchDelay: Duration = .seconds(1)

    package init() {}
}
