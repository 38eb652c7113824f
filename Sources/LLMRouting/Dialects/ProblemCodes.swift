import GatewayCore

/// The AI gate's error codes: OpenAI's `error.code` values, which SDKs and callers match on.
extension ProblemCode {
    /// A path under `/v1` that no endpoint serves.
    static let unknownURL = ProblemCode("unknown_url")
    /// A model name the config does not list (or the caller may not use).
    static let modelNotFound = ProblemCode("model_not_found")
    /// A body member with a value the gateway refuses (an out-of-range number, say).
    static let invalidValue = ProblemCode("invalid_value")
    /// Every provider said the prompt is too long for the model.
    static let contextLengthExceeded = ProblemCode("context_length_exceeded")
    /// A token or request limit refused the call.
    static let rateLimitExceeded = ProblemCode("rate_limit_exceeded")
    /// A USD budget refused the call; OpenAI answers its own quota errors with this type too.
    static let insufficientQuota = ProblemCode("insufficient_quota")
}
