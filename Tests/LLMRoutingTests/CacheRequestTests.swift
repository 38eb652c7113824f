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
        #expect(f.scope.tenant == "team:platform" && f.exactKey != a.exactKey)
        // A consumer without a team named like a team does not share that team's answers.
        let g = try #require(request(#"{"model":"smart","temperature":0,"messages":[{"role":"user","content":"hi"}]}"#, consumer: Consumer(name: "platform")))
        #expect(g.scope.tenant == "consumer:platform" && g.exactKey != f.exactKey && g.scope != f.scope)
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

    /// Two consumers of one team asking the same words about different images, tool results or
    /// earlier turns: similar questions, different conversations. Their scopes differ, so no
    /// similarity lookup can answer one with the other's answer; the same words about the same
    /// conversation still can.
    @Test func aSimilarAnswerMustBelongToTheSameConversation() throws {
        func ask(_ messages: String, extra: String = "") throws -> CacheRequest {
            try #require(request(#"{"model":"smart","temperature":0\#(extra),"messages":[\#(messages)]}"#))
        }
        let q = #"{"type":"text","text":"what is the card number?"}"#
        let card1 = try ask(#"{"role":"user","content":[\#(q),{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}"#)
        let card2 = try ask(#"{"role":"user","content":[\#(q),{"type":"image_url","image_url":{"url":"data:image/png;base64,BBBB"}}]}"#)
        #expect(card1.question == card2.question && card1.scope != card2.scope && card1.exactKey != card2.exactKey)
        let reworded = try ask(#"{"role":"user","content":[{"type":"text","text":"which card number is it?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}"#)
        #expect(reworded.scope == card1.scope)
        let tool1 = try ask(#"{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"balance 10"},{"role":"user","content":"and now?"}"#)
        let tool2 = try ask(#"{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"balance 99"},{"role":"user","content":"and now?"}"#)
        #expect(tool1.scope != tool2.scope)
        let turn1 = try ask(#"{"role":"user","content":"hi"},{"role":"assistant","content":"A"},{"role":"user","content":"more"}"#)
        let turn2 = try ask(#"{"role":"user","content":"hi"},{"role":"assistant","content":"B"},{"role":"user","content":"more"}"#)
        #expect(turn1.scope != turn2.scope)
        let plain = try ask(#"{"role":"user","content":"hi"}"#)
        for extra in [#","tools":[{"type":"function","function":{"name":"f"}}]"#, #","tool_choice":"none""#,
                      #","response_format":{"type":"json_object"}"#, #","top_p":0.5"#, #","seed":7"#] {
            let other = try ask(#"{"role":"user","content":"hi"}"#, extra: extra)
            #expect(other.scope != plain.scope && other.exactKey != plain.exactKey, "\(extra)")
        }
    }

    /// Only complete, successful answers are kept.
    @Test func onlyCompleteAnswersAreCacheable() throws {
        func answer(_ json: String) -> Bool { CacheableAnswer.check(try! JSONParser.parse(json)) }
        #expect(answer(#"{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#))
        #expect(answer(#"{"choices":[{"message":{"content":"ok"},"finish_reason":"length"}]}"#))
        #expect(answer(#"{"choices":[{"message":{"tool_calls":[]},"finish_reason":"tool_calls"}]}"#))
        #expect(!answer(#"{"error":{"message":"overloaded"}}"#))
        #expect(!answer(#"{"error":{"message":"x"},"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}"#))
        #expect(!answer(#"{"choices":[]}"#))
        #expect(!answer(#"{"choices":[{"message":{"content":"partial"},"finish_reason":"content_filter"}]}"#))
        #expect(!answer(#"{"choices":[{"message":{"content":"cut"},"finish_reason":null}]}"#))
        #expect(!answer(#"{"id":"x"}"#))
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
                let c = try GatewayConfig.parse(yaml: yaml, environment: [:], sections: [LLMConfig.self])
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
