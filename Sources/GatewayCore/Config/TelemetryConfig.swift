/// `telemetry:` what the gateway reports about the requests it serves.
public struct TelemetryConfig: Sendable, Equatable {
    public var accessLog = AccessLogConfig()

    public init() {}
}
