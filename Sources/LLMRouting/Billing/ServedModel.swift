import Logging

/// Which model a provider's answer says it came from, against the one the deployment asked for.
/// Providers name dated snapshots (`gpt-4o-2024-08-06` for `gpt-4o`,
/// `claude-sonnet-4-5-20250929`): those are the model asked. Any other name is another model: a
/// misrouted or substituted answer, billed at what was served when that is priced (a cheaper
/// model must not be billed as the dear one, nor the reverse), logged and counted.
enum ServedModel {
    static let logger = Logger(label: "triplegate.llm")

    enum Verdict: Equatable {
        /// The model asked (or no name given).
        case asked
        /// Another model; `priced` when the provider's catalog has its price.
        case other(String, priced: Bool)
    }

    static func judge(answered: String?, deployment: Deployment) -> Verdict {
        guard let answered, !answered.isEmpty, answered != deployment.model else { return .asked }
        // Azure deployments answer with the model behind the deployment name.
        if deployment.azureDeployment != nil, deployment.spec == nil { return .asked }
        if isSnapshot(answered, of: deployment.model) { return .asked }
        if deployment.providerModels[answered] != nil { return .other(answered, priced: true) }
        return .other(answered, priced: false)
    }

    /// `name` is `model` followed by a date or version stamp: `-` and digits and `-` only
    /// (`-2024-08-06`, `-20250929`, `-001`).
    static func isSnapshot(_ name: String, of model: String) -> Bool {
        guard name.hasPrefix(model + "-") else { return false }
        let stamp = name.utf8.dropFirst(model.utf8.count + 1)
        return !stamp.isEmpty && stamp.contains(where: { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            && stamp.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "-") }
    }
}
