import Foundation
import GatewayCore

/// One LLM call in the ledger: who asked, what was served, what it used and cost. Written once
/// per call (cache hits and failures included), off the request path.
package struct LedgerRow: Sendable, Equatable {
    /// Unix milliseconds, UTC, when the call was answered (or failed).
    package var timeMillis: Int64
    package var requestID: String
    package var consumer: String?
    package var team: String?
    package var keyID: String?
    /// Caller tags (`x-triplegate-tags: project=search,env=prod`), sorted by name.
    package var tags: [(String, String)] = []
    /// The public model name asked for.
    package var model: String
    package var provider: String?
    package var servedModel: String?
    package var attempts: Int
    package var usage: TokenUsage
    package var costMicros: Int64
    package var savedByCacheMicros: Int64
    /// `none`, `exact` or `semantic`.
    package var cacheHit: String = "none"
    package var status: Int
    package var latencyMillis: Int64
    package var timeToFirstTokenMillis: Int64?
    /// Tokens were counted by the gateway (a cut stream), not reported by the provider.
    package var estimated: Bool

    package init(timeMillis: Int64, requestID: String, consumer: String? = nil, team: String? = nil, keyID: String? = nil, tags: [(String, String)] = [],
                model: String, provider: String? = nil, servedModel: String? = nil, attempts: Int, usage: TokenUsage = TokenUsage(),
                costMicros: Int64 = 0, savedByCacheMicros: Int64 = 0, cacheHit: String = "none", status: Int, latencyMillis: Int64,
                timeToFirstTokenMillis: Int64? = nil, estimated: Bool = false) {
        self.timeMillis = timeMillis
        self.requestID = requestID
        self.consumer = consumer
        self.team = team
        self.keyID = keyID
        self.tags = tags
        self.model = model
        self.provider = provider
        self.servedModel = servedModel
        self.attempts = attempts
        self.usage = usage
        self.costMicros = costMicros
        self.savedByCacheMicros = savedByCacheMicros
        self.cacheHit = cacheHit
        self.status = status
        self.latencyMillis = latencyMillis
        self.timeToFirstTokenMillis = timeToFirstTokenMillis
        self.estimated = estimated
    }

    package static func == (a: LedgerRow, b: LedgerRow) -> Bool {
        a.timeMillis == b.timeMillis && a.requestID == b.requestID && a.consumer == b.consumer && a.team == b.team && a.keyID == b.keyID
            && a.tags.map(\.0) == b.tags.map(\.0) && a.tags.map(\.1) == b.tags.map(\.1) && a.model == b.model && a.provider == b.provider
            && a.servedModel == b.servedModel && a.attempts == b.attempts && a.usage == b.usage && a.costMicros == b.costMicros
            && a.savedByCacheMicros == b.savedByCacheMicros && a.cacheHit == b.cacheHit && a.status == b.status
            && a.latencyMillis == b.latencyMillis && a.timeToFirstTokenMillis == b.timeToFirstTokenMillis && a.estimated == b.estimated
    }

    /// Tags as the store keeps them: a JSON object, `{}` when none.
    static func json(tags: [(String, String)]) -> String {
        tags.isEmpty ? "{}" : JSONValue.object(tags.map { ($0.0, .string($0.1)) }).text
    }

    /// Tags from `x-triplegate-tags` (`k=v,k=v`): names and values trimmed, empty and
    /// malformed pairs skipped, at most 16 kept, each at most 64 characters.
    package static func tags(fromHeader value: String?) -> [(String, String)] {
        guard let value else { return [] }
        var out: [String: String] = [:]
        for pair in value.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            let k = String(kv[0]).trimmingCharacters(in: .whitespaces), v = String(kv[1]).trimmingCharacters(in: .whitespaces)
            guard !k.isEmpty, !v.isEmpty, k.count <= 64, v.count <= 64, out.count < 16 || out[k] != nil else { continue }
            out[k] = v
        }
        return out.sorted { $0.key < $1.key }
    }
}
