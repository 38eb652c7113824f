import GatewayCore

/// OpenAI chat completions (the gate's pivot format) to Anthropic's Messages API and back.
/// Used when an OpenAI-dialect caller is served by an Anthropic deployment.
enum AnthropicTranslation {
    /// A chat completions request as a Messages request for `model`.
    static func request(fromChat chat: JSONValue, model: String, defaultMaxTokens: Int) -> JSONValue {
        var system: [String] = []
        var messages: [(role: String, blocks: [JSONValue])] = []
        func append(_ role: String, _ blocks: [JSONValue]) {
            guard !blocks.isEmpty else { return }
            // Anthropic wants user and assistant turns to alternate: merge neighbours.
            if let last = messages.last, last.role == role { messages[messages.count - 1].blocks += blocks } else { messages.append((role, blocks)) }
        }
        for m in chat["messages"]?.arrayValue ?? [] {
            let role = m["role"]?.stringValue ?? "user"
            switch role {
            case "system", "developer":
                system.append(ChatContent.text(of: m["content"]))
            case "assistant":
                var blocks: [JSONValue] = []
                let text = ChatContent.text(of: m["content"])
                if !text.isEmpty { blocks.append(.obj([("type", .string("text")), ("text", .string(text))])) }
                for call in m["tool_calls"]?.arrayValue ?? [] {
                    let args = call["function"]?["arguments"]?.stringValue ?? "{}"
                    blocks.append(.obj([
                        ("type", .string("tool_use")), ("id", call["id"] ?? .string("")),
                        ("name", call["function"]?["name"] ?? .string("")),
                        ("input", JSONValue.parsed(args) ?? .object([])),
                    ]))
                }
                append("assistant", blocks)
            case "tool", "function":
                append("user", [.obj([
                    ("type", .string("tool_result")), ("tool_use_id", m["tool_call_id"] ?? .string("")),
                    ("content", .string(ChatContent.text(of: m["content"]))),
                ])])
            default:
                append("user", userBlocks(m["content"]))
            }
        }
        var stop: JSONValue?
        if let s = chat["stop"] { stop = s.stringValue.map { .array([.string($0)]) } ?? (s.arrayValue.map { .array($0) }) }
        let maxTokens = chat["max_completion_tokens"]?.intValue ?? chat["max_tokens"]?.intValue ?? defaultMaxTokens
        var toolChoice: JSONValue?
        if let c = chat["tool_choice"] {
            switch c.stringValue {
            case "auto": toolChoice = .obj([("type", .string("auto"))])
            case "required": toolChoice = .obj([("type", .string("any"))])
            case "none": toolChoice = .obj([("type", .string("none"))])
            default:
                if let name = c["function"]?["name"] { toolChoice = .obj([("type", .string("tool")), ("name", name)]) }
            }
        }
        if chat["parallel_tool_calls"]?.boolValue == false {
            toolChoice = (toolChoice ?? .obj([("type", .string("auto"))])).setting("disable_parallel_tool_use", .bool(true))
        }
        let tools = chat["tools"]?.arrayValue?.compactMap { t -> JSONValue? in
            guard let f = t["function"] else { return nil }
            return .obj([("name", f["name"] ?? .string("")), ("description", f["description"]),
                         ("input_schema", f["parameters"] ?? .obj([("type", .string("object")), ("properties", .object([]))]))])
        }
        return .obj([
            ("model", .string(model)),
            ("max_tokens", .int(maxTokens)),
            ("system", system.isEmpty ? nil : .string(system.joined(separator: "\n\n"))),
            ("messages", .array(messages.map { .obj([("role", .string($0.role)), ("content", .array($0.blocks))]) })),
            ("temperature", chat["temperature"]),
            ("top_p", chat["top_p"]),
            ("stop_sequences", stop),
            ("tools", tools.map(JSONValue.array)),
            ("tool_choice", toolChoice),
            ("metadata", chat["user"].map { .obj([("user_id", $0)]) }),
            ("stream", chat["stream"]),
        ])
    }

