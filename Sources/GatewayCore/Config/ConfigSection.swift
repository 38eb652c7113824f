/// A gate's top-level section of the config file (the AI gate's `llm:`, the MCP gate's `mcp:`).
///
/// The core reads the file and knows its own keys (`server`, `store`, `services` and the rest);
/// each gate declares its section here, in its own module: how it is read, what it checks beyond
/// one key, how the effective config prints it. `GatewayConfig.parse(yaml:sections:)` takes the
/// sections the binary has; a top-level key that neither the core nor a section claims is an
/// unknown key. The core keeps no gate's vocabulary: what it needs from a section (its policy
/// lists, whether it serves anything) it asks through this protocol.
package protocol ConfigSection: Sendable {
    /// The top-level key (`llm`).
    static var key: String { get }
    /// How the "nothing to serve" problem names what this section serves (`llm.models`).
    static var servesWhat: String { get }
    /// The access-log fields the gate fills (`gen_ai`), listed after the core's by default.
    static var accessLogFields: [String] { get }
    /// The paths of the section's policy lists where `rate_limit` may count by the resource
    /// (`mcp.policies`), for the problem that names where it may.
    static var resourcePolicyLists: [String] { get }

    /// The section's keys, declared once with their reference (`ConfigKey`): the tables of
    /// `docs/configuration.md` are generated from them, and tests hold them to what `init`
    /// reads and to what `effectiveJSON` prints.
    static var keys: [ConfigKeyTable] { get }

    /// Reads the section; type and range problems are recorded on the reader with their paths.
    init(reading: ConfigObject)

    /// Whether the section serves anything: a file needs services or a section that serves.
    var servesSomething: Bool { get }
    /// The section's `policies:` lists with their paths, checked by the core like every other
    /// list. `resourceKeys` says whether `rate_limit` there may count by the resource the gate
    /// knows once the body is read (`by: tool` in `mcp.policies`).
    var policyLists: [ConfigPolicyList] { get }
    /// Checks that need more than one key (uniqueness, cross references, the rest of the file);
    /// problems are added with paths from the root.
    func validate(in config: GatewayConfig, problems: ProblemCollector)
    /// The section as the effective config prints it, every default filled in, secrets redacted.
    var effectiveJSON: JSONValue { get }
    /// What `triplegate check --explain` says of the section: what each request it serves goes
    /// through. `chain` names a policy list's steps in the order they run (`key_auth
    /// (authenticate) -> rate_limit (limit)`).
    func explanation(chain: ([PolicyConfig]) -> String) -> String
}

extension ConfigSection {
    package static var accessLogFields: [String] { [] }
    package static var resourcePolicyLists: [String] { [] }
}

/// One `policies:` list of a config, where it is and what it may count by.
package struct ConfigPolicyList: Sendable {
    package var path: String
    package var policies: [PolicyConfig]
    /// Whether `rate_limit` may count by the resource (`by: tool`) here.
    package var resourceKeys: Bool

    package init(path: String, policies: [PolicyConfig], resourceKeys: Bool = false) {
        self.path = path
        self.policies = policies
        self.resourceKeys = resourceKeys
    }
}
