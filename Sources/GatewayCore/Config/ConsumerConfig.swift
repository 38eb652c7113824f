/// A consumer as the config declares it (`consumers:`).
public struct ConsumerConfig: Sendable, Hashable {
    /// Unique; API keys and JWT subjects refer to it.
    public var name: String
    /// The chargeback unit; optional.
    public var team: String?
    /// For `acl` policies.
    public var groups: [String]
    /// Labels for reports.
    public var tags: [String]

    public init(name: String, team: String? = nil, groups: [String] = [], tags: [String] = []) {
        self.name = name
        self.team = team
        self.groups = groups
        self.tags = tags
    }

    public var consumer: Consumer { Consumer(name: name, team: team, groups: groups, tags: tags) }
}
