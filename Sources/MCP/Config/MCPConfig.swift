import GatewayCore

/// `mcp`: the MCP gate. Agents connect to `path` (and each virtual server's path) and see one
/// server whose tools, resources and prompts come from `servers`.
package struct MCPConfig: Sendable {
    /// The endpoint agents connect to. Default `/mcp`.
    package var path: String = "/mcp"
    /// The upstream MCP servers; at least one.
    package var servers: [MCPServerConfig] = []
    /// Other endpoints, each showing a subset of the tools.
    package var virtualServers: [MCPVirtualServer] = []
    package var toolNames = MCPToolNames()
    /// Who may see and call what. Deny by default: with no rule admitting a consumer, it sees
    /// nothing. A rule with no `groups` and no `consumers` applies to everyone.
    package var access: [MCPAccessRule] = []
    /// The gate's policies: authentication (`key_auth`, `jwt`, ...) run on every HTTP request;
    /// `rate_limit` with `by: [.., tool]` is counted per `tools/call` instead.
    package var policies: [PolicyConfig] = []
    /// `Origin` values a browser-borne request may carry (exact, e.g. `https://app.example`).
    /// Requests with another `Origin` get 403; requests without one pass. Default none: any
    /// request with an `Origin` is refused, as the MCP spec asks against DNS rebinding.
    package var allowedOrigins: [String] = []
    /// Sessions idle this long end (their upstream sessions too). Default 30 min.
    package var sessionIdle: Duration = .seconds(1800)
    /// Largest JSON-RPC message (or batch) an agent may POST. Default 4MiB: the gate reads each
    /// whole, and tool arguments rarely pass a few KiB; larger ones get 413.
    package var maxBodyBytes: Int = 4 * 1024 * 1024
    /// At most this many open agent sessions; new `initialize` calls get 503 beyond it.
    /// Default 10,000.
    package var maxSessions: Int = 10_000
    /// At most this many open sessions per principal (consumer or client address); one more
    /// ends that principal's least recently used session. Default 100: one consumer cannot fill
    /// the table and lock every other agent out.
    package var maxSessionsPerPrincipal: Int = 100
    /// The longest a call may take upstream, from its start to its answer, however steadily
    /// the server sends progress: past it the agent gets an error and the upstream a
    /// `notifications/cancelled`. Default 60 s; a server may set its own.
    package var timeout: Duration = .seconds(60)
    /// The longest a call may go with nothing from its server (no progress, no message, no
    /// byte on its stream). Default none: only `timeout` bounds a quiet call, since many tools
    /// work silently. A server may set its own.
    package var stallTimeout: Duration?
    /// What a per-tool rate limit refusal looks like: `tool_error` (the default: a tool result
    /// with `isError: true`, which agents show to their model, and the session goes on) or
    /// `http` (429 with `Retry-After` and `RateLimit-*`; the 1.x Python SDK ends its session
    /// on any HTTP error status).
    package var limitRefusal: LimitRefusal = .toolError
    /// Audit records of `tools/call` include the arguments themselves, not only their hash.
    /// Default false: arguments may carry personal data.
    package var auditArguments: Bool = false
    /// Write audit records to the store. Default true.
    package var audit: Bool = true
    /// What a changed tool definition does: `flag` (the default: logged and counted),
    /// `quarantine` (also withheld until approved at `POST /admin/mcp/tools/approve`) or `off`.
    package var pinning: Pinning = .flag
    /// OAuth resource-server metadata (RFC 9728), for agents that sign in with OAuth: served at
    /// `/.well-known/oauth-protected-resource<path>` and named in every 401 and 403 challenge.
    package var oauth: MCPOAuthConfig?

    package enum Pinning: String, Sendable, CaseIterable {
        case off, flag, quarantine
    }

    package enum LimitRefusal: String, Sendable, CaseIterable {
        case http
        case toolError = "tool_error"
    }

    package init() {}
}

/// `mcp.oauth`: what the protected-resource metadata says.
package struct MCPOAuthConfig: Sendable {
    /// The resource identifier agents ask tokens for. Default: the URL the agent called
    /// (scheme, `Host` and path), which is right behind no proxy.
    package var resource: String?
    /// The authorization servers that issue tokens for it; at least one.
    package var authorizationServers: [String] = []
    package var scopesSupported: [String] = []

    package init() {}
}

