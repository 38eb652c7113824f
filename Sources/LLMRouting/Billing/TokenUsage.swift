import GatewayCore

/// What a call used, in disjoint parts that each have one price: every token is counted once.
/// Each provider reports usage its own way; `init(openAI:)`, `init(anthropic:)` and
/// `init(gemini:)` take them apart.
package struct TokenUsage: Sendable, Equatable {
    /// Prompt tokens neither read from nor written to a prompt cache.
    package var input = 0
    /// Prompt tokens read from the provider's cache (billed at `cached_input`).
    package var cachedInput = 0
    /// Prompt tokens written to the cache (Anthropic; billed at `cache_write`).
    package var cacheWrite = 0
    /// Completion tokens, reasoning included (billed at `output`).
    package var output = 0
    /// Of `output`, the reasoning ("thinking") tokens: reported, already billed in `output`.
    package var reasoning = 0

    package init(input: Int = 0, cachedInput: Int = 0, cacheWrite: Int = 0, output: Int = 0, reasoning: Int = 0) {
        self.input = Self.bounded(input)
        self.cachedInput = Self.bounded(cachedInput)
        self.cacheWrite = Self.bounded(cacheWrite)
        self.output = Self.bounded(output)
        self.reasoning = Self.bounded(reasoning)
    }

    /// The most tokens one count may hold (2^40, a thousand times any context window). Counts
    /// come from providers: a negative or absurd one is clamped, so sums and prices of them
    /// stay far from overflow and a hostile provider cannot make a call free or crash the gate.
    package static let maxCount = 1 << 40

    package static func bounded(_ n: Int) -> Int { min(max(n, 0), maxCount) }

    /// All prompt tokens, as OpenAI counts `prompt_tokens`.
    package var prompt: Int { input + cachedInput + cacheWrite }

    /// OpenAI (and Azure, and the chat-completions pivot): `prompt_tokens` includes
    /// `prompt_tokens_details.cached_tokens`; `completion_tokens` includes
    /// `completion_tokens_details.reasoning_tokens`. Embeddings report `prompt_tokens` only.
    package init?(openAI u: JSONValue?) {
        guard let u, u != .null, let prompt = u["prompt_tokens"]?.tokenCount ?? u["input_tokens"]?.tokenCount else { return nil }
        let cached = u["prompt_tokens_details"]?["cached_tokens"]?.tokenCount ?? u["input_tokens_details"]?["cached_tokens"]?.tokenCount ?? 0
        self.init(input: max(0, prompt - cached), cachedInput: min(cached, prompt),
                  output: u["completion_tokens"]?.tokenCount ?? u["output_tokens"]?.tokenCount ?? 0,
                  reasoning: u["completion_tokens_details"]?["reasoning_tokens"]?.tokenCount ?? 0)
    }

    /// Anthropic: `input_tokens` excludes `cache_read_input_tokens` and
    /// `cache_creation_input_tokens`; `output_tokens` includes thinking.
    package init?(anthropic u: JSONValue?) {
        guard let u, u != .null, u["input_tokens"] != nil || u["output_tokens"] != nil else { return nil }
        self.init(input: u["input_tokens"]?.tokenCount ?? 0, cachedInput: u["cache_read_input_tokens"]?.tokenCount ?? 0,
                  cacheWrite: u["cache_creation_input_tokens"]?.tokenCount ?? 0, output: u["output_tokens"]?.tokenCount ?? 0)
    }

    /// Gemini `usageMetadata`: `promptTokenCount` includes `cachedContentTokenCount`;
    /// `candidatesTokenCount` excludes `thoughtsTokenCount`, which is billed as output.
    package init?(gemini u: JSONValue?) {
        guard let u, u != .null, let prompt = u["promptTokenCount"]?.tokenCount else { return nil }
        let cached = u["cachedContentTokenCount"]?.tokenCount ?? 0
        let thoughts = u["thoughtsTokenCount"]?.tokenCount ?? 0
        self.init(input: max(0, prompt - cached), cachedInput: min(cached, prompt),
                  output: (u["candidatesTokenCount"]?.tokenCount ?? 0) + thoughts, reasoning: thoughts)
    }
}

/// The same readings straight from a usage object's bytes, for answers passed through as they
/// came: no tree is built (at 20,000 calls a second the tree's arrays and strings showed).
extension TokenUsage {
    private static let openAIKeys: [[UInt8]] = ["prompt_tokens", "input_tokens", "prompt_tokens_details", "input_tokens_details",
                                                "completion_tokens", "output_tokens", "completion_tokens_details"].map { Array($0.utf8) }
    private static let cachedTokens: [[UInt8]] = [Array("cached_tokens".utf8)]
    private static let reasoningTokens: [[UInt8]] = [Array("reasoning_tokens".utf8)]
    private static let anthropicKeys: [[UInt8]] = ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"]
        .map { Array($0.utf8) }

