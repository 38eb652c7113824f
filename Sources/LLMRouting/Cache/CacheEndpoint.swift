import GatewayCore

/// `DELETE /admin/cache?team=...&model=...` (or `consumer=...`): drops cached answers of a team
/// (or a consumer) and/or a model (all absent: everything). Answers `{"purged": N}`.
package enum CacheEndpoint {
    package static func make(gate: AIGate) -> AdminEndpoint {
        AdminEndpoint(path: "/admin/cache", method: .DELETE) { query in
            guard let cache = gate.answerCache else {
                let p = JSONValue.object([("type", .string("about:blank")), ("title", .string("the answer cache is off (llm.cache)")), ("status", .int(404))])
                return .init(status: .notFound, contentType: "application/problem+json", body: p.text)
            }
            // Tenants are kept as `team:NAME` and `consumer:NAME` (CacheRequest).
            let tenant = query["team"].map { "team:" + $0 } ?? query["consumer"].map { "consumer:" + $0 }
            let n = cache.purge(tenant: tenant, model: query["model"])
            return .init(status: .ok, contentType: "application/json", body: JSONValue.object([("purged", .int(n))]).text)
        }
    }
}
