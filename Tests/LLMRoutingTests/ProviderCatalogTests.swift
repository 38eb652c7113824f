import Foundation
import GatewayCore
import Testing

@testable import LLMRouting

@Suite struct TokenPriceTests {
    @Test func decimalsAreExact() {
        #expect(TokenPrice(decimal: "2.50")?.microsPerMillion == 2_500_000)
        #expect(TokenPrice(decimal: "0.0375")?.microsPerMillion == 37_500)
        #expect(TokenPrice(decimal: "75")?.microsPerMillion == 75_000_000)
        #expect(TokenPrice(decimal: "0.000001")?.microsPerMillion == 1)
        for bad in ["", "-1", "1e3", "1.", ".5", "0.0000001", "1,5", "abc", "1.2.3", " 1", "1000000000"] {
            #expect(TokenPrice(decimal: bad) == nil, "\(bad)")
        }
        #expect(TokenPrice(decimal: "2.50")?.description == "2.5")
        #expect(TokenPrice(decimal: "0.0375")?.description == "0.0375")
        #expect(TokenPrice(decimal: "18.75")?.description == "18.75")
    }

    @Test func costsAreExactInPicoDollars() throws {
        let price = try #require(TokenPrice(decimal: "2.50"))
        // 9,120,331 tokens at $2.50 per 1M = $22.8008275, with no rounding anywhere.
        #expect(price.picoUSD(tokens: 9_120_331) == 22_800_827_500_000)
        let tiny = try #require(TokenPrice(decimal: "0.075"))
        #expect(tiny.picoUSD(tokens: 1) == 75_000)
        // A thousand one-token calls cost exactly what one thousand-token call does.
        #expect((0..<1000).reduce(Int64(0)) { s, _ in s + tiny.picoUSD(tokens: 1) } == tiny.picoUSD(tokens: 1000))
    }

    @Test func isoDays() {
        #expect(ProviderCatalog.day(fromISODate: "1970-01-01") == 0)
        #expect(ProviderCatalog.day(fromISODate: "2024-02-29") == 19782)
        #expect(ProviderCatalog.day(fromISODate: "2023-02-29") == nil)
        #expect(ProviderCatalog.day(fromISODate: "2026-13-01") == nil)
        #expect(ProviderCatalog.day(fromISODate: "26-11-22") == nil)
        let d = ProviderCatalog.day(fromISODate: "2026-11-22")
        #expect(d == Int(ISO8601DateFormatter().date(from: "2026-11-22T00:00:00Z")!.timeIntervalSince1970) / 86400)
    }
}

@Suite struct ProviderCatalogTests {
    static let shippedFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("providers").path

