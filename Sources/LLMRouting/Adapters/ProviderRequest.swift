import GatewayCore
import NIOCore
import NIOHTTP1

/// The request sent to a deployment: URL and headers per API style, and the body in the
/// provider's format (passed through with only `model` changed when the caller speaks it).
struct ProviderRequest {
    var head: HTTPRequestHead
    var body: ByteBuffer

    /// How the caller's body becomes the provider's, by (caller dialect, provider style).
    enum Shape {
        /// Same API: the caller's JSON with `model` replaced.
        case passthrough
        /// Through the chat completions pivot: translated request, translated answer.
        case translated
    }

    static func shape(_ dialect: ClientDialect, _ style: APIStyle) -> Shape {
        switch (dialect, style) {
        case (.openai, .openai), (.openai, .azureOpenAI), (.anthropic, .anthropic): return .passthrough
        default: return .translated
        }
    }

    /// Whether a deployment of `style` can serve `endpoint` at all.
    static func supports(_ style: APIStyle, _ endpoint: Endpoint) -> Bool {
        switch endpoint {
        case .chatCompletions, .messages: return true
        case .completions, .embeddings: return style == .openai || style == .azureOpenAI
        case .countTokens: return style == .anthropic
        case .models: return false
        }
    }

    /// Builds the request; nil when a translation needs the whole body and it is not valid JSON.
    static func make(endpoint: Endpoint, dialect: ClientDialect, deployment d: Deployment, key: String?, body: RequestBody,
                     stream: Bool, includeUsage: Bool, incoming: HTTPRequestHead, requestID: String, allocator: ByteBufferAllocator) -> ProviderRequest? {
        let base = d.basePath
        let uri: String
        var out: ByteBuffer
        switch d.style {
        case .openai, .azureOpenAI:
            let op: String = switch endpoint {
            case .completions: "/completions"
            case .embeddings: "/embeddings"
            default: "/chat/completions"
            }
            if d.style == .azureOpenAI {
                uri = "\(base)/openai/deployments/\(d.azureDeployment ?? d.model)\(op)?api-version=\(d.apiVersion ?? "")"
            } else {
                uri = base + op
            }
            // Usage is always asked for on streams (the ledger needs it); callers that did not ask
            // never see the usage chunk.
            let wantsUsage = stream && endpoint != .embeddings
            if dialect == .openai, !wantsUsage || includeUsage || !body.has(.streamOptions) {
                out = body.spliced(model: d.model, insert: wantsUsage && !includeUsage ? #""stream_options":{"include_usage":true}"# : nil,
                                   allocator: allocator)
            } else {
                guard let whole = body.json else { return nil }
                var json = dialect == .openai ? whole : AnthropicIngress.chatRequest(fromMessages: whole)
                json = json.setting("model", .string(d.model))
                if wantsUsage { json = json.setting("stream_options", (json["stream_options"] ?? .object([])).setting("include_usage", .bool(true))) }
                out = json.buffer(allocator)
            }
        case .anthropic:
            uri = base + (endpoint == .countTokens ? "/v1/messages/count_tokens" : "/v1/messages")
            if dialect == .anthropic {
                out = body.spliced(model: d.model, insert: nil, allocator: allocator)
            } else {
                guard let whole = body.json else { return nil }
                out = AnthropicTranslation.request(fromChat: whole, model: d.model, defaultMaxTokens: min(d.spec?.maxOutputTokens ?? 4096, 4096)).buffer(allocator)
            }
        case .gemini:
            uri = "\(base)/models/\(d.model):" + (stream ? "streamGenerateContent?alt=sse" : "generateContent")
            guard let whole = body.json else { return nil }
            let chat = dialect == .openai ? whole : AnthropicIngress.chatRequest(fromMessages: whole)
            out = GeminiTranslation.request(fromChat: chat).buffer(allocator)
        }
        // One list, sized once (the encoder checks names and values as it writes them).
        var h: [(String, String)] = []
        h.reserveCapacity(11)
        h.append(("host", d.hostHeader))
        h.append(("content-type", "application/json"))
        h.append(("content-length", String(out.readableBytes)))
        h.append(("accept", stream ? "text/event-stream" : "application/json"))
        h.append(("user-agent", "triplegate"))
        h.append(("x-request-id", requestID))
        if let key { h.append((d.authHeader, key)) }
        if d.style == .anthropic {
            h.append(("anthropic-version", incoming.headers.first(name: "anthropic-version") ?? "2023-06-01"))
            if let beta = incoming.headers.first(name: "anthropic-beta") { h.append(("anthropic-beta", beta)) }
        }
        if let v = incoming.headers.first(name: "traceparent") { h.append(("traceparent", v)) }
        if let v = incoming.headers.first(name: "tracestate") { h.append(("tracestate", v)) }
        return ProviderRequest(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: uri, headers: HTTPHeaders(consume h)), body: out)
    }
}

/// OpenAI's (and Azure's) stream: each `data:` is a chunk already in the pivot format.
struct OpenAIStreamSource: PivotStreamSource {
    private(set) var complete = false

    mutating func translate(_ event: SSEEvent) throws(StreamError) -> [JSONValue] {
        if event.data == "[DONE]" {
            complete = true
            return []
        }
        if event.data.isEmpty { return [] }
        guard let chunk = JSONValue.parsed(event.data) else { return [] }
        if let e = chunk["error"], e != .null {
            throw StreamError(message: e["message"]?.stringValue ?? "the provider's stream failed", type: e["type"]?.stringValue)
        }
        return [chunk]
    }
}