/// One upstream MCP server: remote (`url`) or a local program (`command`).
package struct MCPServerConfig: Sendable {
    /// Prefixes its tool and prompt names (`github` → `github_search_issues`).
    package var name: String = ""
    package var url: String?
    package var transport: Transport = .streamableHTTP
    /// Headers sent upstream with every request: the gate's own credentials for this server.
    /// The agent's token is never passed on.
    package var headers: [(String, String)] = []
    /// The program and its arguments (stdio transport).
    package var command: [String] = []
    /// Extra environment for the program.
    package var env: [(String, String)] = []
    /// Start the program with the gateway (`eager`) or at its first use (`lazy`, the default).
    package var start: Start = .lazy
    /// Overrides `mcp.timeout` for this server.
    package var timeout: Duration?
    /// Overrides `mcp.stall_timeout` for this server.
    package var stallTimeout: Duration?
    /// Upstream sessions: `per_client` (each agent session gets its own upstream session, ended
    /// with it: servers that keep state per session keep it per agent) or `shared` (one for all
    /// agents). Default `per_client` for remote servers and `shared` for local programs (a
    /// process per agent would be costly); 2026-07-28 agents, which have no session, share.
    package var sessions: SessionMode?
    /// What the gateway answers a `roots/list` from this server that it cannot attribute to one
    /// agent (on a shared upstream session, asked outside any call's own stream). Default none:
    /// such a request is refused. Each is a `file://` URI, with an optional name.
    package var roots: [MCPRoot] = []

    package enum SessionMode: String, Sendable, CaseIterable {
        case perClient = "per_client"
        case shared
    }

    /// `sessions`, with its default.
    package var sessionMode: SessionMode { sessions ?? (transport == .stdio ? .shared : .perClient) }

    package enum Transport: String, Sendable, CaseIterable {
        /// Streamable HTTP (2025-03-26 and later).
        case streamableHTTP = "streamable_http"
        /// The 2024-11-05 HTTP+SSE transport.
        case sse
        case stdio
    }

    package enum Start: String, Sendable, CaseIterable {
        case lazy, eager
    }

    package init() {}
}

/// A root the gateway gives a server that asks for roots on a shared session.
package struct MCPRoot: Sendable, Equatable {
    package var uri: String
    package var name: String?

    package init(uri: String, name: String? = nil) {
        self.uri = uri
        self.name = name
    }
}

/// An extra endpoint showing the tools, resources and prompts whose `server.name` matches
/// `tools` (globs: `github.*`, `files.read_*`).
package struct MCPVirtualServer: Sendable {
    package var name: String = ""
    package var path: String = ""
    package var tools: [String] = []

    package init() {}
}

/// How upstream names become the names agents see: `server` + `separator` + `name`, hashed
/// down to `max_length` when longer.
package struct MCPToolNames: Sendable {
    /// Default `_`: the only separators every client accepts are `_` and `-`.
    package var separator: String = "_"
    /// Default 64, the longest name the common clients accept.
    package var maxLength: Int = 64

    package init() {}
}

extension MCPToolNames {
    /// A server's part of the names agents see: its name with every character outside
    /// `[a-zA-Z0-9_-]` made `_`, then the separator made the other of `_` and `-`. It never
    /// contains the separator, so the first separator in an exposed name ends the server's
    /// part, and two (server, tool) pairs can never be given one name by construction
    /// (`x_a` + `b` is `x-a_b`; `x` + `a_b` is `x_a_b`).
    package static func serverPrefix(_ server: String, separator: String) -> String {
        let other: Unicode.Scalar = separator == "-" ? "_" : "-"
        let sep = separator.unicodeScalars.first ?? "_"
        return String(String.UnicodeScalarView(server.unicodeScalars.map { c -> Unicode.Scalar in
            let kept = c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "_" || c == "-")
            let s: Unicode.Scalar = kept ? c : "_"
            return s == sep ? other : s
        }))
    }
}

/// An access rule: `allow` and `deny` globs over `server.tool` (deny wins).
package struct MCPAccessRule: Sendable {
    package var groups: [String] = []
    package var consumers: [String] = []
    package var allow: [String] = []
    package var deny: [String] = []

    package init() {}
}