    /// A user message's content as Anthropic blocks (text and images).
    private static func userBlocks(_ content: JSONValue?) -> [JSONValue] {
        if let s = content?.stringValue { return [.obj([("type", .string("text")), ("text", .string(s))])] }
        return (content?.arrayValue ?? []).compactMap { part in
            switch part["type"]?.stringValue {
            case "text": return .obj([("type", .string("text")), ("text", part["text"] ?? .string(""))])
            case "image_url":
                let url = part["image_url"]?["url"]?.stringValue ?? part["image_url"]?.stringValue ?? ""
                if let (mediaType, data) = ChatContent.dataURL(url) {
                    return .obj([("type", .string("image")), ("source", .obj([("type", .string("base64")), ("media_type", .string(mediaType)), ("data", .string(data))]))])
                }
                return .obj([("type", .string("image")), ("source", .obj([("type", .string("url")), ("url", .string(url))]))])
            default: return nil
            }
        }
    }

    static func finishReason(fromStop stop: String?) -> String? {
        switch stop {
        case nil: return nil
        case "end_turn", "stop_sequence", "pause_turn": return "stop"
        case "max_tokens", "model_context_window_exceeded": return "length"
        case "tool_use": return "tool_calls"
        case "refusal": return "content_filter"
        default: return "stop"
        }
    }

    /// OpenAI usage from Anthropic's (prompt tokens include cache reads and writes, as OpenAI counts).
    static func chatUsage(_ u: JSONValue?) -> JSONValue? {
        guard let u else { return nil }
        let input = u["input_tokens"]?.tokenCount ?? 0, read = u["cache_read_input_tokens"]?.tokenCount ?? 0
        let write = u["cache_creation_input_tokens"]?.tokenCount ?? 0, output = u["output_tokens"]?.tokenCount ?? 0
        let prompt = input + read + write
        return .obj([("prompt_tokens", .int(prompt)), ("completion_tokens", .int(output)), ("total_tokens", .int(prompt + output)),
                     ("prompt_tokens_details", .obj([("cached_tokens", .int(read))]))])
    }

    /// A Messages response as a chat completion.
    static func chatResponse(fromMessage m: JSONValue) -> JSONValue {
        var text = ""
        var calls: [JSONValue] = []
        for block in m["content"]?.arrayValue ?? [] {
            switch block["type"]?.stringValue {
            case "text": text += block["text"]?.stringValue ?? ""
            case "tool_use":
                calls.append(.obj([("id", block["id"] ?? .string("")), ("type", .string("function")),
                                   ("function", .obj([("name", block["name"] ?? .string("")), ("arguments", .string((block["input"] ?? .object([])).text))]))]))
            default: break
            }
        }
        let message = JSONValue.obj([
            ("role", .string("assistant")),
            ("content", text.isEmpty && !calls.isEmpty ? .null : .string(text)),
            ("refusal", .null),
            ("tool_calls", calls.isEmpty ? nil : .array(calls)),
        ])
        return .obj([
            ("id", .string("chatcmpl-" + (m["id"]?.stringValue ?? ""))),
            ("object", .string("chat.completion")),
            ("created", .int(unixNow())),
            ("model", m["model"] ?? .string("")),
            ("choices", .array([.obj([("index", .int(0)), ("message", message), ("logprobs", .null),
                                      ("finish_reason", finishReason(fromStop: m["stop_reason"]?.stringValue).map(JSONValue.string) ?? .null)])])),
            ("usage", chatUsage(m["usage"])),
        ])
    }

    /// Anthropic's stream events as chat completion chunks.
    struct StreamToChat: PivotStreamSource {
        var includeUsage: Bool
        private var id = "chatcmpl"
        private var model = JSONValue.string("")
        private var usage: JSONValue = .object([])
        private var toolIndex = -1
        /// Block index → tool call index, for tool_use blocks.
        private var toolOfBlock: [Int: Int] = [:]
        private let created = unixNow()
        private(set) var complete = false

