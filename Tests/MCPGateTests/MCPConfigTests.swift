import GatewayCore
import MCPGate
import Testing

private func problems(_ yaml: String, env: [String: String] = [:]) -> [String] {
    do {
        _ = try GatewayConfig.parse(yaml: yaml, environment: env, sections: [MCPConfig.self])
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

@Suite struct MCPConfigTests {
    @Test func defaultsAndTransportsAreReadFromAMinimalConfig() throws {
        let c = try GatewayConfig.parse(yaml: """
            mcp:
              servers:
                - { name: gh, url: "http://127.0.0.1:9301/mcp", headers: { Authorization: "Bearer ${GH}" } }
                - { name: legacy, url: "http://127.0.0.1:9302/sse", transport: sse }
                - { name: files, command: [python3, files.py], env: { ROOT: /srv }, start: eager }
              access: [{ groups: [group-user], allow: ["gh.search_*"] }]
            """, environment: ["GH": "token"], sections: [MCPConfig.self])
        let mcp = try #require(c.mcp)
        #expect(mcp.path == "/mcp")
        #expect(mcp.servers.map(\.transport) == [.streamableHTTP, .sse, .stdio])
        #expect(mcp.servers[0].headers.map(\.1) == ["Bearer token"])
        #expect(mcp.servers[2].command == ["python3", "files.py"] && mcp.servers[2].start == .eager)
        #expect(mcp.toolNames.separator == "_" && mcp.toolNames.maxLength == 64)
        #expect(mcp.limitRefusal == .toolError && mcp.audit && !mcp.auditArguments)
        #expect(mcp.sessionIdle == .seconds(1800))
        // Remote servers keep an upstream session per agent session; local programs share one.
        #expect(mcp.servers.map(\.sessionMode) == [.perClient, .perClient, .shared])
        #expect(mcp.servers.allSatisfy { $0.roots.isEmpty })
    }

    @Test func rootsForSharedSessionsAreFileURIsShortOrLong() throws {
        let c = try GatewayConfig.parse(yaml: """
            mcp:
              servers:
                - { name: files, command: [python3, files.py], roots: ["file:///srv/a", { uri: "file:///srv/b", name: b }] }
            """, sections: [MCPConfig.self])
        #expect(c.mcp?.servers[0].roots == [MCPRoot(uri: "file:///srv/a"), MCPRoot(uri: "file:///srv/b", name: "b")])
        #expect(problems("""
            mcp:
              servers:
                - { name: files, command: [a], roots: ["https://x/", { name: nouri }, { uri: "file:///x", extra: 1 }] }
            """) == [
            "mcp.servers[0].roots[0]: a root is a file:// URI",
            "mcp.servers[0].roots[1].uri: is required",
            "mcp.servers[0].roots[2].extra: unknown key",
        ])
    }

    @Test func everyInvalidFieldIsReportedWithItsPath() {
        let found = problems("""
            mcp:
              path: mcp
              servers:
                - { name: gh, url: "ftp://x/mcp" }
                - { name: gh, command: [a], transport: sse }
                - { name: "bad name", url: "http://x/mcp", command: [b] }
                - { name: none }
              virtual_servers:
                - { name: dev, path: /dev, tools: [] }
                - { name: dev2, path: /dev, tools: ["*"] }
              tool_names: { separator: "/", max_length: 8 }
              access: [{ groups: [x] }]
              allowed_origins: [app.example]
              limit_refusal: silently
              policies:
                - rate_limit: { by: [consumer, tool], minute: 5 }
            services:
              - name: s
                upstream: builtin:echo
                policies: [{ rate_limit: { by: [tool], minute: 1 } }]
                routes: [{ paths: [/s] }]
            """)
        let expected = [
            "mcp.servers[0].url: unsupported scheme \"ftp\" (use http or https)",
            "mcp.servers[1].transport: sse needs url, not command",
            "mcp.servers[2].command: give url or command, not both",
            "mcp.servers[3]: needs url (a remote server) or command (a local program)",
            "mcp.tool_names.max_length: must be >= 16 (got 8)",
            "mcp.limit_refusal: must be one of http, tool_error (got \"silently\")",
            "services[0].policies[0].rate_limit.by: tool applies only in mcp.policies",
            "mcp.path: must start with \"/\" (got \"mcp\")",
            "mcp.servers[1].name: duplicates mcp.servers[0].name \"gh\"",
            "mcp.servers[2].name: may hold only letters, digits, - and _ (got \"bad name\")",
            "mcp.tool_names.separator: must be _ or - (got \"/\")",
            "mcp.virtual_servers[1].path: is used twice (\"/dev\")",
            "mcp.virtual_servers[0].tools: must list at least one pattern",
            "mcp.access[0]: must have allow or deny patterns",
            "mcp.allowed_origins[0]: must be an origin like https://app.example (got \"app.example\")",
        ]
        for e in expected { #expect(found.contains(e), "missing: \(e)\nfound: \(found)") }
        #expect(found.count == expected.count, "\(found)")
    }

    /// `x_a` and `x-a` would prefix their tools alike (`x-a_…`): refused, naming both.
    @Test func twoServersWithOnePrefixAreRefused() {
        let found = problems("""
            mcp: { servers: [{ name: x_a, url: "http://127.0.0.1:1/mcp" }, { name: x-a, url: "http://127.0.0.1:1/mcp" },
                             { name: x, url: "http://127.0.0.1:1/mcp" }] }
            """)
        #expect(found == ["mcp.servers[1].name: names tools as mcp.servers[0].name does (both become \"x-a\"); rename one"])
        #expect(problems("mcp: { tool_names: { separator: __ }, servers: [{ name: a, url: \"http://127.0.0.1:1/mcp\" }] }")
            == ["mcp.tool_names.separator: must be _ or - (got \"__\")"])
    }

    @Test func anMCPOnlyConfigNeedsNoServices() {
        #expect(problems("mcp: { servers: [{ name: a, url: \"http://127.0.0.1:1/mcp\" }] }") == [])
    }
}
