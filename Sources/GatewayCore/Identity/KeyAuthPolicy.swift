import Foundation
import Prometheus

/// `key_auth` in the authenticate phase: finds the API key in `Authorization: Bearer`, the
/// configured headers or query parameters, and maps it to its consumer. Missing or unknown keys
/// get 401 with `WWW-Authenticate`.
package struct KeyAuthPolicy: RequestPolicy {
    package let name = "key_auth"
    package let phase = PolicyPhase.authenticate
    package let priority = 1250  // Kong's key-auth priority: before other authenticators
    let config: KeyAuthConfig
    let keys: KeyIndex
    let consumers: [String: Consumer]
    let missing: Counter?
    let invalid: Counter?
    let metrics: GatewayMetrics?

    package init(config: KeyAuthConfig, keys: KeyIndex, consumers: [String: Consumer], missing: Counter? = nil, invalid: Counter? = nil,
                metrics: GatewayMetrics? = nil) {
        self.config = config
        self.keys = keys
        self.consumers = consumers
        self.missing = missing
        self.invalid = invalid
        self.metrics = metrics
    }

    package func apply(_ context: inout PolicyContext) -> PolicyVerdict {
        var presented: Substring?
        var carrier: String?
        if let bearer = BearerToken.from(context.headers) {
            presented = bearer
            carrier = "authorization"
        } else {
            for name in config.headerNames {
                if let v = context.headers.first(name: name) {
                    presented = Substring(v)
                    carrier = name
                    break
                }
            }
        }
        var inQuery: String?
        if presented == nil, !config.queryNames.isEmpty, let query = context.query {
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, config.queryNames.contains(String(kv[0])) {
                    if let decoded = String(kv[1]).removingPercentEncoding { presented = Substring(decoded) }
                    inQuery = String(kv[0])
                    break
                }
            }
        }
        guard let key = presented, !key.isEmpty else {
            // Already identified (a certificate, a token): no key needed (`IdentityRule`).
            if config.anonymous || context.consumer != nil { return .proceed }
            missing?.increment()
            return .reject(Self.unauthorized("No API key", error: nil))
        }
        guard let entry = keys.lookup(key: key), let consumer = consumers[entry.consumer] else {
            invalid?.increment()
            return .reject(Self.unauthorized("Invalid API key", error: "invalid_token"))
        }
        if let refusal = IdentityRule.conflict(established: context.consumer, presented: consumer.name, by: "API key", metrics: metrics) {
            return refusal
        }
        if context.consumer == nil { context.consumer = consumer }
        context.keyID = entry.id
        if config.hideCredentials {
            if let carrier { context.removeRequestHeaders.append(carrier) }
            if let inQuery { context.removeQueryParameters.append(inQuery) }
        }
        return .proceed
    }

    static func unauthorized(_ title: String, error: String?) -> ProblemDetails {
        let challenge = error.map { "Bearer realm=\"triplegate\", error=\"\($0)\"" } ?? "Bearer realm=\"triplegate\""
        return ProblemDetails(status: .unauthorized, title: title, headers: [("www-authenticate", challenge)])
    }
}
