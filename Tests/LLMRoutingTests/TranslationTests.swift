import GatewayCore
import NIOCore
import Testing

@testable import LLMRouting

func json(_ text: String) -> JSONValue { try! JSONParser.parse(text) }

func events(_ text: String) -> [SSEEvent] {
    var p = SSEParser()
    return try! p.feed(ByteBuffer(string: text))
}

/// OpenAI chat completions ⇄ Anthropic Messages ⇄ Gemini, checked field by field.
@Suite struct TranslationTests {
    let chat = json("""
    {"model":"smart","max_tokens":300,"temperature":0.2,"top_p":0.9,"stop":"END","user":"u-1","stream":true,
     "messages":[
      {"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}"}}]},
      {"role":"tool","tool_call_id":"call_1","content":"sunny"},
      {"role":"user","content":"thanks"}],
     "tools":[{"type":"function","function":{"name":"get_weather","description":"w","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
     "tool_choice":{"type":"function","function":{"name":"get_weather"}}, "parallel_tool_calls":false}
    """)

    @Test func chatRequestToAnthropic() {
        let a = AnthropicTranslation.request(fromChat: chat, model: "claude-sonnet-4-5", defaultMaxTokens: 4096)
        #expect(a["model"] == .string("claude-sonnet-4-5"))
        #expect(a["max_tokens"] == .int(300))
        #expect(a["system"] == .string("be brief"))
        #expect(a["temperature"] == .double(0.2) && a["top_p"] == .double(0.9))
        #expect(a["stop_sequences"] == json(#"["END"]"#))
        #expect(a["metadata"] == json(#"{"user_id":"u-1"}"#))
        #expect(a["stream"] == .bool(true))
        let m = a["messages"]!.arrayValue!
        #expect(m.map { $0["role"]!.stringValue! } == ["user", "assistant", "user"])
        #expect(m[0]["content"] == json(#"[{"type":"text","text":"what is this"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]"#))
        #expect(m[1]["content"] == json(#"[{"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}}]"#))
        // The tool result and the next user turn merge into one user message, as Anthropic requires.
        #expect(m[2]["content"] == json(#"[{"type":"tool_result","tool_use_id":"call_1","content":"sunny"},{"type":"text","text":"thanks"}]"#))
        #expect(a["tools"] == json(#"[{"name":"get_weather","description":"w","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]"#))
        #expect(a["tool_choice"] == json(#"{"type":"tool","name":"get_weather","disable_parallel_tool_use":true}"#))
    }

    @Test func anthropicRequestToChatAndBack() {
        let a = AnthropicTranslation.request(fromChat: chat, model: "smart", defaultMaxTokens: 4096)
        let back = AnthropicIngress.chatRequest(fromMessages: a)
        let msgs = back["messages"]!.arrayValue!
        #expect(msgs.map { $0["role"]!.stringValue! } == ["system", "user", "assistant", "tool", "user"])
        #expect(msgs[0]["content"] == .string("be brief"))
        #expect(msgs[1]["content"] == json(#"[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]"#))
        #expect(msgs[2]["tool_calls"] == json(#"[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]"#))
        #expect(msgs[3] == json(#"{"role":"tool","tool_call_id":"call_1","content":"sunny"}"#))
        #expect(back["tools"] == chat["tools"])
        #expect(back["tool_choice"] == chat["tool_choice"])
        #expect(back["parallel_tool_calls"] == .bool(false))
        #expect(back["stop"] == json(#"["END"]"#) && back["user"] == .string("u-1"))
        #expect(back["stream_options"] == json(#"{"include_usage":true}"#))
    }

