import GatewayCore

/// OpenAI chat completions (the pivot) to Google's Gemini API (`generateContent`,
/// `streamGenerateContent?alt=sse`) and back.
enum GeminiTranslation {
    static func request(fromChat chat: JSONValue) -> JSONValue {
        var system: [String] = []
        var contents: [(role: String, parts: [JSONValue])] = []
        /// Tool call id → function name: Gemini answers a call by the function's name.
        var callNames: [String: String] = [:]
        func append(_ role: String, _ parts: [JSONValue]) {
            guard !parts.isEmpty else { return }
            if let last = contents.last, last.role == role { contents[contents.count - 1].parts += parts } else { contents.append((role, parts)) }
        }
        for m in chat["messages"]?.arrayValue ?? [] {
            switch m["role"]?.stringValue ?? "user" {
            case "system", "developer":
                system.append(ChatContent.text(of: m["content"]))
            case "assistant":
                var parts: [JSONValue] = []
                let text = ChatContent.text(of: m["content"])
                if !text.isEmpty { parts.append(.obj([("text", .string(text))])) }
                for call in m["tool_calls"]?.arrayValue ?? [] {
                    let name = call["function"]?["name"]?.stringValue ?? ""
                    if let id = call["id"]?.stringValue { callNames[id] = name }
                    parts.append(.obj([("functionCall", .obj([("name", .string(name)),
                                                              ("args", JSONValue.parsed(call["function"]?["arguments"]?.stringValue ?? "{}") ?? .object([]))]))]))
                }
                append("model", parts)
            case "tool", "function":
                let id = m["tool_call_id"]?.stringValue ?? ""
                let text = ChatContent.text(of: m["content"])
                var response = JSONValue.parsed(text) ?? .obj([("content", .string(text))])
                if response.objectFields == nil { response = .obj([("content", response)]) }
                append("user", [.obj([("functionResponse", .obj([("name", .string(callNames[id] ?? m["name"]?.stringValue ?? id)), ("response", response)]))])])
            default:
                append("user", userParts(m["content"]))
            }
        }
        var generation: [(String, JSONValue?)] = [
            ("temperature", chat["temperature"]), ("topP", chat["top_p"]),
            ("maxOutputTokens", chat["max_completion_tokens"] ?? chat["max_tokens"]),
            ("stopSequences", chat["stop"].map { $0.stringValue.map { .array([.string($0)]) } ?? $0 }),
            ("candidateCount", chat["n"]), ("seed", chat["seed"]),
        ]
        if let format = chat["response_format"] {
            switch format["type"]?.stringValue {
            case "json_object": generation.append(("responseMimeType", .string("application/json")))
            case "json_schema":
                generation.append(("responseMimeType", .string("application/json")))
                generation.append(("responseJsonSchema", format["json_schema"]?["schema"]))
            default: break
            }
        }
        let declarations = chat["tools"]?.arrayValue?.compactMap { t -> JSONValue? in
            guard let f = t["function"] else { return nil }
            return .obj([("name", f["name"] ?? .string("")), ("description", f["description"]), ("parameters", f["parameters"])])
        }
        var toolConfig: JSONValue?
        if let c = chat["tool_choice"] {
            switch c.stringValue {
            case "auto": toolConfig = .obj([("functionCallingConfig", .obj([("mode", .string("AUTO"))]))])
            case "required": toolConfig = .obj([("functionCallingConfig", .obj([("mode", .string("ANY"))]))])
            case "none": toolConfig = .obj([("functionCallingConfig", .obj([("mode", .string("NONE"))]))])
            default:
                if let name = c["function"]?["name"] {
                    toolConfig = .obj([("functionCallingConfig", .obj([("mode", .string("ANY")), ("allowedFunctionNames", .array([name]))]))])
                }
            }
        }
        let generationConfig = JSONValue.obj(generation)
        return .obj([
            ("contents", .array(contents.map { .obj([("role", .string($0.role)), ("parts", .array($0.parts))]) })),
            ("systemInstruction", system.isEmpty ? nil : .obj([("parts", .array([.obj([("text", .string(system.joined(separator: "\n\n")))])]))])),
            ("tools", declarations.map { .array([.obj([("functionDeclarations", .array($0))])]) }),
            ("toolConfig", toolConfig),
            ("generationConfig", generationConfig.objectFields?.isEmpty == false ? generationConfig : nil),
        ])
    }

    private static func userParts(_ content: JSONValue?) -> [JSONValue] {
        if let s = content?.stringValue { return [.obj([("text", .string(s))])] }
        return (content?.arrayValue ?? []).compactMap { part in
            switch part["type"]?.stringValue {
            case "text": return .obj([("text", part["text"] ?? .string(""))])
            case "image_url":
                let url = part["image_url"]?["url"]?.stringValue ?? ""
                if let (mediaType, data) = ChatContent.dataURL(url) {
                    return .obj([("inlineData", .obj([("mimeType", .string(mediaType)), ("data", .string(data))]))])
                }
                return .obj([("fileData", .obj([("fileUri", .string(url))]))])
            default: return nil
            }
        }
    }

    static func finishReason(_ reason: String?, hasCalls: Bool) -> String? {
        switch reason {
        case nil: return nil
        case "STOP": return hasCalls ? "tool_calls" : "stop"
        case "MAX_TOKENS": return "length"
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY": return "content_filter"
        default: return "stop"
        }
    }

