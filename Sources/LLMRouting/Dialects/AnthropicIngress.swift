import GatewayCore
import NIOCore

/// Anthropic-dialect callers (`/v1/messages`) served by a provider of another API style: their
/// request becomes a chat completion (the pivot) and the answer comes back as a Message.
enum AnthropicIngress {
    /// A Messages request as a chat completions request.
    static func chatRequest(fromMessages req: JSONValue) -> JSONValue {
        var messages: [JSONValue] = []
        if let system = req["system"] {
            let text = system.stringValue ?? ChatContent.text(of: system)
            if !text.isEmpty { messages.append(.obj([("role", .string("system")), ("content", .string(text))])) }
        }
        for m in req["messages"]?.arrayValue ?? [] {
            let role = m["role"]?.stringValue ?? "user"
            guard let blocks = m["content"]?.arrayValue else {
                messages.append(.obj([("role", .string(role)), ("content", m["content"] ?? .string(""))]))
                continue
            }
            if role == "assistant" {
                let text = blocks.filter { $0["type"]?.stringValue == "text" }.compactMap { $0["text"]?.stringValue }.joined()
                let calls = blocks.filter { $0["type"]?.stringValue == "tool_use" }.map { b in
                    JSONValue.obj([("id", b["id"] ?? .string("")), ("type", .string("function")),
                                   ("function", .obj([("name", b["name"] ?? .string("")), ("arguments", .string((b["input"] ?? .object([])).text))]))])
                }
                messages.append(.obj([("role", .string("assistant")), ("content", text.isEmpty && !calls.isEmpty ? .null : .string(text)),
                                      ("tool_calls", calls.isEmpty ? nil : .array(calls))]))
                continue
            }
            // Tool results become tool messages, which must follow the assistant's calls directly.
            var parts: [JSONValue] = []
            for b in blocks {
                switch b["type"]?.stringValue {
                case "tool_result":
                    let content = b["content"].map { $0.stringValue ?? ChatContent.text(of: $0) } ?? ""
                    messages.append(.obj([("role", .string("tool")), ("tool_call_id", b["tool_use_id"] ?? .string("")), ("content", .string(content))]))
                case "text":
                    parts.append(.obj([("type", .string("text")), ("text", b["text"] ?? .string(""))]))
                case "image":
                    let source = b["source"]
                    let url = source?["type"]?.stringValue == "base64"
                        ? "data:\(source?["media_type"]?.stringValue ?? "image/png");base64,\(source?["data"]?.stringValue ?? "")"
                        : source?["url"]?.stringValue ?? ""
                    parts.append(.obj([("type", .string("image_url")), ("image_url", .obj([("url", .string(url))]))]))
                default:
                    break
                }
            }
            if !parts.isEmpty { messages.append(.obj([("role", .string("user")), ("content", .array(parts))])) }
        }
        var toolChoice: JSONValue?
        var parallel: JSONValue?
        if let c = req["tool_choice"] {
            switch c["type"]?.stringValue {
            case "auto": toolChoice = .string("auto")
            case "any": toolChoice = .string("required")
            case "none": toolChoice = .string("none")
            case "tool": toolChoice = .obj([("type", .string("function")), ("function", .obj([("name", c["name"] ?? .string(""))]))])
            default: break
            }
            if c["disable_parallel_tool_use"]?.boolValue == true { parallel = .bool(false) }
        }
        let tools = req["tools"]?.arrayValue?.map { t in
            JSONValue.obj([("type", .string("function")), ("function", .obj([
                ("name", t["name"] ?? .string("")), ("description", t["description"]), ("parameters", t["input_schema"]),
            ]))])
        }
        let stream = req["stream"]?.boolValue == true
        return .obj([
            ("model", req["model"]),
            ("messages", .array(messages)),
            ("max_tokens", req["max_tokens"]),
            ("temperature", req["temperature"]),
            ("top_p", req["top_p"]),
            ("stop", req["stop_sequences"]),
            ("tools", tools.map(JSONValue.array)),
            ("tool_choice", toolChoice),
            ("parallel_tool_calls", parallel),
            ("user", req["metadata"]?["user_id"]),
            ("stream", stream ? .bool(true) : nil),
            ("stream_options", stream ? .obj([("include_usage", .bool(true))]) : nil),
        ])
    }

