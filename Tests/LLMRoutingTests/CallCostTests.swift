import GatewayCore
import Testing

@testable import LLMRouting

/// Recorded provider usage objects and the cost each must produce, to the micro-dollar.
@Suite struct CallCostTests {
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
    }

    @Test func embeddingsAndUnknownShapes() {
        #expect(TokenUsage(openAI: json(#"{"prompt_tokens":8,"total_tokens":8}"#)) == TokenUsage(input: 8))
        #expect(TokenUsage(openAI: .null) == nil && TokenUsage(anthropic: json("{}")) == nil && TokenUsage(gemini: nil) == nil)
    }
}
