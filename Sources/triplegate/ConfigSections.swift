import GatewayCore
import LLMRouting
import MCPGate

/// What this binary reads from a config file beyond the core's keys: the gates' sections, in
/// the order they are printed, and the checks the gates run on them (the AI gate's deployments
/// against the provider files). Every command that reads a config reads it with these.
enum ConfigSections {
    static let all: [any ConfigSection.Type] = [LLMConfig.self, MCPConfig.self]
    static let checks: [ConfigSectionCheck] = [DeploymentCheck.section]
    /// Every key of the file, the core's and the gates', table by table.
    static var keyTables: [ConfigKeyTable] { ConfigKeys.tables + all.flatMap { $0.keys } }
}
