/// A gate's own check of its config section, beyond what the reader and the core's validator
/// know (the AI gate checks deployments against its provider files). `GatewayConfig.parse`
/// runs it after the core's validation, so that one run reports every problem of the file.
/// It is skipped when the reader already found problems in its section: the values there may
/// be placeholders, and a second report of one mistake would only confuse.
package struct ConfigSectionCheck: Sendable {
    /// The top-level key of the section (`llm`).
    package let section: String
    /// Checks the section; `configFile` is nil for a config that is not a file (the built-in one).
    package let run: @Sendable (_ config: GatewayConfig, _ configFile: String?) -> Outcome

    package enum Outcome {
        /// What the check computed to serve the section, kept in `GatewayConfig.checked`.
        case passed((any Sendable)?)
        /// The problems found, with paths from the config's root.
        case failed([ConfigProblem])
    }

    package init(section: String, run: @escaping @Sendable (_ config: GatewayConfig, _ configFile: String?) -> Outcome) {
        self.section = section
        self.run = run
    }

    /// Whether a problem at `path` is in this section.
    func covers(_ path: String) -> Bool {
        path == section || path.hasPrefix(section + ".") || path.hasPrefix(section + "[")
    }
}
