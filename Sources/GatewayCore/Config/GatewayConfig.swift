import Foundation
import Yams

/// The whole gateway config: one YAML file, read and validated as a whole.
package struct GatewayConfig: Sendable {
    package var server = ServerConfig()
    package var admin = AdminConfig()
    package var reload = ReloadConfig()
    /// Logs, metrics and traces.
    package var telemetry = TelemetryConfig()
    /// Who may call; API keys, JWT claims and the like map requests to these.
    package var consumers: [Consumer] = []
    /// Where consumers' API keys and the LLM ledger are kept: `sqlite:PATH` (embedded) or
    /// `postgres://user:password@host:port/db[?sslmode=...]` (shared by replicas). Default
    /// `sqlite:triplegate.db` in the working directory, opened only when something needs it.
    package var store: String = "sqlite:triplegate.db"
    /// `redis://host[:port]`, shared by replicas for limiter counters. Default none.
    package var redis: String?
    /// JWT and token-introspection settings the `jwt` and `oauth2_introspection` policies use.
    package var auth = AuthConfig()
    package var services: [ServiceConfig] = []
    /// The gates' own sections present in the file, by key (`ConfigSection`); each gate's
    /// module reads its own with a typed accessor (`config.llm`).
    package var sections: [String: any ConfigSection] = [:]
    /// The keys of the sections this config was read with, printed (as null when absent) by the
    /// effective config.
    package var sectionKeys: [String] = []
    /// What the gates' section checks computed while checking this config (the AI gate's
    /// provider catalog), by section: serving the config uses it instead of computing it again.
    package var checked: [String: any Sendable] = [:]

    /// The parsed `store`; nil when it is neither form (the validator says so).
    package var storeLocation: StoreLocation? { StoreLocation(store) }

    /// A gate's section, if the file has it.
    package subscript<Section: ConfigSection>(section _: Section.Type) -> Section? {
        get { sections[Section.key] as? Section }
        set { sections[Section.key] = newValue }
    }

    /// Whether any service, route or gate section uses a policy that reads API keys.
    package var usesKeys: Bool {
        let lists = services.map { $0.policies + $0.routes.flatMap(\.policies) } + sections.values.flatMap { $0.policyLists.map(\.policies) }
        return lists.contains { list in list.contains { if case .keyAuth = $0 { return true } else { return false } } }
    }

    package init() {}

    /// Parses and validates YAML text with the gates' `sections`, then runs each gate's own
    /// `checks` on its section. Every problem is collected; any problem throws `ConfigProblems`
    /// naming all of them, so one run reports everything wrong with the file. `configFile` is
    /// where relative paths of the config are taken from.
    package static func parse(yaml: String, source: String = "config", configFile: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment,
                              sections: [any ConfigSection.Type] = [],
                              checks: [ConfigSectionCheck] = []) throws(ConfigProblems) -> GatewayConfig {
        let (root, collector) = try ConfigReader.root(yaml: yaml, source: source, environment: environment)
        var config = GatewayConfig()
        if root.isAbsent {
            collector.add("", "is empty: it needs at least one service")
        } else if let parsed = root.object({ GatewayConfig(reading: $0, sections: sections) }) {
            config = parsed
        }
        config.sectionKeys = sections.map { $0.key }
        ConfigValidator(collector: collector).validate(config, sections: sections)
        for check in checks where !collector.problems.contains(where: { check.covers($0.path) }) {
            switch check.run(config, configFile) {
            case .passed(let result): config.checked[check.section] = result
            case .failed(let problems): for problem in problems { collector.add(problem.path, problem.message) }
            }
        }
        if !collector.problems.isEmpty {
            throw ConfigProblems(source: source, problems: collector.problems)
        }
        return config
    }

    /// Reads and validates a file (`parse`).
    package static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                             sections: [any ConfigSection.Type] = [], checks: [ConfigSectionCheck] = []) throws(ConfigProblems) -> GatewayConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigProblems(source: path, problems: [ConfigProblem(path: "", message: "cannot be read: \(error.localizedDescription)")])
        }
        return try parse(yaml: text, source: path, configFile: path, environment: environment, sections: sections, checks: checks)
    }
}
