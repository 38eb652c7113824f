import Foundation
import GatewayCore
import GatewayTesting
import NIOPosix
import Testing

@testable import LLMRouting

/// The AI gate in-process, mounted on the API gate's listener, against `FakeLLMProvider`s.
@Suite(.serialized) struct AIGateLiveTests {
    static let providerFiles = [
        ("fake-openai", "openai", "gpt-4o", #"{ header: authorization, format: "Bearer {key}" }"#),
        ("fake-anthropic", "anthropic", "claude-sonnet-4-5", #"{ header: x-api-key, format: "{key}" }"#),
        ("fake-gemini", "gemini", "gemini-2.5-flash", #"{ header: x-goog-api-key, format: "{key}" }"#),
    ]

    /// Runs `body` with a gateway whose models come from `models` (YAML list items) and two fakes.
    func withGateway(_ models: (FakeLLMProvider, FakeLLMProvider) -> String,
                     _ body: (GatewayHarness, FakeLLMProvider, FakeLLMProvider) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let a = try await FakeLLMProvider.start(name: "a", group: group)
        let b = try await FakeLLMProvider.start(name: "b", group: group)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tg-providers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, style, model, auth) in Self.providerFiles {
            try """
            name: \(name)
            api_style: \(style)
            auth: \(auth)
            models:
              \(model): { context_window: 128000, max_output_tokens: 4096, prices: [{ effective_from: 2025-01-01, source: test, input: 1.00, output: 2.00 }] }
            """.write(to: dir.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
        }
        let yaml = """
        llm:
          providers_dir: \(dir.path)
          retries: { attempts: 2, base_delay: 1ms }
          models:
        \(models(a, b))
        """
        let harness = try await GatewayHarness.start(yaml: yaml, sections: [LLMConfig.self]) { config, core in
            let catalog = try DeploymentCheck.validate(config.llm!, configFile: nil)
            return [AIGate(config: config, catalog: catalog, configFile: nil, core: core)]
        }
        do {
            try await body(harness, a, b)
        } catch {
            try? await harness.stop()
            throw error
        }
        try await harness.stop()
        try await a.stop()
        try await b.stop()
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(at: dir)
    }

    func post(_ h: GatewayHarness, _ path: String, _ json: String) async throws -> String {
        let request = "POST \(path) HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\nConnection: close\r\n\r\n\(json)"
        return try await RawHTTPClient.exchange(request, port: h.port, group: h.group)
    }

    static func deployment(_ provider: String, _ model: String, _ fake: FakeLLMProvider) -> String {
        let base = provider == "fake-openai" ? fake.baseURL + "/v1" : provider == "fake-gemini" ? fake.baseURL + "/v1beta" : fake.baseURL
        return "{ provider: \(provider), model: \(model), base_url: \"\(base)\", api_key: sk-test }"
    }

    @Test func anOpenAICallIsServedByEachProviderStyle() async throws {
        try await withGateway({ a, _ in
            """
                - { name: o, deployments: [\(Self.deployment("fake-openai", "gpt-4o", a))] }
                - { name: c, deployments: [\(Self.deployment("fake-anthropic", "claude-sonnet-4-5", a))] }
                - { name: g, deployments: [\(Self.deployment("fake-gemini", "gemini-2.5-flash", a))] }
            """
        }) { h, a, _ in
            for (model, provider) in [("o", "fake-openai"), ("c", "fake-anthropic"), ("g", "fake-gemini")] {
                let response = try await post(h, "/v1/chat/completions", #"{"model":"\#(model)","messages":[{"role":"user","content":"hi"}]}"#)
                #expect(response.hasPrefix("HTTP/1.1 200"), "\(model): \(response)")
                #expect(response.contains("x-triplegate-provider: \(provider)"))
                #expect(response.contains(#""object":"chat.completion""#) || response.contains(#""object": "chat.completion""#))
                #expect(response.contains("Hello from a"))
            }
            #expect(a.requests.map(\.path) == ["/v1/chat/completions", "/v1/messages", "/v1beta/models/gemini-2.5-flash:generateContent"])
            #expect(a.requests[1].headers.first(name: "x-api-key") == "sk-test")
        }
    }

    @Test func a429FailsOverToTheNextDeployment() async throws {
        try await withGateway({ a, b in
            "    - { name: m, deployments: [\(Self.deployment("fake-openai", "gpt-4o", a)), \(Self.deployment("fake-anthropic", "claude-sonnet-4-5", b))] }"
        }) { h, a, b in
            a.then(.status(429, headers: [("retry-after", "0")]))
            let response = try await post(h, "/v1/chat/completions", #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(response.hasPrefix("HTTP/1.1 200"))
            #expect(response.contains("x-triplegate-attempts: 2") && response.contains("Hello from b"))
            #expect(a.requests.count == 1 && b.requests.count == 1)
        }
    }

    @Test func aStreamCutAfterItsFirstEventEndsWithAnErrorEvent() async throws {
        try await withGateway({ a, _ in
            "    - { name: m, deployments: [\(Self.deployment("fake-anthropic", "claude-sonnet-4-5", a))] }"
        }) { h, a, _ in
            a.then(.cutAfter(events: 3))
            let response = try await post(h, "/v1/chat/completions", #"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(response.hasPrefix("HTTP/1.1 200"))
            #expect(response.contains(#"data: {"error":"#))
            #expect(!response.contains("[DONE]"))
            // Before the first event, the same cut fails over (here: retried on the same deployment).
            a.then(.cutAfter(events: 0))
            let retried = try await post(h, "/v1/chat/completions", #"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(retried.contains("x-triplegate-attempts: 2") && retried.contains("data: [DONE]"))
        }
    }

    @Test func anAnthropicCallStreamsFromGemini() async throws {
        try await withGateway({ a, _ in
            "    - { name: g, deployments: [\(Self.deployment("fake-gemini", "gemini-2.5-flash", a))] }"
        }) { h, a, _ in
            let response = try await post(h, "/v1/messages", #"{"model":"g","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
            #expect(response.hasPrefix("HTTP/1.1 200"), "\(response)")
            let names = response.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
            #expect(names.first == "message_start" && names.last == "message_stop", "\(names)")
            // The usage Gemini sends with its last event reaches the caller's message_delta.
            #expect(response.contains(#""usage":{"input_tokens":5,"output_tokens":4"#))
            #expect(names.contains("content_block_delta") && names.contains("message_delta"))
            #expect(a.requests.last?.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent")
        }
    }
}
