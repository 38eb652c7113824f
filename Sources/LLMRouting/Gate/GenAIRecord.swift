import GatewayCore
import NIOCore
import Tracing

/// What a generative-AI call was, for the access log and the span (`gen_ai.*` attributes).
package struct GenAIRecord: Sendable {
    package var requestModel: String?
    package var responseModel: String?
    package var provider: String?
    package var inputTokens: Int?
    package var outputTokens: Int?
    package var attempts: Int = 0

    package init(requestModel: String? = nil, responseModel: String? = nil, provider: String? = nil, inputTokens: Int? = nil,
                outputTokens: Int? = nil, attempts: Int = 0) {
        self.requestModel = requestModel
        self.responseModel = responseModel
        self.provider = provider
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.attempts = attempts
    }
}

extension GenAIRecord: RequestAnnotation {
    /// The access-log field the AI gate fills.
    package static let accessLogField = "gen_ai"
    package var accessLogField: String { Self.accessLogField }

    package func writeAccessLogValue(to buffer: inout ByteBuffer) {
        JSONValue.object([
            ("request_model", requestModel.map(JSONValue.string) ?? .null),
            ("response_model", responseModel.map(JSONValue.string) ?? .null),
            ("provider", provider.map(JSONValue.string) ?? .null),
            ("input_tokens", inputTokens.map(JSONValue.int) ?? .null),
            ("output_tokens", outputTokens.map(JSONValue.int) ?? .null),
            ("attempts", .int(attempts)),
        ]).write(to: &buffer)
    }

    /// The OpenTelemetry `gen_ai.*` attributes of an LLM call.
    package func setSpanAttributes(_ attributes: inout SpanAttributes) {
        attributes["gen_ai.operation.name"] = "chat"
        if let m = requestModel { attributes["gen_ai.request.model"] = m }
        if let m = responseModel { attributes["gen_ai.response.model"] = m }
        if let p = provider { attributes["gen_ai.system"] = p }
        if let n = inputTokens { attributes["gen_ai.usage.input_tokens"] = n }
        if let n = outputTokens { attributes["gen_ai.usage.output_tokens"] = n }
        attributes["triplegate.attempts"] = attempts
    }
}