    static func stopReason(fromFinish finish: String?) -> String? {
        switch finish {
        case nil: return nil
        case "length": return "max_tokens"
        case "tool_calls", "function_call": return "tool_use"
        case "content_filter": return "refusal"
        default: return "end_turn"
        }
    }

    /// Anthropic usage from OpenAI's (input excludes cache reads, as Anthropic counts).
    static func usage(_ u: JSONValue?) -> JSONValue {
        let prompt = u?["prompt_tokens"]?.tokenCount ?? 0, cached = u?["prompt_tokens_details"]?["cached_tokens"]?.tokenCount ?? 0
        return .obj([("input_tokens", .int(prompt - cached)), ("output_tokens", .int(u?["completion_tokens"]?.tokenCount ?? 0)),
                     ("cache_creation_input_tokens", .int(0)), ("cache_read_input_tokens", .int(cached))])
    }

    /// A chat completion as a Message.
    static func message(fromChat c: JSONValue) -> JSONValue {
        let choice = c["choices"]?.arrayValue?.first
        let msg = choice?["message"]
        var content: [JSONValue] = []
        if let text = msg?["content"]?.stringValue, !text.isEmpty { content.append(.obj([("type", .string("text")), ("text", .string(text))])) }
        for call in msg?["tool_calls"]?.arrayValue ?? [] {
            content.append(.obj([("type", .string("tool_use")), ("id", call["id"] ?? .string("")), ("name", call["function"]?["name"] ?? .string("")),
                                 ("input", JSONValue.parsed(call["function"]?["arguments"]?.stringValue ?? "{}") ?? .object([]))]))
        }
        return .obj([
            ("id", .string("msg_" + (c["id"]?.stringValue ?? ""))), ("type", .string("message")), ("role", .string("assistant")),
            ("model", c["model"] ?? .string("")), ("content", .array(content)),
            ("stop_reason", stopReason(fromFinish: choice?["finish_reason"]?.stringValue).map(JSONValue.string) ?? .null),
            ("stop_sequence", .null), ("usage", usage(c["usage"])),
        ])
    }

    /// Chat completion chunks as Anthropic's stream events, written as SSE.
    struct StreamFromChat: ClientStreamEncoder {
        private var started = false
        private var openBlock: (index: Int, isTool: Bool)?
        private var nextBlock = 0
        /// Tool call index → block index.
        private var toolBlocks: [Int: Int] = [:]
        private var stopReason: String?
        private var usage: JSONValue?