    /// As `init(openAI:)`, from the bytes of the `usage` value.
    package init?(openAIBytes u: UnsafeRawBufferPointer) {
        guard let s = JSONScanner.slots(Self.openAIKeys, in: u) else { return nil }
        func int(_ k: Int) -> Int? { s[k].flatMap { JSONScanner.int(UnsafeRawBufferPointer(rebasing: u[$0])).map(TokenUsage.bounded) } }
        func inner(_ k: Int, _ key: [[UInt8]]) -> Int? {
            guard let r = s[k] else { return nil }
            let object = UnsafeRawBufferPointer(rebasing: u[r])
            return JSONScanner.slots(key, in: object)?[0].flatMap { JSONScanner.int(UnsafeRawBufferPointer(rebasing: object[$0])).map(TokenUsage.bounded) }
        }
        guard let prompt = int(0) ?? int(1) else { return nil }
        let cached = inner(2, Self.cachedTokens) ?? inner(3, Self.cachedTokens) ?? 0
        self.init(input: max(0, prompt - cached), cachedInput: min(cached, prompt), output: int(4) ?? int(5) ?? 0,
                  reasoning: inner(6, Self.reasoningTokens) ?? 0)
    }

    /// As `init(anthropic:)`, from the bytes of the `usage` value.
    package init?(anthropicBytes u: UnsafeRawBufferPointer) {
        guard let s = JSONScanner.slots(Self.anthropicKeys, in: u), s[0] != nil || s[1] != nil else { return nil }
        func int(_ k: Int) -> Int { s[k].flatMap { JSONScanner.int(UnsafeRawBufferPointer(rebasing: u[$0])).map(TokenUsage.bounded) } ?? 0 }
        self.init(input: int(0), cachedInput: int(2), cacheWrite: int(3), output: int(1))
    }
}

extension JSONValue {
    /// An integer token count from a provider's usage, bounded (`TokenUsage.bounded`).
    var tokenCount: Int? { intValue.map(TokenUsage.bounded) }
}

/// What a call cost, exactly: pico-USD (10⁻¹² USD), so a ledger of millions of rows sums to the
/// cent in any order. Rounded to micro-USD (6 places) only when written for people.
package struct CallCost: Sendable, Equatable {
    package var picoUSD: Int64
    /// What the cached prompt tokens would have cost at the full input price, minus what they cost.
    package var savedByCachePicoUSD: Int64

    package init(picoUSD: Int64, savedByCachePicoUSD: Int64 = 0) {
        self.picoUSD = picoUSD
        self.savedByCachePicoUSD = savedByCachePicoUSD
    }

    /// The cost of `usage` at `prices`. A cache price the provider file does not give falls back
    /// to the input price (billing more, never less).
    package init(_ usage: TokenUsage, at prices: PriceSchedule) {
        let cached = prices.cachedInput ?? prices.input
        let write = prices.cacheWrite ?? prices.input
        picoUSD = prices.input.picoUSD(tokens: usage.input).addingSaturating(cached.picoUSD(tokens: usage.cachedInput))
            .addingSaturating(write.picoUSD(tokens: usage.cacheWrite)).addingSaturating(prices.output.picoUSD(tokens: usage.output))
        savedByCachePicoUSD = max(0, prices.input.picoUSD(tokens: usage.cachedInput).subtractingSaturating(cached.picoUSD(tokens: usage.cachedInput)))
    }

    /// Micro-USD, rounded half up (the ledger's unit: 6 decimal places).
    package static func micros(_ pico: Int64) -> Int64 { pico.addingSaturating(500_000) / 1_000_000 }

    package var microUSD: Int64 { Self.micros(picoUSD) }
    package var savedMicroUSD: Int64 { Self.micros(savedByCachePicoUSD) }

    /// "41.237500": micro-USD as a decimal with six places.
    package static func decimal(micros: Int64) -> String {
        ASCII.string(capacity: 28) { writeDecimal(micros: micros, into: $0, at: 0) }
    }

    /// `decimal(micros:)`'s text written at `at` (room for 28 bytes); returns the index after
    /// it. As bytes: it is formatted for every metered answer's budget header.
    static func writeDecimal(micros: Int64, into b: UnsafeMutableBufferPointer<UInt8>, at: Int) -> Int {
        let m = micros.magnitude
        var n = at
        if micros < 0 { b[n] = UInt8(ascii: "-"); n += 1 }
        n = ASCII.writeDecimal(Int64(m / 1_000_000), into: b, at: n)
        b[n] = UInt8(ascii: ".")
        return ASCII.writeDecimal(Int64(m % 1_000_000), minDigits: 6, into: b, at: n + 1)
    }
}
