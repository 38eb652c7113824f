import GatewayCore
import NIOHTTP1
import Testing

@testable import LLMRouting

@Suite struct CacheRequestTests {
    let config: LLMCacheConfig = {
        var c = LLMCacheConfig()
        c.semantic = LLMCacheConfig.Semantic()
        return c
    }()
    let app = Consumer(name: "app", team: "growth")

    func request(_ json: String, headers: HTTPHeaders = [:], consumer: Consumer? = nil, endpoint: Endpoint = .chatCompletions) -> CacheRequest? {
        CacheRequest(body: try! JSONParser.parse(json), endpoint: endpoint, headers: headers, consumer: consumer ?? app, model: "smart", config: config)
    }

    @Test func keyOrderSpacingNumbersAndDeliveryDoNotChangeTheExactKey() throws {
        let a = try #require(request(#"{"model":"smart","temperature":0,"messages":[{"role":"user","content":"hi"}]}"#))
        let b = try #require(request(#"{ "messages": [ {"content": "hi", "role": "user"} ], "temperature": 0.0, "model": "smart", "stream": true, "stream_options": {"include_usage": true}, "user": "u1" }"#))
        #expect(a.exactKey == b.exactKey && a.scope == b.scope)
        let c = try #require(request(#"{"model":"smart","temperature":0,"messages":[{"role":"user","content":"hi!"}]}"#))
        #expect(c.exactKey != a.exactKey && c.scope == a.scope)  // another question, same scope
        let d = try #require(request(#"{"model":"smart","temperature":0,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#))
        #expect(d.scope.parameters != a.scope.parameters && d.exactKey != a.exactKey)
        let e = try #require(request(#"{"model":"smart","temperature":0,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#))
        #expect(e.scope.systemPrompt != a.scope.systemPrompt)
        let f = try #require(request(#"{"model":"smart","temperature":0,"messages":[{"role":"user","content":"hi"}]}"#, consumer: Consumer(name: "ops", team: "platform")))
        #expect(f.scope.tenant == "platform" && f.exactKey != a.exactKey)
    }

    @Test func whatIsEmbeddedAndWhenSimilarityIsAllowed() throws {
        let two = try #require(request(#"{"model":"smart","temperature":0.2,"messages":[{"role":"user","content":"Tell me about Paris"},{"role":"assistant","content":"Paris is..."},{"role":"user","content":[{"type":"text","text":"and its river?"}]}]}"#))
        #expect(two.question == "Tell me about Paris\nand its river?")
        // The providers' default temperature (1) is above the limit; so is a long conversation.
        #expect(request(#"{"model":"smart","messages":[{"role":"user","content":"hi"}]}"#)?.question == nil)
        let long = (0..<5).map { _ in #"{"role":"user","content":"x"}"# }.joined(separator: ",")
        #expect(request(#"{"model":"smart","temperature":0,"messages":[\#(long)]}"#)?.question == nil)
        // Several choices, or other endpoints, are not cached at all.
        #expect(request(#"{"model":"smart","n":2,"messages":[{"role":"user","content":"hi"}]}"#) == nil)
        #expect(request(#"{"model":"smart","input":"hi"}"#, endpoint: .embeddings) == nil)
    }

    @Test func cacheControlDirectives() throws {
        let body = #"{"model":"smart","messages":[{"role":"user","content":"hi"}]}"#
        let plain = try #require(request(body))
        #expect(plain.read && plain.write)
        let noCache = try #require(request(body, headers: ["Cache-Control": "no-cache"]))
        #expect(!noCache.read && noCache.write)
        let noStore = try #require(request(body, headers: ["cache-control": "max-age=0, no-store"]))
        #expect(noStore.read && !noStore.write)
    }

    @Test func configIsReadWithPaths() {
        func problems(_ cache: String) -> [String] {
            let yaml = "llm:\n  models: [{ name: m, deployments: [{ provider: openai, model: gpt-4o, api_key: k }] }]\n  cache:\n" + cache
            do {
                let c = try GatewayConfig.parse(yaml: yaml, environment: [:])
                return c.llm?.cache == nil ? ["no cache"] : []
            } catch {
                return error.problems.map { "\($0.path): \($0.message)" }
            }
        }
        #expect(problems("    exact: { ttl: 10m }\n    semantic: { embedding_model: m, threshold: 0.9, scope: [team], storage: int8 }\n").isEmpty)
        #expect(problems("    semantic: { embedding_model: nope, threshold: 1.5, colour: red, storage: fp16 }\n") == [
            "llm.cache.semantic.threshold: must be <= 1.0 (got 1.5)",
            "llm.cache.semantic.storage: must be float32 or int8 (got \"fp16\")",
            "llm.cache.semantic.colour: unknown key",
            "llm.cache.semantic.embedding_model: names no model in llm.models (got \"nope\")",
        ])
    }
}
