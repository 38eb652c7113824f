import GatewayCore
import GatewayTesting
import MCPGate
import Testing

/// A config that sets every key of `mcp:` (each secret as `SECRET-<its path>`).
private let everyMCPKey = """
    mcp:
      path: /mcp
      servers:
        - { name: a, url: "http://127.0.0.1:1/mcp", transport: streamable_http, headers: { A: "SECRET-mcp.servers[].headers" }, sessions: shared, timeout: 1s, stall_timeout: 1s }
        - { name: b, command: [prog, "SECRET-mcp.servers[].command"], env: { A: "SECRET-mcp.servers[].env" }, start: lazy, roots: [{ uri: "file:///a", name: n }] }
      virtual_servers: [{ name: v, path: /v, tools: ["*"] }]
      tool_names: { separator: _, max_length: 64 }
      access: [{ groups: [g], consumers: [c], allow: ["*"], deny: [x] }]
      policies: []
      allowed_origins: ["https://a"]
      session_idle: 1m
      max_body_bytes: 1MiB
      max_sessions: 1
      max_sessions_per_principal: 1
      timeout: 1s
      stall_timeout: 1s
      limit_refusal: http
      audit: true
      audit_arguments: false
      pinning: flag
      oauth: { resource: r, authorization_servers: [a], scopes_supported: [s] }
    """

@Suite struct MCPConfigKeysTests {
    @Test func everyKeyOfTheSectionIsDeclaredAndRead() {
        let found = ConfigKeyChecks.undeclaredAndUnread(yaml: everyMCPKey, sections: [MCPConfig.self], declared: MCPConfig.keys) {
            $0.hasPrefix("mcp.")
        }
        #expect(found.undeclared == [])
        #expect(found.unread == [])
    }

    @Test func theDeclaredDefaultsAreWhatAConfigGetsWithoutTheKey() throws {
        let base = "mcp:\n  servers: [{ name: a, url: \"http://127.0.0.1:1/mcp\" }]"
        #expect(try ConfigKeyChecks.wrongDefaults(base: base, sections: [MCPConfig.self], declared: MCPConfig.keys) == [])
    }

    @Test func noDeclaredSecretIsPrinted() throws {
        let found = try ConfigKeyChecks.secretProblems(yaml: everyMCPKey, sections: [MCPConfig.self], declared: MCPConfig.keys)
        #expect(found.notInConfig == [] && !found.shown)
    }
}
