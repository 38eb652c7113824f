/// Who calls: the unit of identity every policy and gate shares, as declared under `consumers:`.
/// `name` is unique (API keys and JWT subjects refer to it); `team` is the chargeback unit;
/// `groups` feed ACLs; `tags` label reports.
package struct Consumer: Sendable, Hashable {
    package var name: String
    package var team: String?
    package var groups: [String]
    package var tags: [String]

    package init(name: String, team: String? = nil, groups: [String] = [], tags: [String] = []) {
        self.name = name
        self.team = team
        self.groups = groups
        self.tags = tags
    }

    /// The consumer a verified credential names: the declared one (its groups joined by the
    /// credential's), or, for a name not declared, one described by the credential alone.
    package static func identified(_ name: String, groups: [String], team: String?, declared: [String: Consumer]) -> Consumer {
        guard var known = declared[name] else { return Consumer(name: name, team: team, groups: groups) }
        for g in groups where !known.groups.contains(g) { known.groups.append(g) }
        return known
    }
}
