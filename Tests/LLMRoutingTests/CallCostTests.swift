import GatewayCore
import Testing

@testable import LLMRouting

/// Recorded provider usage objects and the cost each must produce, to the micro-dollar.
@Suite struct CallCostTests {
    /// Passed-through answers are read from bytes; they must read exactly as the tree does.
    @Test func usageFromBytesReadsAsUsageFromTheTree() throws {
        let usages = [
            #"{"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500, "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 192}}"#,
            #"{"input_tokens": 10, "output_tokens": 4, "input_tokens_details": {"cached_tokens": 2}}"#,
            #"{"prompt_tokens": 12, "completion_tokens": 20.0}"#,
            #"{"prompt_tokens": 5, "prompt_tokens_details": null, "completion_tokens_details": {}}"#,
            #"{"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}}"#,
            #"{"completion_tokens": 20}"#, #"{}"#, "null", "[]", #""x""#,
            #"{"input_tokens": 25, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200, "output_tokens": 90}"#,
            #"{"output_tokens": 3}"#, #"{"input_tokens": "7", "output_tokens": 1}"#, #"{"cache_read_input_tokens": 4}"#,
        ]
        for text in usages {
            let tree = try JSONParser.parse(text)
            let bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBytes { TokenUsage(openAIBytes: $0) } == TokenUsage(openAI: tree), "\(text)")
            #expect(bytes.withUnsafeBytes { TokenUsage(anthropicBytes: $0) } == TokenUsage(anthropic: tree), "\(text)")
        }
    }

    func prices(_ input: String, _ output: String, cached: String? = nil, write: String? = nil) -> PriceSchedule {
        PriceSchedule(effectiveFrom: 0, source: "test", input: TokenPrice(decimal: input)!, output: TokenPrice(decimal: output)!,
                      cachedInput: cached.flatMap(TokenPrice.init(decimal:)), cacheWrite: write.flatMap(TokenPrice.init(decimal:)))
    }

    @Test func openAIWithCachedAndReasoningTokens() throws {
        // gpt-4o: $2.50 in, $1.25 cached in, $10.00 out per 1M.
        let u = try #require(TokenUsage(openAI: json(#"{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":64}}"#)))
        #expect(u == TokenUsage(input: 86, cachedInput: 1920, output: 300, reasoning: 64))
        let cost = CallCost(u, at: prices("2.50", "10.00", cached: "1.25"))
        #expect(cost.picoUSD == 5_615_000_000)
        #expect(cost.microUSD == 5_615 && CallCost.decimal(micros: cost.microUSD) == "0.005615")
        #expect(cost.savedMicroUSD == 2_400)
    }

    @Test func anthropicWithCacheReadAndWrite() throws {
        // claude-sonnet-4-5: $3 in, $0.30 cache read, $3.75 cache write, $15 out per 1M.
        let u = try #require(TokenUsage(anthropic: json(#"{"input_tokens":50,"cache_read_input_tokens":10000,"cache_creation_input_tokens":2000,"output_tokens":500}"#)))
        #expect(u.prompt == 12_050)
        let cost = CallCost(u, at: prices("3.00", "15.00", cached: "0.30", write: "3.75"))
        #expect(cost.microUSD == 18_150)
        #expect(cost.savedMicroUSD == 27_000)
    }

    @Test func geminiThoughtsAreOutputAndCachedContentIsCheaper() throws {
        let u = try #require(TokenUsage(gemini: json(#"{"promptTokenCount":1000,"cachedContentTokenCount":400,"candidatesTokenCount":200,"thoughtsTokenCount":100}"#)))
        #expect(u == TokenUsage(input: 600, cachedInput: 400, output: 300, reasoning: 100))
        #expect(CallCost(u, at: prices("0.30", "2.50", cached: "0.075")).microUSD == 960)
    }

    @Test func missingCachePricesBillAtTheInputPrice() {
        let u = TokenUsage(input: 10, cachedInput: 10, cacheWrite: 10, output: 0)
        let cost = CallCost(u, at: prices("1.00", "2.00"))
        #expect(cost.microUSD == 30 && cost.savedByCachePicoUSD == 0)
    }

    @Test func roundingHappensOnceAtMicroDollars() {
        // 1 token at $0.15/1M is 0.15 µUSD: kept exactly until rounded.
        #expect(CallCost(TokenUsage(input: 1), at: prices("0.15", "0.60")).picoUSD == 150_000)
        #expect(CallCost.micros(150_000) == 0 && CallCost.micros(500_000) == 1 && CallCost.micros(525_000) == 1)
        // A million such calls sum exactly: 0.15 USD, not a million rounded zeros.
        #expect(CallCost.micros(150_000 * 1_000_000) == 150_000)
        #expect(CallCost.decimal(micros: 41_237_500) == "41.237500" && CallCost.decimal(micros: 7) == "0.000007")
        #expect(CallCost.decimal(micros: 0) == "0.000000" && CallCost.decimal(micros: -1_500_000) == "-1.500000")
        #expect(CallCost.decimal(micros: Int64.max) == "9223372036854.775807")
    }

    @Test func embeddingsAndUnknownShapes() {
        #expect(TokenUsage(openAI: json(#"{"prompt_tokens":8,"total_tokens":8}"#)) == TokenUsage(input: 8))
        #expect(TokenUsage(openAI: .null) == nil && TokenUsage(anthropic: json("{}")) == nil && TokenUsage(gemini: nil) == nil)
    }
}

