import Foundation
import GatewayCore

/// The wire protocol a provider speaks; one adapter each.
package enum APIStyle: String, Sendable, CaseIterable {
    case openai
    /// OpenAI's protocol at deployment URLs with `api-version`.
    case azureOpenAI = "azure-openai"
    case anthropic
    case gemini
}

/// How a provider wants its API key: a header and a format with `{key}` in it
/// (`Authorization: Bearer {key}`, `x-api-key: {key}`, `api-key: {key}`).
package struct ProviderAuth: Sendable, Hashable {
    package var header: String
    package var format: String

    package func value(for key: String) -> String { format.replacingOccurrences(of: "{key}", with: key) }
}

/// One price list of a model, valid from a day on (the newest one not in the future applies).
package struct PriceSchedule: Sendable, Hashable {
    /// Days since 1970-01-01, UTC.
    package var effectiveFrom: Int
    /// Where the prices were read (the provider's pricing page).
    package var source: String
    package var input: TokenPrice
    package var output: TokenPrice
    /// Input tokens read from the provider's prompt cache.
    package var cachedInput: TokenPrice?
    /// Input tokens written to the prompt cache (Anthropic charges extra for these).
    package var cacheWrite: TokenPrice?
}

/// A model a provider serves, with the limits and prices routing and budgets need.
package struct ModelSpec: Sendable, Hashable {
    package var name: String
    package var contextWindow: Int
    package var maxOutputTokens: Int
    /// `chat` or `embedding`.
    package var kind: Kind
    /// Oldest first.
    package var prices: [PriceSchedule]

    package enum Kind: String, Sendable, CaseIterable { case chat, embedding }

    /// The schedule in force on `day` (days since the epoch), if any.
    package func price(onDay day: Int) -> PriceSchedule? {
        prices.last { $0.effectiveFrom <= day }
    }
}

/// One provider file: who it is, how to call it, what it sells.
package struct ProviderSpec: Sendable, Hashable {
    package var name: String
    package var apiStyle: APIStyle
    /// Default base URL; deployments may override it (Azure, self-hosted servers).
    package var baseURL: String?
    package var auth: ProviderAuth
    package var models: [String: ModelSpec]
}