        init(includeUsage: Bool) { self.includeUsage = includeUsage }

        private func chunk(_ delta: JSONValue, finish: String? = nil) -> JSONValue {
            .obj([("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(created)), ("model", model),
                  ("choices", .array([.obj([("index", .int(0)), ("delta", delta), ("logprobs", .null), ("finish_reason", finish.map(JSONValue.string) ?? .null)])]))])
        }

        mutating func translate(_ event: SSEEvent) throws(StreamError) -> [JSONValue] {
            guard let data = JSONValue.parsed(event.data) else { return [] }
            switch data["type"]?.stringValue ?? event.event {
            case "message_start":
                let m = data["message"]
                id = "chatcmpl-" + (m?["id"]?.stringValue ?? "")
                model = m?["model"] ?? model
                usage = m?["usage"] ?? usage
                return [chunk(.obj([("role", .string("assistant")), ("content", .string(""))]))]
            case "content_block_start":
                guard let block = data["content_block"], block["type"]?.stringValue == "tool_use" else { return [] }
                toolIndex += 1
                toolOfBlock[data["index"]?.intValue ?? 0] = toolIndex
                return [chunk(.obj([("tool_calls", .array([.obj([
                    ("index", .int(toolIndex)), ("id", block["id"] ?? .string("")), ("type", .string("function")),
                    ("function", .obj([("name", block["name"] ?? .string("")), ("arguments", .string(""))])),
                ])]))]))]
            case "content_block_delta":
                let delta = data["delta"]
                switch delta?["type"]?.stringValue {
                case "text_delta":
                    return [chunk(.obj([("content", delta?["text"] ?? .string(""))]))]
                case "input_json_delta":
                    let index = toolOfBlock[data["index"]?.intValue ?? 0] ?? max(toolIndex, 0)
                    return [chunk(.obj([("tool_calls", .array([.obj([("index", .int(index)), ("function", .obj([("arguments", delta?["partial_json"] ?? .string(""))]))])]))]))]
                default:
                    return []
                }
            case "message_delta":
                if let u = data["usage"]?.objectFields { for (k, v) in u { usage = usage.setting(k, v) } }
                let finish = AnthropicTranslation.finishReason(fromStop: data["delta"]?["stop_reason"]?.stringValue)
                return finish.map { [chunk(.object([]), finish: $0)] } ?? []
            case "message_stop":
                complete = true
                guard includeUsage else { return [] }
                return [.obj([("id", .string(id)), ("object", .string("chat.completion.chunk")), ("created", .int(created)), ("model", model),
                              ("choices", .array([])), ("usage", AnthropicTranslation.chatUsage(usage))])]
            case "error":
                throw StreamError(message: data["error"]?["message"]?.stringValue ?? "the provider's stream failed",
                                  type: data["error"]?["type"]?.stringValue)
            default:
                return []  // ping, content_block_stop, thinking
            }
        }

        var nativeUsage: TokenUsage? { TokenUsage(anthropic: usage) }
    }
}

/// What a chat message's content says, and data URLs.
enum ChatContent {
    /// The text of a content that is a string or an array of parts (non-text parts skipped).
    static func text(of content: JSONValue?) -> String {
        if let s = content?.stringValue { return s }
        return (content?.arrayValue ?? []).compactMap { part -> String? in
            let type = part["type"]?.stringValue
            return type == "text" || type == "input_text" ? part["text"]?.stringValue : nil
        }.joined()
    }

    /// `data:<media type>;base64,<data>` split, or nil.
    static func dataURL(_ url: String) -> (String, String)? {
        guard url.hasPrefix("data:"), let semi = url.firstIndex(of: ";"), let comma = url.firstIndex(of: ","),
              url[semi..<comma] == ";base64" else { return nil }
        return (String(url[url.index(url.startIndex, offsetBy: 5)..<semi]), String(url[url.index(after: comma)...]))
    }
}

/// A provider stream that failed after it started (Anthropic's `error` event, Gemini's error).
struct StreamError: Error {
    var message: String
    var type: String?
}