extension MCPConfig {
    package init(reading o: ConfigObject) {
        self.init()
        path = o["path"].string() ?? path
        servers = o["servers"].list { $0.object { MCPServerConfig(reading: $0) } } ?? []
        if servers.isEmpty { o.problem(at: "servers", "must list at least one server") }
        virtualServers = o["virtual_servers"].list { $0.object { v -> MCPVirtualServer in
            var s = MCPVirtualServer()
            s.name = v["name"].requiredString() ?? ""
            s.path = v["path"].requiredString() ?? ""
            s.tools = v["tools"].list { $0.string() } ?? []
            return s
        } } ?? []
        if let n = o["tool_names"].object({ n -> MCPToolNames in
            var names = MCPToolNames()
            names.separator = n["separator"].string() ?? names.separator
            names.maxLength = n["max_length"].int(min: 16, max: 128) ?? names.maxLength
            return names
        }) { toolNames = n }
        access = o["access"].list { $0.object { a -> MCPAccessRule in
            var r = MCPAccessRule()
            r.groups = a["groups"].list { $0.string() } ?? []
            r.consumers = a["consumers"].list { $0.string() } ?? []
            r.allow = a["allow"].list { $0.string() } ?? []
            r.deny = a["deny"].list { $0.string() } ?? []
            return r
        } } ?? []
        policies = PolicyConfig.readList(o["policies"])
        allowedOrigins = o["allowed_origins"].list { $0.string() } ?? []
        sessionIdle = o["session_idle"].duration() ?? sessionIdle
        maxBodyBytes = o["max_body_bytes"].byteSize() ?? maxBodyBytes
        maxSessions = o["max_sessions"].int(min: 1, max: 10_000_000) ?? maxSessions
        maxSessionsPerPrincipal = o["max_sessions_per_principal"].int(min: 1, max: 10_000_000) ?? maxSessionsPerPrincipal
        timeout = o["timeout"].duration() ?? timeout
        stallTimeout = o["stall_timeout"].duration()
        limitRefusal = o["limit_refusal"].oneOf(LimitRefusal.self) ?? limitRefusal
        auditArguments = o["audit_arguments"].bool() ?? auditArguments
        audit = o["audit"].bool() ?? audit
        pinning = o["pinning"].oneOf(Pinning.self) ?? pinning
        oauth = o["oauth"].object { a -> MCPOAuthConfig in
            var c = MCPOAuthConfig()
            c.resource = a["resource"].string()
            c.authorizationServers = a["authorization_servers"].list { $0.string() } ?? []
            if c.authorizationServers.isEmpty { a.problem(at: "authorization_servers", "must list at least one authorization server") }
            c.scopesSupported = a["scopes_supported"].list { $0.string() } ?? []
            return c
        }
    }
}

extension MCPServerConfig {
    init(reading o: ConfigObject) {
        self.init()
        name = o["name"].requiredString() ?? ""
        url = o["url"].string()
        command = o["command"].list { $0.string() } ?? []
        headers = o["headers"].dictionary { _, r in r.string() } ?? []
        env = o["env"].dictionary { _, r in r.string() } ?? []
        start = o["start"].oneOf(Start.self) ?? start
        timeout = o["timeout"].duration()
        stallTimeout = o["stall_timeout"].duration()
        sessions = o["sessions"].oneOf(SessionMode.self)
        roots = o["roots"].list { r -> MCPRoot? in
            let root: MCPRoot? = r.isMapping
                ? r.object { x in
                    let uri = x["uri"].requiredString(), name = x["name"].string()
                    return uri.map { MCPRoot(uri: $0, name: name) }
                } ?? nil
                : r.string().map { MCPRoot(uri: $0) }
            if let root, !root.uri.hasPrefix("file://") { r.problem("a root is a file:// URI") }
            return root
        } ?? []
        let declared = o["transport"].oneOf(Transport.self)
        switch (url, command.isEmpty) {
        case (nil, true):
            o.problem("needs url (a remote server) or command (a local program)")
        case (.some, false):
            o.problem(at: "command", "give url or command, not both")
        case (.some(let u), true):
            if case .failure(let e) = UpstreamURL.parse(u) { o.problem(at: "url", "\(e)") }
            if declared == .stdio { o.problem(at: "transport", "stdio needs command, not url") }
            transport = declared ?? .streamableHTTP
        case (nil, false):
            if let declared, declared != .stdio { o.problem(at: "transport", "\(declared.rawValue) needs url, not command") }
            transport = .stdio
        }
    }
}