/// The providers the gateway knows: the shipped ones, built into the binary, then the files of
/// the config's `providers_dir` (one naming a shipped provider replaces it). Loaded off the
/// request path, at start and on reload.
package struct ProviderCatalog: Sendable {
    package var providers: [String: ProviderSpec]
    /// The files read from the providers directory (none when there was none).
    package var files: [String] = []

    package init(providers: [String: ProviderSpec]) { self.providers = providers }

    /// The repo's `providers/*.yaml` (`Shipped/` links to it), as Package.swift embeds them; a
    /// test checks they are all there, as they are.
    static let shippedFiles: [(file: String, yaml: [UInt8])] = [
        ("anthropic.yaml", PackageResources.anthropic_yaml),
        ("azure-openai.yaml", PackageResources.azure_openai_yaml),
        ("gemini.yaml", PackageResources.gemini_yaml),
        ("openai-compatible.yaml", PackageResources.openai_compatible_yaml),
        ("openai.yaml", PackageResources.openai_yaml),
    ]

    /// The shipped providers alone. Each file is parsed by the tests: one that did not parse
    /// would be a defect of the build, not of a config.
    package static let shipped: ProviderCatalog = {
        var providers: [String: ProviderSpec] = [:]
        for (file, yaml) in shippedFiles {
            do {
                let spec = try parse(yaml: String(decoding: yaml, as: UTF8.self), source: file)
                providers[spec.name] = spec
            } catch {
                preconditionFailure("the shipped provider file \(file) does not parse: \(error)")
            }
        }
        return ProviderCatalog(providers: providers)
    }()

    /// The shipped providers, then every `*.yaml` file in `directory` (nil: the shipped ones
    /// only). A file replaces the shipped provider of its `name`; two files of the directory
    /// naming the same provider are a problem (which one wins would depend on their names).
    /// All problems of all files are thrown together.
    package static func load(directory: String?) throws(ConfigProblems) -> ProviderCatalog {
        var catalog = shipped
        guard let directory else { return catalog }
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            var isFolder: ObjCBool = false
            let why = !FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder) ? "does not exist"
                : !isFolder.boolValue ? "is not a folder" : "cannot be listed (\(error.localizedDescription))"
            throw ConfigProblems(source: directory, problems: [ConfigProblem(path: "", message: "the providers folder \(why); the shipped providers need none (leave llm.providers_dir out)")])
        }
        var problems: [ConfigProblem] = []
        var fileOf: [String: String] = [:]
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                problems.append(ConfigProblem(path: file, message: "cannot be read"))
                continue
            }
            do {
                let spec = try parse(yaml: text, source: file)
                if let other = fileOf[spec.name] {
                    problems.append(ConfigProblem(path: "\(file): name", message: "\(spec.name) is also the name in \(other)"))
                    continue
                }
                fileOf[spec.name] = file
                catalog.providers[spec.name] = spec
            } catch {
                problems += error.problems.map { ConfigProblem(path: $0.path.isEmpty ? file : "\(file): \($0.path)", message: $0.message) }
            }
        }
        if !problems.isEmpty { throw ConfigProblems(source: directory, problems: problems) }
        catalog.files = files
        return catalog
    }

    /// Parses one provider file.
    package static func parse(yaml: String, source: String) throws(ConfigProblems) -> ProviderSpec {
        try ConfigReader.readDocument(yaml: yaml, source: source) { o -> ProviderSpec in
            let name = o["name"].requiredString() ?? ""
            let style = o["api_style"].oneOf(APIStyle.self)
            if style == nil, !o.has("api_style") { o.problem(at: "api_style", "is required") }
            let baseURL = o["base_url"].string()
            if let baseURL, case .failure(let e) = UpstreamURL.parse(baseURL) { o.problem(at: "base_url", "\(e)") }
            var auth = ProviderAuth(header: "authorization", format: "Bearer {key}")
            _ = o["auth"].object { a in
                auth.header = a["header"].string()?.lowercased() ?? auth.header
                auth.format = a["format"].string() ?? auth.format
                if !auth.format.contains("{key}") { a.problem(at: "format", "must contain {key}") }
            }
            var models: [String: ModelSpec] = [:]
            _ = o["models"].dictionary { modelName, m -> Bool? in
                m.object { mo in
                    let spec = ModelSpec(
                        name: modelName,
                        contextWindow: mo["context_window"].int(min: 1) ?? 0,
                        maxOutputTokens: mo["max_output_tokens"].int(min: 1) ?? 0,
                        kind: mo["kind"].oneOf(ModelSpec.Kind.self) ?? .chat,
                        prices: mo["prices"].list { $0.object { readPrice($0) } ?? nil } ?? [])
                    if !mo.has("context_window") { mo.problem(at: "context_window", "is required") }
                    if spec.kind == .chat, !mo.has("max_output_tokens") { mo.problem(at: "max_output_tokens", "is required") }
                    if spec.prices.isEmpty, !mo.has("prices") { mo.problem(at: "prices", "must list at least one price schedule") }
                    for (a, b) in zip(spec.prices, spec.prices.dropFirst()) where b.effectiveFrom <= a.effectiveFrom {
                        mo.problem(at: "prices", "must be in effective_from order, oldest first")
                    }
                    models[modelName] = spec
                }
                return true
            }
            return ProviderSpec(name: name, apiStyle: style ?? .openai, baseURL: baseURL, auth: auth, models: models)
        }
    }

    static func readPrice(_ p: ConfigObject) -> PriceSchedule? {
        func price(_ key: String, required: Bool) -> TokenPrice? {
            let r = p[key]
            guard let text = r.scalarIfPresent() else {
                if required { p.problem(at: key, "is required (USD per 1M tokens)") }
                return nil
            }
            guard let value = TokenPrice(decimal: text) else {
                r.problem("must be a decimal number of USD per 1M tokens with at most 6 decimals (got \"\(text)\")")
                return nil
            }
            return value
        }
        let dayText = p["effective_from"].requiredString()
        let day = dayText.flatMap(Self.day(fromISODate:))
        if let dayText, day == nil { p.problem(at: "effective_from", "must be a date YYYY-MM-DD (got \"\(dayText)\")") }
        let source = p["source"].requiredString()
        let input = price("input", required: true), output = price("output", required: false)
        let cached = price("cached_input", required: false), write = price("cache_write", required: false)
        guard let day, let source, let input else { return nil }
        return PriceSchedule(effectiveFrom: day, source: source, input: input, output: output ?? .zero, cachedInput: cached, cacheWrite: write)
    }

    /// Days since the epoch of an ISO date, UTC; nil unless exactly `YYYY-MM-DD` and a real day.
    package static func day(fromISODate text: String) -> Int? { CivilDate.day(fromISODate: text) }
}
