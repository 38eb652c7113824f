import GatewayCore

extension LLMConfig {
    /// Each public model: how it picks a deployment, where those are, where it falls back, and
    /// the policies its calls go through (the gate's on every request, then the model's once the
    /// body names it).
    package func explanation(chain: ([PolicyConfig]) -> String) -> String {
        var out = ""
        for model in models {
            out += "\nmodel \(model.name) (llm)\n"
            out += "  routing:     \(model.routing.rawValue)\n"
            for d in model.deployments {
                let base = d.baseURL.map { ", \(ConfigRedaction.url($0))" } ?? ""
                out += "  deployment:  \(d.provider) \(d.model)\(d.deployment.map { " (\($0))" } ?? "")\(base), weight \(d.weight), timeout \(ConfigDuration.format(d.timeout)), stall \(ConfigDuration.format(d.stallTimeout))\n"
            }
            if !model.fallbacks.isEmpty {
                out += "  fallbacks:   \(model.fallbacks.joined(separator: ", ")) on \(model.fallbackOn.map(\.rawValue).joined(separator: ", "))\n"
            }
            out += "  policies:    \(chain(policies)) (every request), then \(chain(model.policies)) (this model)\n"
            let limits = self.limits.filter { $0.model == "*" || $0.model == model.name }
            if !limits.isEmpty { out += "  limits:      \(limits.count) (by \(Set(limits.map(\.by.rawValue)).sorted().joined(separator: ", ")))\n" }
        }
        if !budgets.isEmpty { out += "\nbudgets (llm): \(budgets.count), counters \(counters.rawValue)\n" }
        return out
    }
}