    /// Package.swift embeds each file by name: a file added to the folder but not to the list
    /// (or changed since the build) shows here.
    @Test func theBinaryHoldsEveryShippedFileAsItIs() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.shippedFolder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(ProviderCatalog.shippedFiles.map(\.file) == files)
        for (file, yaml) in ProviderCatalog.shippedFiles {
            #expect(FileManager.default.contents(atPath: Self.shippedFolder + "/" + file) == Data(yaml), "\(file)")
        }
        // Read from the folder, they make the same catalog.
        let fromFolder = try ProviderCatalog.load(directory: Self.shippedFolder)
        #expect(fromFolder.files == files && Set(fromFolder.providers.keys) == Set(ProviderCatalog.shipped.providers.keys))
    }

    @Test func shippedProvidersLoad() throws {
        let catalog = ProviderCatalog.shipped
        #expect(Set(catalog.providers.keys) == ["openai", "azure-openai", "anthropic", "gemini", "openai-compatible"])
        let openai = try #require(catalog.providers["openai"])
        #expect(openai.apiStyle == .openai)
        #expect(openai.auth.value(for: "sk-1") == "Bearer sk-1")
        let gpt4o = try #require(openai.models["gpt-4o"])
        #expect(gpt4o.contextWindow == 128_000 && gpt4o.maxOutputTokens == 16_384)
        let today = try #require(ProviderCatalog.day(fromISODate: "2026-11-22"))
        #expect(gpt4o.price(onDay: today)?.input.description == "2.5")
        #expect(gpt4o.price(onDay: today)?.cachedInput?.description == "1.25")
        let sonnet = try #require(catalog.providers["anthropic"]?.models["claude-sonnet-4-5"]?.price(onDay: today))
        #expect(sonnet.cacheWrite?.description == "3.75" && sonnet.output.description == "15")
        #expect(catalog.providers["anthropic"]?.auth == ProviderAuth(header: "x-api-key", format: "{key}"))
        #expect(catalog.providers["openai"]?.models["text-embedding-3-small"]?.kind == .embedding)
        // Every model everywhere has a price in force today and a source for it.
        for p in catalog.providers.values {
            for m in p.models.values {
                #expect(m.price(onDay: today)?.source.hasPrefix("https://") == true, "\(p.name)/\(m.name)")
            }
        }
    }

    @Test func theNewestScheduleNotInTheFutureApplies() throws {
        let spec = try ProviderCatalog.parse(yaml: """
            name: p
            api_style: openai
            models:
              m:
                context_window: 1000
                max_output_tokens: 100
                prices:
                  - { effective_from: 2025-01-01, source: "https://x/1", input: 1, output: 2 }
                  - { effective_from: 2026-01-01, source: "https://x/2", input: 0.5, output: 1 }
            """, source: "p.yaml")
        let m = try #require(spec.models["m"])
        #expect(m.price(onDay: ProviderCatalog.day(fromISODate: "2024-12-31")!) == nil)
        #expect(m.price(onDay: ProviderCatalog.day(fromISODate: "2025-06-01")!)?.input.description == "1")
        #expect(m.price(onDay: ProviderCatalog.day(fromISODate: "2026-01-01")!)?.input.description == "0.5")
    }

    @Test func everyProblemIsReportedWithItsPath() {
        do {
            _ = try ProviderCatalog.parse(yaml: """
                name: p
                api_style: soap
                base_url: ftp://x
                auth: { header: x-key, format: "nokey" }
                models:
                  m:
                    max_output_tokens: 100
                    prices:
                      - { effective_from: 2025-02-30, source: "https://x", input: 1.1234567, output: -2 }
                      - { source: "https://x", output: 1 }
                    colour: blue
                """, source: "p.yaml")
            Issue.record("accepted")
        } catch {
            let found = error.problems.map(\.description)
            for expected in [
                "api_style: must be one of",
                "base_url:",
                "auth.format: must contain {key}",
                "models.m.context_window: is required",
                "models.m.prices[0].effective_from: must be a date YYYY-MM-DD",
                "models.m.prices[0].input: must be a decimal number of USD per 1M tokens with at most 6 decimals",
                "models.m.prices[0].output: must be a decimal number",
                "models.m.prices[1].effective_from: is required",
                "models.m.prices[1].input: is required",
                "models.m.colour: unknown key",
            ] {
                #expect(found.contains { $0.hasPrefix(expected) }, "missing \(expected) in \(found)")
            }
        }
    }
}