/// Streaming variants of the golden set: the usage a stream reports, read as the gateway reads it.
@Suite struct StreamedCostTests {
    @Test func anthropicStreamUsageKeepsCacheReadsAndWritesApart() throws {
        let text = """
        event: message_start
        data: {"type":"message_start","message":{"id":"m","model":"claude-sonnet-4-5","usage":{"input_tokens":50,"cache_read_input_tokens":10000,"cache_creation_input_tokens":2000,"output_tokens":1}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":500}}

        event: message_stop
        data: {"type":"message_stop"}


        """
        var s = AnthropicTranslation.StreamToChat(includeUsage: true)
        for e in events(text) { _ = try s.translate(e) }
        let u = try #require(s.nativeUsage)
        #expect(u == TokenUsage(input: 50, cachedInput: 10_000, cacheWrite: 2_000, output: 500))
        let prices = PriceSchedule(effectiveFrom: 0, source: "t", input: TokenPrice(decimal: "3")!, output: TokenPrice(decimal: "15")!,
                                   cachedInput: TokenPrice(decimal: "0.30"), cacheWrite: TokenPrice(decimal: "3.75"))
        #expect(CallCost(u, at: prices).microUSD == 18_150)  // the same as the non-streaming golden answer
    }

    @Test func openAIStreamUsageChunkWithCachedAndReasoningTokens() throws {
        let chunk = json(#"{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":2006,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":64}}}"#)
        var s = OpenAIStreamSource()
        let out = try s.translate(events("data: \(chunk.text)\n\n")[0])
        let u = try #require(TokenUsage(openAI: out[0]["usage"]))
        let prices = PriceSchedule(effectiveFrom: 0, source: "t", input: TokenPrice(decimal: "2.50")!, output: TokenPrice(decimal: "10")!,
                                   cachedInput: TokenPrice(decimal: "1.25"), cacheWrite: nil)
        #expect(CallCost(u, at: prices).microUSD == 5_615)
    }

    @Test func geminiStreamUsageCountsThoughtsAsOutput() throws {
        var s = GeminiTranslation.StreamToChat(includeUsage: true, model: "g")
        _ = try s.translate(events(#"data: {"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1000,"cachedContentTokenCount":400,"candidatesTokenCount":200,"thoughtsTokenCount":100}}"# + "\n\n")[0])
        #expect(s.nativeUsage == TokenUsage(input: 600, cachedInput: 400, output: 300, reasoning: 100))
    }
}
