import GatewayCore

extension MCPConfig {
    /// The endpoints, the servers behind them, who may use which tools, and the policies every
    /// request goes through (a `rate_limit` by tool counts per `tools/call` instead).
    package func explanation(chain: ([PolicyConfig]) -> String) -> String {
        var out = "\nmcp \(path) (mcp)\n"
        for v in virtualServers { out += "  endpoint:    \(v.path) (\(v.name)): \(v.tools.joined(separator: ", "))\n" }
        for s in servers {
            // A command's arguments may carry tokens: only the program is shown.
            let at = s.url.map { ConfigRedaction.url($0) } ?? (s.command.first ?? "") + (s.command.count > 1 ? " ..." : "")
            out += "  server:      \(s.name): \(s.transport.rawValue) \(at), sessions \(s.sessionMode.rawValue), timeout \(ConfigDuration.format(s.timeout ?? timeout))\n"
        }
        for rule in access {
            let who = rule.groups.map { "group \($0)" } + rule.consumers.map { "consumer \($0)" }
            out += "  access:      \(who.isEmpty ? "everyone" : who.joined(separator: ", ")): allow \(rule.allow.isEmpty ? "nothing" : rule.allow.joined(separator: ", "))"
            out += rule.deny.isEmpty ? "\n" : "; deny \(rule.deny.joined(separator: ", "))\n"
        }
        if access.isEmpty { out += "  access:      no rule: nobody sees a tool\n" }
        var request: [PolicyConfig] = [], perTool: [PolicyConfig] = []
        for p in policies {
            if case .rateLimit(let r) = p, r.by.contains(.resource) { perTool.append(p) } else { request.append(p) }
        }
        out += "  policies:    \(chain(request)) (every request)\(perTool.isEmpty ? "" : ", then \(chain(perTool)) (each tools/call)")\n"
        return out
    }
}
