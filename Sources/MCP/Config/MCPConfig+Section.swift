import GatewayCore

/// The MCP gate's section of the config file, `mcp:`: read, checked and printed here, in the
/// gate that serves it; the core only hosts it.
extension MCPConfig: ConfigSection {
    package static let key = "mcp"
    package static let servesWhat = "mcp.servers"
    package static let resourcePolicyLists = ["mcp.policies"]

    package var servesSomething: Bool { !servers.isEmpty }

    /// `rate_limit` here may count by tool: such a limit is counted per `tools/call`.
    package var policyLists: [ConfigPolicyList] { [ConfigPolicyList(path: "mcp.policies", policies: policies, resourceKeys: true)] }

    package func validate(in config: GatewayConfig, problems: ProblemCollector) {
        if !path.hasPrefix("/") { problems.add("mcp.path", "must start with \"/\" (got \"\(path)\")") }
        var names: [String: Int] = [:]
        for (i, s) in servers.enumerated() where !s.name.isEmpty {
            if let first = names[s.name] {
                problems.add("mcp.servers[\(i)].name", "duplicates mcp.servers[\(first)].name \"\(s.name)\"")
            } else {
                names[s.name] = i
            }
            if s.name.contains(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_")) }) {
                problems.add("mcp.servers[\(i)].name", "may hold only letters, digits, - and _ (got \"\(s.name)\")")
            }
        }
        let separator = toolNames.separator
        if separator != "_", separator != "-" {
            problems.add("mcp.tool_names.separator", "must be _ or - (got \"\(separator)\")")
        }
        // The names agents see start with the server's prefix (`MCPToolNames.serverPrefix`):
        // two servers with one prefix could be given one name for two tools.
        var prefixes: [String: Int] = [:]
        for (i, s) in servers.enumerated() where !s.name.isEmpty && names[s.name] == i {
            let prefix = MCPToolNames.serverPrefix(s.name, separator: separator)
            if let first = prefixes[prefix] {
                problems.add("mcp.servers[\(i)].name", "names tools as mcp.servers[\(first)].name does (both become \"\(prefix)\"); rename one")
            } else {
                prefixes[prefix] = i
            }
        }
        var paths: Set<String> = [path]
        for (i, v) in virtualServers.enumerated() {
            if !v.path.hasPrefix("/") {
                problems.add("mcp.virtual_servers[\(i)].path", "must start with \"/\" (got \"\(v.path)\")")
            } else if !paths.insert(v.path).inserted {
                problems.add("mcp.virtual_servers[\(i)].path", "is used twice (\"\(v.path)\")")
            }
            if v.tools.isEmpty { problems.add("mcp.virtual_servers[\(i)].tools", "must list at least one pattern") }
        }
        for (i, rule) in access.enumerated() where rule.allow.isEmpty && rule.deny.isEmpty {
            problems.add("mcp.access[\(i)]", "must have allow or deny patterns")
        }
        for (i, o) in allowedOrigins.enumerated() where !(o.hasPrefix("http://") || o.hasPrefix("https://")) {
            problems.add("mcp.allowed_origins[\(i)]", "must be an origin like https://app.example (got \"\(o)\")")
        }
    }
}

extension GatewayConfig {
    /// The MCP gate's upstream servers and tool access, if the file has them.
    package var mcp: MCPConfig? {
        get { self[section: MCPConfig.self] }
        set { self[section: MCPConfig.self] = newValue }
    }
}

extension MCPConfig {
    /// Upstream header values and environment values are redacted: they hold credentials.
    package var effectiveJSON: JSONValue {
        .object([
            ("path", .string(path)),
            ("servers", .array(servers.map { s in
                .object([
                    ("name", .string(s.name)), ("transport", .string(s.transport.rawValue)),
                    ("url", s.url.map { .string(ConfigRedaction.url($0)) } ?? .null),
                    ("command", .array(ConfigRedaction.command(s.command))),
                    ("headers", .object(s.headers.map { ($0.0, .string("[redacted]")) })),
                    ("env", .object(s.env.map { ($0.0, .string("[redacted]")) })),
                    ("start", .string(s.start.rawValue)),
                    ("sessions", .string(s.sessionMode.rawValue)),
                    ("timeout", .string(ConfigDuration.format(s.timeout ?? timeout))),
                    ("stall_timeout", (s.stallTimeout ?? stallTimeout).map { .string(ConfigDuration.format($0)) } ?? .null),
                    ("roots", .array(s.roots.map { r in .object([("uri", .string(r.uri)), ("name", r.name.map { .string($0) } ?? .null)]) })),
                ])
            })),
            ("virtual_servers", .array(virtualServers.map { v in
                .object([("name", .string(v.name)), ("path", .string(v.path)), ("tools", .array(v.tools.map { .string($0) }))])
            })),
            ("tool_names", .object([("separator", .string(toolNames.separator)), ("max_length", .int(toolNames.maxLength))])),
            ("access", .array(access.map { r in
                .object([("groups", .array(r.groups.map { .string($0) })), ("consumers", .array(r.consumers.map { .string($0) })),
                         ("allow", .array(r.allow.map { .string($0) })), ("deny", .array(r.deny.map { .string($0) }))])
            })),
            ("policies", .array(policies.map(\.effectiveJSON))),
            ("allowed_origins", .array(allowedOrigins.map { .string($0) })),
            ("session_idle", .string(ConfigDuration.format(sessionIdle))),
            ("max_body_bytes", .int(maxBodyBytes)),
            ("max_sessions", .int(maxSessions)),
            ("max_sessions_per_principal", .int(maxSessionsPerPrincipal)),
            ("timeout", .string(ConfigDuration.format(timeout))),
            ("stall_timeout", stallTimeout.map { .string(ConfigDuration.format($0)) } ?? .null),
            ("limit_refusal", .string(limitRefusal.rawValue)),
            ("audit", .bool(audit)),
            ("audit_arguments", .bool(auditArguments)),
            ("pinning", .string(pinning.rawValue)),
            ("oauth", oauth.map { o in
                .object([("resource", o.resource.map { .string($0) } ?? .null),
                         ("authorization_servers", .array(o.authorizationServers.map { .string($0) })),
                         ("scopes_supported", .array(o.scopesSupported.map { .string($0) }))])
            } ?? .null),
        ])
    }
}