    static func chatUsage(_ u: JSONValue?) -> JSONValue? {
        guard let u else { return nil }
        let prompt = u["promptTokenCount"]?.tokenCount ?? 0
        let output = (u["candidatesTokenCount"]?.tokenCount ?? 0) + (u["thoughtsTokenCount"]?.tokenCount ?? 0)
        return .obj([("prompt_tokens", .int(prompt)), ("completion_tokens", .int(output)), ("total_tokens", .int(prompt + output)),
                     ("prompt_tokens_details", .obj([("cached_tokens", .int(u["cachedContentTokenCount"]?.tokenCount ?? 0))])),
                     ("completion_tokens_details", .obj([("reasoning_tokens", .int(u["thoughtsTokenCount"]?.tokenCount ?? 0))]))])
    }

    /// The text and tool calls of a candidate. `firstCall` numbers the calls' ids and indexes.
    static func parts(of candidate: JSONValue?, firstCall: Int) -> (text: String, calls: [JSONValue]) {
        var text = ""
        var calls: [JSONValue] = []
        for part in candidate?["content"]?["parts"]?.arrayValue ?? [] {
            if part["thought"]?.boolValue == true { continue }
            if let t = part["text"]?.stringValue { text += t }
            if let call = part["functionCall"] {
                let n = firstCall + calls.count
                calls.append(.obj([("index", .int(n)), ("id", call["id"] ?? .string("call_\(n)")), ("type", .string("function")),
                                   ("function", .obj([("name", call["name"] ?? .string("")), ("arguments", .string((call["args"] ?? .object([])).text))]))]))
            }
        }
        return (text, calls)
    }

    static func chatResponse(fromGemini g: JSONValue, model: String) -> JSONValue {
        let candidate = g["candidates"]?.arrayValue?.first
        let (text, calls) = parts(of: candidate, firstCall: 0)
        let message = JSONValue.obj([
            ("role", .string("assistant")),
            ("content", text.isEmpty && !calls.isEmpty ? .null : .string(text)),
            ("refusal", .null),
            ("tool_calls", calls.isEmpty ? nil : .array(calls.map { $0.removing("index") })),
        ])
        return .obj([
            ("id", .string("chatcmpl-" + (g["responseId"]?.stringValue ?? ""))),
            ("object", .string("chat.completion")), ("created", .int(unixNow())),
            ("model", g["modelVersion"] ?? .string(model)),
            ("choices", .array([.obj([("index", .int(0)), ("message", message), ("logprobs", .null),
                                      ("finish_reason", finishReason(candidate?["finishReason"]?.stringValue, hasCalls: !calls.isEmpty).map(JSONValue.string) ?? .null)])])),
            ("usage", chatUsage(g["usageMetadata"])),
        ])
    }

    /// Gemini's SSE stream (one GenerateContentResponse per event) as chat completion chunks.
    struct StreamToChat: PivotStreamSource {
        var includeUsage: Bool
        let model: String
        private var id = "chatcmpl"
        private var started = false
        private var calls = 0
        private var usage: JSONValue?
        private var responseModel: JSONValue?
        private let created = unixNow()
        private(set) var complete = false

        init(includeUsage: Bool, model: String) {
            self.includeUsage = includeUsage
            self.model = model
        }

        private func chunk(_ delta: JSONValue, finish: String? = nil) -> JSONValue {
            .obj([("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(created)), ("model", responseModel ?? .string(model)),
                  ("choices", .array([.obj([("index", .int(0)), ("delta", delta), ("logprobs", .null), ("finish_reason", finish.map(JSONValue.string) ?? .null)])]))])
        }

        mutating func translate(_ event: SSEEvent) throws(StreamError) -> [JSONValue] {
            guard let g = JSONValue.parsed(event.data) else { return [] }
            if let e = g["error"] { throw StreamError(message: e["message"]?.stringValue ?? "the provider's stream failed", type: e["status"]?.stringValue) }
            var out: [JSONValue] = []
            if !started {
                started = true
                id = "chatcmpl-" + (g["responseId"]?.stringValue ?? "")
                responseModel = g["modelVersion"]
                out.append(chunk(.obj([("role", .string("assistant")), ("content", .string(""))])))
            }
            if let u = g["usageMetadata"] { usage = u }
            let candidate = g["candidates"]?.arrayValue?.first
            let (text, newCalls) = GeminiTranslation.parts(of: candidate, firstCall: calls)
            calls += newCalls.count
            if !text.isEmpty { out.append(chunk(.obj([("content", .string(text))]))) }
            if !newCalls.isEmpty { out.append(chunk(.obj([("tool_calls", .array(newCalls))]))) }
            if let finish = GeminiTranslation.finishReason(candidate?["finishReason"]?.stringValue, hasCalls: calls > 0) {
                complete = true
                out.append(chunk(.object([]), finish: finish))
            }
            return out
        }

        var nativeUsage: TokenUsage? { TokenUsage(gemini: usage) }

        mutating func finish() -> [JSONValue] {
            guard includeUsage, let usage else { return [] }
            return [.obj([("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(created)), ("model", responseModel ?? .string(model)),
                          ("choices", .array([])), ("usage", GeminiTranslation.chatUsage(usage))])]
        }
    }
}