        mutating func encode(_ chunk: JSONValue, into out: inout ByteBuffer) {
            if !started {
                started = true
                out.writeSSE(event: "message_start", data: .obj([("type", .string("message_start")), ("message", .obj([
                    ("id", .string("msg_" + (chunk["id"]?.stringValue ?? ""))), ("type", .string("message")), ("role", .string("assistant")),
                    ("model", chunk["model"] ?? .string("")), ("content", .array([])), ("stop_reason", .null), ("stop_sequence", .null),
                    ("usage", .obj([("input_tokens", .int(0)), ("output_tokens", .int(0))])),
                ]))]))
            }
            if let u = chunk["usage"], u != .null { usage = u }
            guard let choice = chunk["choices"]?.arrayValue?.first else { return }
            let delta = choice["delta"]
            if let text = delta?["content"]?.stringValue, !text.isEmpty {
                if openBlock?.isTool != false { open(isTool: false, start: .obj([("type", .string("text")), ("text", .string(""))]), into: &out) }
                out.writeSSE(event: "content_block_delta", data: .obj([("type", .string("content_block_delta")), ("index", .int(openBlock!.index)),
                                                                     ("delta", .obj([("type", .string("text_delta")), ("text", .string(text))]))]))
            }
            for call in delta?["tool_calls"]?.arrayValue ?? [] {
                let toolIndex = call["index"]?.intValue ?? 0
                if toolBlocks[toolIndex] == nil {
                    open(isTool: true, start: .obj([("type", .string("tool_use")), ("id", call["id"] ?? .string("")),
                                                    ("name", call["function"]?["name"] ?? .string("")), ("input", .object([]))]), into: &out)
                    toolBlocks[toolIndex] = openBlock!.index
                }
                if let args = call["function"]?["arguments"]?.stringValue, !args.isEmpty {
                    out.writeSSE(event: "content_block_delta", data: .obj([("type", .string("content_block_delta")), ("index", .int(toolBlocks[toolIndex]!)),
                                                                         ("delta", .obj([("type", .string("input_json_delta")), ("partial_json", .string(args))]))]))
                }
            }
            if let finish = choice["finish_reason"]?.stringValue { stopReason = AnthropicIngress.stopReason(fromFinish: finish) }
        }

        private mutating func open(isTool: Bool, start block: JSONValue, into out: inout ByteBuffer) {
            closeBlock(into: &out)
            openBlock = (nextBlock, isTool)
            out.writeSSE(event: "content_block_start", data: .obj([("type", .string("content_block_start")), ("index", .int(nextBlock)), ("content_block", block)]))
            nextBlock += 1
        }

        private mutating func closeBlock(into out: inout ByteBuffer) {
            guard let b = openBlock else { return }
            out.writeSSE(event: "content_block_stop", data: .obj([("type", .string("content_block_stop")), ("index", .int(b.index))]))
            openBlock = nil
        }

        mutating func finish(into out: inout ByteBuffer) {
            closeBlock(into: &out)
            let u = AnthropicIngress.usage(usage)
            out.writeSSE(event: "message_delta", data: .obj([("type", .string("message_delta")),
                                                             ("delta", .obj([("stop_reason", .string(stopReason ?? "end_turn")), ("stop_sequence", .null)])),
                                                             ("usage", u)]))
            out.writeSSE(event: "message_stop", data: .obj([("type", .string("message_stop"))]))
        }

        func error(_ message: String, status: Int, into out: inout ByteBuffer) {
            out.writeSSE(event: "error", data: AnthropicErrorDialect.error(status: status, message: message))
        }
    }
}

/// Writes pivot chunks to the caller in its dialect's stream format.
protocol ClientStreamEncoder {
    mutating func encode(_ chunk: JSONValue, into out: inout ByteBuffer)
    /// The provider's stream ended cleanly.
    mutating func finish(into out: inout ByteBuffer)
    /// The stream failed after it started: an error event, never a clean end.
    func error(_ message: String, status: Int, into out: inout ByteBuffer)
}

/// OpenAI-dialect streams: `data: <chunk>` events and `data: [DONE]`.
struct OpenAIStreamEncoder: ClientStreamEncoder {
    /// Usage-only chunks are dropped unless the caller asked for them.
    var includeUsage: Bool

    mutating func encode(_ chunk: JSONValue, into out: inout ByteBuffer) {
        if !includeUsage, chunk["choices"]?.arrayValue?.isEmpty == true { return }
        out.writeSSE(data: includeUsage ? chunk : chunk.removing("usage"))
    }

    mutating func finish(into out: inout ByteBuffer) { out.writeStaticString("data: [DONE]\n\n") }

    func error(_ message: String, status: Int, into out: inout ByteBuffer) {
        // The SDKs raise an APIError for a data event carrying `error`.
        out.writeSSE(data: OpenAIErrorDialect.error(status: status, message: message, code: nil))
    }
}