    @Test func anthropicResponseToChatAndBack() {
        let message = json("""
        {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
         "content":[{"type":"text","text":"Let me check."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}],
         "stop_reason":"tool_use","stop_sequence":null,
         "usage":{"input_tokens":10,"cache_read_input_tokens":90,"cache_creation_input_tokens":5,"output_tokens":7}}
        """)
        let c = AnthropicTranslation.chatResponse(fromMessage: message)
        #expect(c["object"] == .string("chat.completion") && c["model"] == .string("claude-sonnet-4-5"))
        let choice = c["choices"]!.arrayValue![0]
        #expect(choice["finish_reason"] == .string("tool_calls"))
        #expect(choice["message"]!["content"] == .string("Let me check."))
        #expect(choice["message"]!["tool_calls"] == json(#"[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]"#))
        #expect(c["usage"] == json(#"{"prompt_tokens":105,"completion_tokens":7,"total_tokens":112,"prompt_tokens_details":{"cached_tokens":90}}"#))
        let m = AnthropicIngress.message(fromChat: c)
        #expect(m["content"] == message["content"])
        #expect(m["stop_reason"] == .string("tool_use"))
        #expect(m["usage"]!["output_tokens"] == .int(7) && m["usage"]!["cache_read_input_tokens"] == .int(90))
    }

