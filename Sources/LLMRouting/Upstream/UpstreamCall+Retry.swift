import GatewayCore

extension UpstreamCall.Failure {
    /// The retry condition this failure meets.
    var condition: LLMRetryConfig.Condition {
        switch self {
        case .connect: return .connect
        case .timeout, .stalled: return .timeout
        // A cut connection is a server error for retry purposes.
        case .broken: return .status(502)
        }
    }
}
