import GatewayCore

/// `mcp.access`, compiled: which `server.name` items a consumer may see and call. Deny by
/// default: an item is admitted only when a rule that applies to the consumer allows it and no
/// rule that applies denies it. A rule applies to consumers in one of its `groups`, to those it
/// names in `consumers`, or, when it names neither, to everyone.
struct ToolAccess: Sendable {
    struct Rule: Sendable {
        var groups: Set<String>
        var consumers: Set<String>
        var allow: [Glob]
        var deny: [Glob]

        func applies(to consumer: Consumer?) -> Bool {
            if groups.isEmpty, consumers.isEmpty { return true }
            guard let consumer else { return false }
            return consumers.contains(consumer.name) || consumer.groups.contains(where: groups.contains)
        }
    }

    let rules: [Rule]

    init(_ config: [MCPAccessRule]) {
        rules = config.map { Rule(groups: Set($0.groups), consumers: Set($0.consumers), allow: $0.allow.map(Glob.init), deny: $0.deny.map(Glob.init)) }
    }

    /// The rules that apply to `consumer`, for checking many items.
    func view(for consumer: Consumer?, only patterns: [Glob]?) -> AccessView {
        AccessView(rules: rules.filter { $0.applies(to: consumer) }, only: patterns)
    }
}

/// One consumer's access on one endpoint: the rules that apply to it and, on a virtual
/// server's path, the patterns that endpoint shows.
struct AccessView: Sendable {
    let rules: [ToolAccess.Rule]
    let only: [Glob]?

    /// Whether `qualified` (`server.name`) is visible and callable.
    func admits(_ qualified: String) -> Bool {
        if let only, !only.contains(where: { $0.matches(qualified) }) { return false }
        var allowed = false
        for r in rules {
            if r.deny.contains(where: { $0.matches(qualified) }) { return false }
            if !allowed, r.allow.contains(where: { $0.matches(qualified) }) { allowed = true }
        }
        return allowed
    }
}
