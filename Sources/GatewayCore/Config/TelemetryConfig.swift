/// `telemetry:` what the gateway reports about the requests it serves.
public struct TelemetryConfig: Sendable, Equatable {
    public var accessLog = AccessLogConfig()
    /// OpenTelemetry traces; none unless configured (applies at start).
    public var traces: TracesConfig?

    public init() {}
}

/// `telemetry.traces`: one server span per request, exported by OTLP to a collector. An incoming
/// W3C `traceparent` is continued, and the span's context is passed upstream.
public struct TracesConfig: Sendable, Equatable {
    public enum ExportProtocol: String, Sendable, CaseIterable {
        case httpProtobuf = "http/protobuf"
        case httpJSON = "http/json"
    }

    /// The collector's OTLP/HTTP base URL (`/v1/traces` is added). Default the OTLP port on loopback.
    public var endpoint: String = "http://127.0.0.1:4318"
    public var `protocol`: ExportProtocol = .httpProtobuf
    public var serviceName: String = "triplegate"
    /// Share of new traces recorded (incoming sampled flags are followed). Default 1.
    public var sampleRatio: Double = 1.0
    /// How long spans wait to be sent in a batch. Default 1 s.
    public var batchDelay: Duration = .seconds(1)

    public init() {}
}
