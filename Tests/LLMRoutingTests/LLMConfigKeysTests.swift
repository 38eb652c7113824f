import GatewayCore
import GatewayTesting
import LLMRouting
import Testing

/// A config that sets every key of `llm:` (each secret as `SECRET-<its path>`).
private let everyLLMKey = """
    llm:
      providers_dir: /nonexistent-but-unchecked-here
      models:
        - name: m
          routing: weighted
          fallbacks: [n]
          fallback_on: [errors]
          deployments:
            - { provider: openai, model: gpt-4o, base_url: "http://127.0.0.1:1", api_key: "SECRET-llm.models[].deployments[].api_key", weight: 1, timeout: 1s, stall_timeout: 1s, ca_file: /dev/null }
            - { provider: azure-openai, model: gpt-4o, deployment: d, api_version: v, base_url: "http://127.0.0.1:1", api_keys: ["SECRET-llm.models[].deployments[].api_keys"] }
          policies: []
        - name: n
          deployments: [{ provider: openai, model: gpt-4o, api_key: k }]
      policies: []
      retries: { attempts: 1, backoff: exponential, base_delay: 1ms, max_delay: 2ms, on: [429] }
      cooldown: { failures: 1, for: 1s }
      limits: [{ by: team, model: m, tokens_per_minute: 1, requests_per_minute: 1, tokens_per_day: 1, requests_per_day: 1 }]
      budgets:
        - { team: t, usd: 1, period: fixed, from: 2026-01-01, to: 2026-02-01, soft_alert_at: 0.5, webhook: "http://127.0.0.1:1/SECRET-llm.budgets[].webhook" }
        - { consumer: c, usd: 1 }
        - { key: k, usd: 1 }
      counters: local
      ledger: true
      max_body_bytes: 1MiB
      cache:
        exact: { ttl: 1m, enabled: true }
        semantic: { embedding_model: m, threshold: 0.9, ttl: 1m, scope: [consumer], only_when: { temperature_max: 0.5, max_messages: 3 }, timeout: 1s, storage: int8, max_entries: 10 }
        max_entry_bytes: 1KiB
        max_bytes: 1MiB
        snapshot_dir: d
    """

@Suite struct LLMConfigKeysTests {
    @Test func everyKeyOfTheSectionIsDeclaredAndRead() {
        let found = ConfigKeyChecks.undeclaredAndUnread(yaml: everyLLMKey, sections: [LLMConfig.self], declared: LLMConfig.keys) {
            $0.hasPrefix("llm.")
        }
        #expect(found.undeclared == [])
        #expect(found.unread == [])
    }

    @Test func theDeclaredDefaultsAreWhatAConfigGetsWithoutTheKey() throws {
        let base = "llm:\n  models: [{ name: m, deployments: [{ provider: openai, model: gpt-4o, api_key: k }] }]"
        #expect(try ConfigKeyChecks.wrongDefaults(base: base, sections: [LLMConfig.self], declared: LLMConfig.keys) == [])
    }

    @Test func noDeclaredSecretIsPrinted() throws {
        let found = try ConfigKeyChecks.secretProblems(yaml: everyLLMKey, sections: [LLMConfig.self], declared: LLMConfig.keys)
        #expect(found.notInConfig == [] && !found.shown)
    }
}
