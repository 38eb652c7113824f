import ArgumentParser
import Foundation
import GatewayCore
import LLMRouting

/// `triplegate check FILE`: validates without serving; every problem with its path; exit 1.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a config file and report every problem.")

    @Argument(help: "The config file.")
    var file: String

    @Flag(help: "Also print each route: its conditions, upstream and policy chain in the order it runs.")
    var explain = false

    func run() throws {
        do {
            let config = try GatewayConfig.load(path: file, sections: ConfigSections.all, checks: ConfigSections.checks)
            if let llm = config.llm {
                let catalog = try DeploymentCheck.catalog(for: llm, in: config, configFile: file)
                let files = catalog.files.isEmpty ? "shipped" : "shipped and \(catalog.files.count) file\(catalog.files.count == 1 ? "" : "s") of the providers folder"
                print("\(file): llm: \(llm.models.count) model\(llm.models.count == 1 ? "" : "s") checked against \(catalog.providers.count) providers (\(files))")
            }
            let routes = config.services.reduce(0) { $0 + $1.routes.count }
            print("\(file): valid (\(config.services.count) service\(config.services.count == 1 ? "" : "s"), \(routes) route\(routes == 1 ? "" : "s"))")
            if explain { print(Self.explanation(of: config), terminator: "") }
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
    }
}

extension Check {
    /// Routes in config order with what they match, where they go, and their policy chain as it
    /// will run (sorted by phase, priority, name); then what each gate's section serves, in the
    /// gate's own words (its models, its MCP servers and tool access).
    static func explanation(of config: GatewayConfig) -> String {
        var accessLog = AccessLogConfig()
        accessLog.enabled = false  // explaining must not open log files
        let core = CoreServices(accessLog: accessLog)
        let environment = core.environment(for: config)
        /// A policy list's steps in the order they run (`key_auth (authenticate) -> acl (authorize)`).
        func chain(_ policies: [PolicyConfig], scope: String = "explain") -> String {
            let steps = PolicyChain(policies.map { core.policy($0, scope: scope, route: scope, environment: environment) }).policies
            return steps.isEmpty ? "none" : steps.map { "\($0.name) (\($0.phase))" }.joined(separator: " -> ")
        }
        var out = ""
        for service in config.services {
            for (i, route) in service.routes.enumerated() {
                let name = route.name.isEmpty ? "\(service.name).\(i)" : route.name
                out += "\nroute \(name) (service \(service.name))\n"
                let paths = (route.paths.isEmpty ? ["/"] : route.paths).map { p -> String in
                    p.hasPrefix("=") ? "\(p.dropFirst()) (exact)" : p.hasPrefix("~") ? "\(p.dropFirst()) (regex)" : "\(p) (prefix)"
                }
                out += "  paths:    \(paths.joined(separator: ", "))\n"
                if !route.methods.isEmpty { out += "  methods:  \(route.methods.joined(separator: ", "))\n" }
                if !route.hosts.isEmpty { out += "  hosts:    \(route.hosts.joined(separator: ", "))\n" }
                for h in route.headers { out += "  header:   \(h.name) in [\(h.values.joined(separator: ", "))]\n" }
                for q in route.query { out += "  query:    \(q.name) in [\(q.values.joined(separator: ", "))]\n" }
                if route.stripPath { out += "  rewrite:  strip the matched prefix\n" }
                if let p = route.rewritePrefix { out += "  rewrite:  matched prefix -> \(p)\n" }
                let targets = service.upstream.targets.map { "\(ConfigRedaction.url($0.url)) (weight \($0.weight))" }
                out += "  upstream: \(service.upstream.balance.rawValue), \(service.upstream.protocol.rawValue): \(targets.joined(separator: ", "))\n"
                out += "  policies: \(chain(service.policies + route.policies, scope: name))\n"
            }
        }
        for key in config.sections.keys.sorted() {
            out += config.sections[key]?.explanation(chain: { chain($0) }) ?? ""
        }
        return out
    }
}
