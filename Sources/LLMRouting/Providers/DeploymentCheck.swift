import Foundation
import GatewayCore

/// Checks `llm.models[].deployments[]` against the provider catalog: the provider exists, it
/// sells the model (so every call can be priced), and what its API style needs is given
/// (Azure: base URL, deployment, api-version; OpenAI-compatible servers: a base URL; everyone:
/// a key). Problems carry the config path.
package enum DeploymentCheck {
    package static func problems(_ llm: LLMConfig, catalog: ProviderCatalog) -> [ConfigProblem] {
        var out: [ConfigProblem] = []
        for (i, model) in llm.models.enumerated() {
            for (j, d) in model.deployments.enumerated() {
                let path = "llm.models[\(i)].deployments[\(j)]"
                guard let provider = catalog.providers[d.provider] else {
                    let known = catalog.providers.keys.sorted().joined(separator: ", ")
                    out.append(ConfigProblem(path: "\(path).provider", message: "names no provider (known: \(known))"))
                    continue
                }
                if provider.models[d.model] == nil {
                    out.append(ConfigProblem(path: "\(path).model",
                                             message: "\(d.provider) lists no model \"\(d.model)\", so its calls could not be priced (add it to a provider file)"))
                }
                if d.baseURL == nil, provider.baseURL == nil {
                    out.append(ConfigProblem(path: "\(path).base_url", message: "is required: provider \(d.provider) has no default base URL"))
                }
                if provider.apiStyle == .azureOpenAI {
                    if d.deployment == nil { out.append(ConfigProblem(path: "\(path).deployment", message: "is required for Azure OpenAI")) }
                    if d.apiVersion == nil { out.append(ConfigProblem(path: "\(path).api_version", message: "is required for Azure OpenAI")) }
                }
                if d.apiKeys.isEmpty {
                    out.append(ConfigProblem(path: "\(path).api_key", message: "is required (e.g. api_key: ${PROVIDER_API_KEY})"))
                }
            }
        }
        return out
    }
}

extension DeploymentCheck {
    /// The AI gate's part of validating a config file: its deployments against the provider
    /// files, reported with the rest of the file's problems. A problem in a provider file is
    /// reported at `llm.providers_dir`, naming the file. The catalog it loaded is kept with the
    /// config (`catalog(checkedIn:)`), so serving it reads the provider files no second time.
    package static let section = ConfigSectionCheck(section: "llm") { config, configFile in
        guard let llm = config.llm else { return .passed(nil) }
        do throws(ConfigProblems) {
            return .passed(try validate(llm, configFile: configFile))
        } catch {
            if error.source == (configFile ?? "config") { return .failed(error.problems) }
            return .failed(error.problems.map {
                ConfigProblem(path: "llm.providers_dir", message: "\(error.source)\($0.path.isEmpty ? "" : "/" + $0.path): \($0.message)")
            })
        }
    }

    /// The catalog `section` loaded and checked `config` against, if it ran.
    package static func catalog(checkedIn config: GatewayConfig) -> ProviderCatalog? {
        config.checked[section.section] as? ProviderCatalog
    }

    /// The catalog to serve `llm` with: the one it was checked against when the config was read,
    /// else loaded and checked now.
    package static func catalog(for llm: LLMConfig, in config: GatewayConfig, configFile: String?) throws(ConfigProblems) -> ProviderCatalog {
        if let checked = catalog(checkedIn: config) { return checked }
        return try validate(llm, configFile: configFile)
    }

    /// Loads the catalog: the shipped providers and those of `llm.providers_dir` (relative paths
    /// are taken from the config file's folder; left out, `providers` there if it exists), and
    /// checks the deployments; throws every problem together.
    package static func validate(_ llm: LLMConfig, configFile: String?) throws(ConfigProblems) -> ProviderCatalog {
        var dir = llm.providersDir ?? LLMConfig.defaultProvidersDir
        if !dir.hasPrefix("/"), let configFile, let slash = configFile.lastIndex(of: "/") {
            dir = String(configFile[..<slash]) + "/" + dir
        }
        let catalog = try ProviderCatalog.load(directory: llm.providersDir != nil || FileManager.default.fileExists(atPath: dir) ? dir : nil)
        let found = problems(llm, catalog: catalog)
        if !found.isEmpty { throw ConfigProblems(source: configFile ?? "config", problems: found) }
        return catalog
    }
}
