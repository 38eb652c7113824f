import GatewayCore

/// The `mcp:` section's keys, as `docs/configuration.md` shows them.
extension MCPConfig {
    package static let keys: [ConfigKeyTable] = [
        ConfigKeyTable("mcp", [
            ConfigKey("mcp.path", "path", default: "/mcp", "the endpoint agents connect to; `<path>/sse` serves HTTP+SSE (2024-11-05)"),
            ConfigKey("mcp.tool_names.separator", "one of: _, -", default: "_", "between a server's prefix and a tool's name"),
            ConfigKey("mcp.tool_names.max_length", "integer 16-128", default: "64", "longer names keep their start and end around a hash"),
            ConfigKey("mcp.policies", "list of policies", "run on every HTTP request (authenticate, limit); `rate_limit` with `tool` in `by` counts per `tools/call`"),
            ConfigKey("mcp.limit_refusal", ConfigKey.oneOf(MCPConfig.LimitRefusal.self), default: "tool_error", "how a per-tool limit refuses: a tool result with `isError`, or HTTP 429"),
            ConfigKey("mcp.allowed_origins", "list of origins", default: "[]", "`Origin` values a browser-borne request may carry; another gets 403 (requests without one pass)"),
            ConfigKey("mcp.session_idle", "duration", default: "30m", "idle agent sessions end after this"),
            ConfigKey("mcp.max_sessions", "integer", default: "10000", "open agent sessions in all"),
            ConfigKey("mcp.max_sessions_per_principal", "integer", default: "100", "one more ends that principal's least recently used session"),
            ConfigKey("mcp.max_body_bytes", "size", default: "4MiB", "larger messages get 413"),
            ConfigKey("mcp.timeout", "duration", default: "60s", "a deadline per call, progress or not; a server's own wins"),
            ConfigKey("mcp.stall_timeout", "duration", "the longest a call may go with nothing from its server (default none)"),
            ConfigKey("mcp.audit", "bool", default: "true", "a row per `tools/call` in the store (`mcp_audit`)"),
            ConfigKey("mcp.audit_arguments", "bool", default: "false", "keep arguments in the audit (otherwise only their SHA-256)"),
            ConfigKey("mcp.pinning", ConfigKey.oneOf(MCPConfig.Pinning.self), default: "flag", "what a changed tool definition does: flagged, or hidden until approved"),
            ConfigKey("mcp.oauth.resource", "URL", "the protected resource's identifier in its metadata (default: the endpoint's URL)"),
            ConfigKey("mcp.oauth.authorization_servers", "list of URLs", "served in the protected resource metadata (RFC 9728)"),
            ConfigKey("mcp.oauth.scopes_supported", "list of strings", "likewise"),
        ]),
        ConfigKeyTable("mcp.servers[]", [
            ConfigKey("mcp.servers[].name", "letters, digits, - and _", required: true, "unique; the prefix of its tools' names"),
            ConfigKey("mcp.servers[].url", "URL", "a remote server (Streamable HTTP, or HTTP+SSE with `transport: sse`); exactly one of `url` and `command`"),
            ConfigKey("mcp.servers[].transport", ConfigKey.oneOf(MCPServerConfig.Transport.self), "default: `streamable_http` with `url`, `stdio` with `command`"),
            ConfigKey("mcp.servers[].command", "list of strings", secret: true, "a local program and its arguments (stdio); arguments are never shown: they carry tokens"),
            ConfigKey("mcp.servers[].headers", "mapping", secret: true, "headers sent to a remote server (the gate's own credentials)"),
            ConfigKey("mcp.servers[].env", "mapping", secret: true, "environment of a local program"),
            ConfigKey("mcp.servers[].start", ConfigKey.oneOf(MCPServerConfig.Start.self), default: "lazy", "start a local program at first use or with the gateway"),
            ConfigKey("mcp.servers[].sessions", ConfigKey.oneOf(MCPServerConfig.SessionMode.self), "upstream sessions per agent session (the default for `url`) or one for all (the default for `command`)"),
            ConfigKey("mcp.servers[].timeout", "duration", "this server's call deadline (default: `mcp.timeout`)"),
            ConfigKey("mcp.servers[].stall_timeout", "duration", "this server's stall limit (default: `mcp.stall_timeout`)"),
            ConfigKey("mcp.servers[].roots[].uri", "file:// URI", required: true, "a root the gate answers a shared session's `roots/list` with (short form: the URI alone)"),
            ConfigKey("mcp.servers[].roots[].name", "string", "its name"),
        ]),
        ConfigKeyTable("mcp.access", prefix: "mcp", [
            ConfigKey("mcp.virtual_servers[].name", "string", required: true, "a name for the endpoint"),
            ConfigKey("mcp.virtual_servers[].path", "path", required: true, "another endpoint, unique"),
            ConfigKey("mcp.virtual_servers[].tools", "list of patterns", required: true, "`server.tool` globs of the tools it shows"),
            ConfigKey("mcp.access[].groups", "list of groups", "the rule applies to consumers in these groups (no `groups` and no `consumers`: to everyone)"),
            ConfigKey("mcp.access[].consumers", "list of names", "or to these consumers"),
            ConfigKey("mcp.access[].allow", "list of patterns", "`server.tool` globs allowed (deny by default)"),
            ConfigKey("mcp.access[].deny", "list of patterns", "globs refused (deny wins)"),
        ]),
    ]
}
