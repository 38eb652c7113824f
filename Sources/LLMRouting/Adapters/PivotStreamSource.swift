import GatewayCore

/// Turns a provider's stream events into pivot (chat completion) chunks.
protocol PivotStreamSource {
    mutating func translate(_ event: SSEEvent) throws(StreamError) -> [JSONValue]
    /// Chunks owed when the provider's stream ends (Gemini's usage has no event of its own).
    mutating func finish() -> [JSONValue]
    /// Whether the stream's last event arrived (OpenAI's `[DONE]`, Anthropic's `message_stop`,
    /// a Gemini finish reason): a stream that ends without it was cut.
    var complete: Bool { get }
    /// The usage as the provider reported it, when its shape says more than the pivot's
    /// (Anthropic's cache writes, Gemini's thoughts).
    var nativeUsage: TokenUsage? { get }
}

extension PivotStreamSource {
    mutating func finish() -> [JSONValue] { [] }
    var nativeUsage: TokenUsage? { nil }
}
