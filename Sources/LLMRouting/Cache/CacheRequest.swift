import Foundation
import GatewayCore
import NIOHTTP1
import SemanticCache

/// What the cache needs to know about one chat request: its exact key (a hash of the request
/// with key order, spacing and stream options normalized away), the scope a similar answer
/// must share, and the question to embed when a similarity lookup is allowed.
struct CacheRequest {
    var exactKey: String
    var scope: CacheScope
    /// The text whose embedding finds similar questions: the last user turn, preceded by the
    /// user turn before it when there is one (so "and in French?" carries its subject), at
    /// most 4,000 characters. Nil when this request may not be answered by similarity.
    var question: String?
    /// `Cache-Control: no-cache` (do not answer from the cache) and `no-store` (do not keep).
    var read: Bool
    var write: Bool

    /// Fields that never change an answer: how it is delivered, and caller bookkeeping.
    static let ignored: Set<String> = ["stream", "stream_options", "user", "metadata", "store", "service_tier"]
    /// Fields that are the conversation rather than its parameters.
    static let conversation: Set<String> = ["model", "messages", "system"]

    /// Nil when the request is not cacheable at all (other endpoints, several choices).
    init?(body: JSONValue, endpoint: Endpoint, headers: HTTPHeaders, consumer: Consumer?, model: String, config: LLMCacheConfig) {
        guard endpoint == .chatCompletions || endpoint == .messages, let fields = body.objectFields else { return nil }
        if let n = body["n"]?.intValue, n > 1 { return nil }
        let directives = headers[canonicalForm: "cache-control"].map { $0.lowercased().trimmingCharacters(in: .whitespaces) }
        read = !directives.contains("no-cache")
        write = !directives.contains("no-store")

        let kept = fields.filter { !Self.ignored.contains($0.0) }
        var tenant: [String] = []
        // Namespaced, so a consumer without a team (`finance`) never reads team `finance`'s.
        if config.scope.contains(.team) { tenant.append(consumer.map { c in c.team.map { "team:" + $0 } ?? "consumer:" + c.name } ?? "") }
        if config.scope.contains(.consumer) { tenant.append(consumer.map { "consumer:" + $0.name } ?? "") }
        let messages = body["messages"]?.arrayValue ?? []
        let isSystem = { (m: JSONValue) in ["system", "developer"].contains(m["role"]?.stringValue ?? "") }
        let system: [JSONValue] = (body["system"].map { [$0] } ?? []) + messages.filter(isSystem)
        let params = kept.filter { !Self.conversation.contains($0.0) }
        scope = CacheScope(
            tenant: tenant.joined(separator: "/"), model: model,
            systemPrompt: config.scope.contains(.systemPrompt) ? Self.digest(.array(system)) : "",
            parameters: config.scope.contains(.params) ? Self.digest(.object(params)) : "",
            context: Self.contextDigest(kept))
        // The scope is part of the exact key too: two teams asking the same never share.
        exactKey = [endpoint.rawValue, scope.tenant, model, Self.digest(.object(kept))].joined(separator: "|")

        question = nil
        if let semantic = config.semantic {
            let turns = messages.filter { !isSystem($0) }
            let temperature = body["temperature"]?.doubleValue ?? 1.0
            if temperature <= semantic.temperatureMax, turns.count <= semantic.maxMessages, turns.last?["role"]?.stringValue == "user" {
                let users = turns.filter { $0["role"]?.stringValue == "user" }.suffix(2).compactMap { Self.text(of: $0["content"]) }
                let text = users.joined(separator: "\n")
                if !text.isEmpty { question = String(text.suffix(4000)) }
            }
        }
    }

    /// What a similar answer must share besides the question: the whole request with only the
    /// last message's text taken out (its other parts, such as images, stay). Two requests
    /// differing in an image, a tool result, an earlier turn, the tools or any parameter are
    /// never answered from each other by similarity.
    static func contextDigest(_ kept: [(String, JSONValue)]) -> String {
        let fields = kept.map { name, value -> (String, JSONValue) in
            guard name == "messages", var messages = value.arrayValue, let last = messages.last else { return (name, value) }
            messages[messages.count - 1] = withoutText(last)
            return (name, .array(messages))
        }
        return digest(.object(fields))
    }

    /// A message with its text removed: a string content becomes "", text parts are dropped.
    private static func withoutText(_ message: JSONValue) -> JSONValue {
        guard let fields = message.objectFields else { return message }
        return .object(fields.map { name, value in
            guard name == "content" else { return (name, value) }
            if value.stringValue != nil { return (name, .string("")) }
            guard let parts = value.arrayValue else { return (name, value) }
            return (name, .array(parts.filter { $0["type"]?.stringValue != "text" }))
        })
    }

    /// A message's text: a string, or its text parts joined.
    static func text(of content: JSONValue?) -> String? {
        if let s = content?.stringValue { return s }
        let parts = content?.arrayValue?.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil } ?? []
        return parts.isEmpty ? nil : parts.joined(separator: "\n")
    }

    /// SHA-256 (hex) of the value written canonically: object keys sorted, no spacing.
    static func digest(_ value: JSONValue) -> String {
        var text = ""
        canonical(value, into: &text)
        return APIKey.hash(text).map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    static func canonical(_ value: JSONValue, into out: inout String) {
        switch value {
        case .object(let fields):
            out += "{"
            for (i, (k, v)) in fields.sorted(by: { $0.0 < $1.0 }).enumerated() {
                if i > 0 { out += "," }
                out += JSONValue.string(k).text
                out += ":"
                canonical(v, into: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += "," }
                canonical(v, into: &out)
            }
            out += "]"
        case .double(let d) where d == d.rounded() && abs(d) < 1e15:
            out += String(Int(d))  // 1.0 and 1 ask the same
        default:
            out += value.text
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