    @Test func stopReasonsMapBothWays() {
        let pairs: [(String, String)] = [("end_turn", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"), ("refusal", "content_filter")]
        for (stop, finish) in pairs {
            #expect(AnthropicTranslation.finishReason(fromStop: stop) == finish)
            #expect(AnthropicIngress.stopReason(fromFinish: finish) == stop)
        }
        #expect(AnthropicTranslation.finishReason(fromStop: "stop_sequence") == "stop")
    }

    static let anthropicStream = """
    event: message_start
    data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}

    event: ping
    data: {"type":"ping"}

    event: content_block_start
    data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}

    event: content_block_stop
    data: {"type":"content_block_stop","index":0}

    event: content_block_start
    data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\":"}}

    event: content_block_delta
    data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\\"Paris\\"}"}}

    event: content_block_stop
    data: {"type":"content_block_stop","index":1}

    event: message_delta
    data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":9}}

    event: message_stop
    data: {"type":"message_stop"}


    """

    @Test func anthropicStreamToChatChunks() throws {
        var s = AnthropicTranslation.StreamToChat(includeUsage: true)
        var chunks: [JSONValue] = []
        for e in events(Self.anthropicStream) { chunks += try s.translate(e) }
        #expect(s.complete)
        let deltas = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"] }
        #expect(deltas[0] == json(#"{"role":"assistant","content":""}"#))
        #expect(deltas[1] == json(#"{"content":"Hi"}"#))
        #expect(deltas[2] == json(#"{"tool_calls":[{"index":0,"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":""}}]}"#))
        #expect(deltas[3] == json(#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}"#))
        #expect(chunks.compactMap { $0["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue } == ["tool_calls"])
        #expect(chunks.last!["choices"] == .array([]))
        #expect(chunks.last!["usage"]!["prompt_tokens"] == .int(12) && chunks.last!["usage"]!["completion_tokens"] == .int(9))
        #expect(Set(chunks.map { $0["id"]!.stringValue! }) == ["chatcmpl-msg_1"])
    }

    @Test func chatChunksToAnthropicEventsRoundTrip() throws {
        var source = AnthropicTranslation.StreamToChat(includeUsage: true)
        var encoder = AnthropicIngress.StreamFromChat()
        var out = ByteBuffer()
        for e in events(Self.anthropicStream) { for c in try source.translate(e) { encoder.encode(c, into: &out) } }
        encoder.finish(into: &out)
        let original = events(Self.anthropicStream).filter { $0.event != "ping" }
        let rebuilt = events(String(buffer: out))
        #expect(rebuilt.map(\.event) == original.map(\.event))
        // Same content, same indexes, same stop reason and output tokens.
        for (a, b) in zip(rebuilt, original) where a.event == "content_block_delta" || a.event == "content_block_start" {
            #expect(json(a.data)["index"] == json(b.data)["index"])
            #expect(json(a.data)["delta"] == json(b.data)["delta"])
        }
        let delta = json(rebuilt.first { $0.event == "message_delta" }!.data)
        #expect(delta["delta"]!["stop_reason"] == .string("tool_use"))
        #expect(delta["usage"]!["output_tokens"] == .int(9) && delta["usage"]!["input_tokens"] == .int(12))
    }

    @Test func anthropicStreamErrorEventThrows() {
        var s = AnthropicTranslation.StreamToChat(includeUsage: false)
        let e = events("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")[0]
        #expect(throws: StreamError.self) { _ = try s.translate(e) }
    }

    @Test func openAIEncoderHidesUsageUnlessAsked() {
        let usage = json(#"{"id":"x","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1}}"#)
        var hidden = OpenAIStreamEncoder(includeUsage: false)
        var out = ByteBuffer()
        hidden.encode(usage, into: &out)
        #expect(out.readableBytes == 0)
        var shown = OpenAIStreamEncoder(includeUsage: true)
        shown.encode(usage, into: &out)
        shown.finish(into: &out)
        #expect(String(buffer: out).hasSuffix("data: [DONE]\n\n"))
        #expect(events(String(buffer: out)).count == 2)
    }

    @Test func chatRequestToGemini() {
        var c = chat
        c = c.setting("response_format", json(#"{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}"#))
        let g = GeminiTranslation.request(fromChat: c)
        #expect(g["systemInstruction"] == json(#"{"parts":[{"text":"be brief"}]}"#))
        let contents = g["contents"]!.arrayValue!
        #expect(contents.map { $0["role"]!.stringValue! } == ["user", "model", "user"])
        #expect(contents[0]["parts"] == json(#"[{"text":"what is this"},{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]"#))
        #expect(contents[1]["parts"] == json(#"[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]"#))
        // The tool result is answered by the function's name, looked up from the call's id.
        #expect(contents[2]["parts"] == json(#"[{"functionResponse":{"name":"get_weather","response":{"content":"sunny"}}},{"text":"thanks"}]"#))
        #expect(g["tools"] == json(#"[{"functionDeclarations":[{"name":"get_weather","description":"w","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}]"#))
        #expect(g["toolConfig"] == json(#"{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}}"#))
        #expect(g["generationConfig"] == json(#"{"temperature":0.2,"topP":0.9,"maxOutputTokens":300,"stopSequences":["END"],"responseMimeType":"application/json","responseJsonSchema":{"type":"object"}}"#))
    }

    @Test func geminiResponseToChat() {
        let g = json("""
        {"candidates":[{"content":{"role":"model","parts":[{"text":"ok "},{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},"finishReason":"STOP","index":0}],
         "usageMetadata":{"promptTokenCount":11,"candidatesTokenCount":4,"thoughtsTokenCount":2,"cachedContentTokenCount":3},"modelVersion":"gemini-2.5-flash","responseId":"r1"}
        """)
        let c = GeminiTranslation.chatResponse(fromGemini: g, model: "gemini-2.5-flash")
        let choice = c["choices"]!.arrayValue![0]
        #expect(choice["finish_reason"] == .string("tool_calls"))
        #expect(choice["message"]!["content"] == .string("ok "))
        #expect(choice["message"]!["tool_calls"] == json(#"[{"id":"call_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]"#))
        #expect(c["usage"]!["prompt_tokens"] == .int(11) && c["usage"]!["completion_tokens"] == .int(6))
        #expect(c["usage"]!["prompt_tokens_details"] == json(#"{"cached_tokens":3}"#))
        for (reason, finish) in [("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("STOP", "stop")] {
            #expect(GeminiTranslation.finishReason(reason, hasCalls: false) == finish)
        }
    }

    @Test func geminiStreamToChatChunks() throws {
        let text = """
        data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}],"modelVersion":"gemini-2.5-flash","responseId":"r1"}\r
        \r
        data: {"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2},"modelVersion":"gemini-2.5-flash"}\r
        \r

        """
        var s = GeminiTranslation.StreamToChat(includeUsage: true, model: "gemini-2.5-flash")
        var chunks: [JSONValue] = []
        for e in events(text) { chunks += try s.translate(e) }
        chunks += s.finish()
        #expect(s.complete)
        let content = chunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
        #expect(content == "Hello")
        #expect(chunks.compactMap { $0["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue } == ["stop"])
        #expect(chunks.last!["usage"]!["total_tokens"] == .int(7))
    }
}