/// `check` reports every problem of a file in one run: the core's and the AI gate's alike.
@Suite struct OnePassCheckTests {
    func problems(_ yaml: String) -> [String] {
        do {
            _ = try GatewayConfig.parse(yaml: yaml, environment: [:], sections: [LLMConfig.self], checks: [DeploymentCheck.section])
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    /// A config that passes carries the catalog it was checked against: serving it reads the
    /// provider files no second time.
    @Test func aPassingConfigCarriesItsCatalog() throws {
        let yaml = """
            llm:
              models:
                - { name: smart, deployments: [{ provider: openai, model: gpt-4o, api_key: sk-1 }] }
            """
        let config = try GatewayConfig.parse(yaml: yaml, environment: [:], sections: [LLMConfig.self], checks: [DeploymentCheck.section])
        #expect(DeploymentCheck.catalog(checkedIn: config)?.providers["openai"] != nil)
        // Read without the check, it carries none (and serving it loads the catalog itself).
        #expect(DeploymentCheck.catalog(checkedIn: try GatewayConfig.parse(yaml: yaml, environment: [:], sections: [LLMConfig.self])) == nil)
    }

    @Test func aBadListenerAndAnUnknownModelAreBothReported() {
        #expect(problems("""
            server: { listen: "nowhere" }
            llm:
              models:
                - { name: smart, deployments: [{ provider: openai, model: gpt-5-imaginary, api_key: sk-1 }] }
            """) == [
            "server.listen: must be host:port (got \"nowhere\")",
            "llm.models[0].deployments[0].model: openai lists no model \"gpt-5-imaginary\", so its calls could not be priced (add it to a provider file)",
        ])
    }

    /// A section the reader already found wrong is not checked again: its values may be
    /// placeholders, and one mistake is reported once.
    @Test func aSectionWithReaderProblemsIsNotCheckedTwice() {
        let found = problems("""
            llm:
              models:
                - { name: smart, deployments: [{ provider: openai, model: gpt-5-imaginary, api_key: sk-1, weight: lots }] }
            """)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("llm.models[0].deployments[0].weight") == true)
    }

    @Test func aBrokenProviderFileIsReportedAtTheProvidersFolder() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("one-pass-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "name: broken\napi_style: nope\n".write(to: dir.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        let found = problems("""
            server: { listen: "nowhere" }
            llm:
              providers_dir: \(dir.path)
              models:
                - { name: smart, deployments: [{ provider: openai, model: gpt-4o, api_key: sk-1 }] }
            """)
        #expect(found.first == "server.listen: must be host:port (got \"nowhere\")")
        #expect(found.dropFirst().allSatisfy { $0.hasPrefix("llm.providers_dir: \(dir.path)/broken.yaml") }, "\(found)")
        #expect(found.count >= 2)
    }
}

@Suite struct LLMConfigTests {
    func problems(_ yaml: String) -> [String] {
        do {
            let config = try GatewayConfig.parse(yaml: yaml, environment: ["OPENAI_API_KEY": "sk-test", "EMPTY": ""], sections: [LLMConfig.self])
            let catalog = ProviderCatalog.shipped
            return DeploymentCheck.problems(config.llm ?? LLMConfig(), catalog: catalog).map(\.description)
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test func theIssueExampleReadsWithDefaults() throws {
        let config = try GatewayConfig.parse(yaml: """
            llm:
              models:
                - name: smart
                  deployments:
                    - { provider: openai, model: gpt-4o, api_key: "${OPENAI_API_KEY}", weight: 3 }
                    - { provider: azure-openai, model: gpt-4o, deployment: gpt4o-eu, base_url: "https://x.openai.azure.com", api_version: "2024-10-21", api_keys: [a, b], weight: 1 }
                  fallbacks: [smart-backup]
                  routing: weighted
                - name: smart-backup
                  deployments: [{ provider: anthropic, model: claude-sonnet-4-5, api_key: k }]
              retries: { attempts: 2, backoff: exponential, on: [429, 500, 502, 503, 504, timeout, connect] }
              cooldown: { failures: 3, for: 30s }
            """, environment: ["OPENAI_API_KEY": "sk-test"], sections: [LLMConfig.self])
        let llm = try #require(config.llm)
        #expect(llm.models.map(\.name) == ["smart", "smart-backup"])
        #expect(llm.models[0].deployments[0].apiKeys == ["sk-test"])
        #expect(llm.models[0].deployments[1].apiKeys == ["a", "b"])
        #expect(llm.models[0].fallbackOn == [.errors, .contextWindow, .contentPolicy])
        #expect(llm.retries.on == [.status(429), .status(500), .status(502), .status(503), .status(504), .timeout, .connect])
        #expect(llm.cooldown.failures == 3 && llm.cooldown.duration == .seconds(30))
        let catalog = ProviderCatalog.shipped
        #expect(DeploymentCheck.problems(llm, catalog: catalog).isEmpty)
        #expect(!config.effectiveJSON.text.contains("sk-test"))
    }

    @Test func everyProblemHasItsPath() {
        let found = problems("""
            llm:
              models:
                - name: a
                  deployments:
                    - { provider: openai, model: gpt-5-imaginary, api_key: "${EMPTY}" }
                    - { provider: azure-openai, model: gpt-4o, api_key: k }
                    - { provider: nobody, model: m, api_key: k }
                    - { provider: openai-compatible, model: llama, api_key: k }
                  fallbacks: [a, b]
                  routing: random
                - name: a
                  deployments: [{ provider: openai, model: gpt-4o, api_key: k, weight: 0 }]
              retries: { on: [429, teapot], base_delay: 2s, max_delay: 1s }
            """)
        for expected in [
            "llm.models[0].deployments[0].api_key: is empty (is its environment variable set?)",
            "llm.models[0].routing: must be one of",
            "llm.retries.on[1]: must be a 4xx/5xx status, timeout or connect",
            "llm.models[1].name: duplicates llm.models[0].name",
            "llm.models[0].fallbacks[0]: names the model itself",
            "llm.models[0].fallbacks[1]: names no model in llm.models",
            "llm.models[1].deployments: every weight is 0",
            "llm.retries.max_delay: must be at least base_delay",
        ] {
            #expect(found.contains { $0.hasPrefix(expected) }, "missing \(expected) in \(found)")
        }
        let catalogProblems = problems("""
            llm:
              models:
                - name: a
                  deployments:
                    - { provider: openai, model: gpt-5-imaginary, api_key: k }
                    - { provider: azure-openai, model: gpt-4o, api_key: k }
                    - { provider: nobody, model: m, api_key: k }
                    - { provider: openai-compatible, model: llama, api_key: k }
            """)
        for expected in [
            "llm.models[0].deployments[0].model: openai lists no model \"gpt-5-imaginary\"",
            "llm.models[0].deployments[1].base_url: is required: provider azure-openai has no default base URL",
            "llm.models[0].deployments[1].deployment: is required for Azure OpenAI",
            "llm.models[0].deployments[1].api_version: is required for Azure OpenAI",
            "llm.models[0].deployments[2].provider: names no provider (known: anthropic, azure-openai, gemini, openai, openai-compatible)",
            "llm.models[0].deployments[3].base_url: is required",
        ] {
            #expect(catalogProblems.contains { $0.hasPrefix(expected) }, "missing \(expected) in \(catalogProblems)")
        }
    }
}

@Suite struct LLMSpendConfigTests {
    func problems(_ llm: String) -> [String] {
        let yaml = "llm:\n  models: [{ name: m, deployments: [{ provider: openai, model: gpt-4o, api_key: k }] }]\n" + llm
        do {
            _ = try GatewayConfig.parse(yaml: yaml, environment: [:], sections: [LLMConfig.self])
            return []
        } catch {
            return error.problems.map { "\($0.path): \($0.message)" }
        }
    }

    @Test func limitsAndBudgetsAreReadExactlyAndCheckedWithPaths() throws {
        let config = try GatewayConfig.parse(yaml: """
            llm:
              models: [{ name: m, deployments: [{ provider: openai, model: gpt-4o, api_key: k }] }]
              limits: [{ by: team, model: m, tokens_per_day: 5_000_000 }]
              budgets:
                - { team: growth, usd: 500.10, period: month, soft_alert_at: 0.8 }
                - { key: k1, usd: "0.000001", period: fixed, from: 2026-11-01, to: 2026-12-01 }
            """, environment: [:], sections: [LLMConfig.self])
        let llm = try #require(config.llm)
        #expect(llm.limits.first?.by == .team && llm.limits.first?.tokensPerDay == 5_000_000)
        #expect(llm.budgets.map(\.microUSD) == [500_100_000, 1])
        #expect(llm.budgets[1].from == Int64(CivilDate.day(fromISODate: "2026-11-01")!) * 86_400_000)
        #expect(llm.counters == .local && llm.ledger)
        #expect(problems("  limits: [{ by: team }]") == ["llm.limits[0].tokens_per_minute: give at least one of tokens_per_minute, requests_per_minute, tokens_per_day, requests_per_day"])
        #expect(problems("  budgets: [{ team: a, usd: 1.0000001 }]") == ["llm.budgets[0].usd: must be a USD amount such as 500 or 12.50, at most 6 decimals (got \"1.0000001\")"])
        #expect(problems("  budgets: [{ team: a, consumer: b, usd: 1 }]") == ["llm.budgets[0].team: name exactly one of consumer, team or key"])
        #expect(problems("  budgets: [{ team: a, usd: 1, period: fixed, from: 2026-12-01, to: 2026-11-01 }]").first?.hasPrefix("llm.budgets[0].from:") == true)
        #expect(problems("  counters: redis") == ["llm.counters: redis needs a top-level redis: redis://host:port"])
    }
}
