import GatewayCore

/// Builds the whole chat completion a stream delivered, chunk by chunk (the pivot chunks every
/// provider's stream is translated to), so a streamed answer is cached like any other.
struct CompletionAssembler {
    private var id: JSONValue?
    private var model: JSONValue?
    private var created: JSONValue?
    private var content = ""
    private var sawContent = false
    private var refusal: String?
    private var finishReason: JSONValue = .null
    private var toolCalls: [Int: (id: String, name: String, arguments: String)] = [:]
    private var usage: JSONValue?
    /// False once an event's bytes were not valid UTF-8: the text assembled from it would not
    /// be the bytes the caller received, so the answer is not kept.
    private var faithful = true

    /// Notes an event whose bytes the assembled copy cannot reproduce.
    mutating func sawUnfaithfulBytes() { faithful = false }

    mutating func add(_ chunk: JSONValue) {
        id = id ?? chunk["id"]
        model = model ?? chunk["model"]
        created = created ?? chunk["created"]
        if let u = chunk["usage"], u != .null { usage = u }
        guard let choice = chunk["choices"]?.arrayValue?.first else { return }
        if let f = choice["finish_reason"], f != .null { finishReason = f }
        guard let delta = choice["delta"] else { return }
        if let c = delta["content"]?.stringValue {
            content += c
            sawContent = true
        }
        if let r = delta["refusal"]?.stringValue { refusal = (refusal ?? "") + r }
        for call in delta["tool_calls"]?.arrayValue ?? [] {
            let i = call["index"]?.intValue ?? 0
            var t = toolCalls[i] ?? ("", "", "")
            if let v = call["id"]?.stringValue { t.id = v }
            if let v = call["function"]?["name"]?.stringValue { t.name += v }
            if let v = call["function"]?["arguments"]?.stringValue { t.arguments += v }
            toolCalls[i] = t
        }
    }

    /// The answer as a `chat.completion`; nil when the stream did not finish.
    var completion: JSONValue? {
        guard finishReason != .null, faithful else { return nil }
        let calls = toolCalls.sorted { $0.key < $1.key }.map { _, t in
            JSONValue.obj([("id", .string(t.id)), ("type", .string("function")),
                           ("function", .obj([("name", .string(t.name)), ("arguments", .string(t.arguments))]))])
        }
        let message = JSONValue.obj([
            ("role", .string("assistant")), ("content", sawContent || calls.isEmpty ? .string(content) : .null),
            ("refusal", refusal.map { .string($0) } ?? .null), ("tool_calls", calls.isEmpty ? nil : .array(calls)),
        ])
        return .obj([
            ("id", id ?? .string("chatcmpl-cached")), ("object", .string("chat.completion")), ("created", created ?? .int(unixNow())),
            ("model", model ?? .null), ("choices", .array([.obj([("index", .int(0)), ("message", message), ("logprobs", .null), ("finish_reason", finishReason)])])),
            ("usage", usage),
        ])
    }
}

/// Which provider answers may be kept: complete, successful ones only. A 200 that carries an
/// `error`, has no choices, or whose every choice did not end normally (`content_filter`, a
/// cut stream) would be replayed to every caller for the whole TTL.
enum CacheableAnswer {
    static let finishReasons: Set<String> = ["stop", "length", "tool_calls", "function_call"]

    static func check(_ completion: JSONValue) -> Bool {
        guard completion["error"] == nil, let choices = completion["choices"]?.arrayValue, !choices.isEmpty else { return false }
        return choices.allSatisfy { c in c["finish_reason"]?.stringValue.map(finishReasons.contains) ?? false }
    }
}

/// A cached completion replayed as a stream: the chunks a provider would have sent (role,
/// the text, each tool call, the finish reason, then the usage), for the caller's encoder.
enum CompletionReplay {
    static func chunks(of completion: JSONValue) -> [JSONValue] {
        let message = completion["choices"]?.arrayValue?.first?["message"] ?? .object([])
        let finish = completion["choices"]?.arrayValue?.first?["finish_reason"] ?? .string("stop")
        func chunk(_ delta: JSONValue, finish: JSONValue = .null) -> JSONValue {
            .obj([("id", completion["id"]), ("object", .string("chat.completion.chunk")), ("created", completion["created"]),
                  ("model", completion["model"]), ("choices", .array([.obj([("index", .int(0)), ("delta", delta), ("logprobs", .null), ("finish_reason", finish)])]))])
        }
        var out = [chunk(.obj([("role", .string("assistant")), ("content", .string(""))]))]
        if let text = message["content"]?.stringValue, !text.isEmpty {
            // Word by word, as providers stream: a replay looks like the original to the caller.
            var piece = ""
            for c in text {
                piece.append(c)
                if c == " " && piece.count >= 16 {
                    out.append(chunk(.obj([("content", .string(piece))])))
                    piece = ""
                }
            }
            if !piece.isEmpty { out.append(chunk(.obj([("content", .string(piece))]))) }
        }
        for (i, call) in (message["tool_calls"]?.arrayValue ?? []).enumerated() {
            out.append(chunk(.obj([("tool_calls", .array([.obj([
                ("index", .int(i)), ("id", call["id"]), ("type", .string("function")),
                ("function", .obj([("name", call["function"]?["name"]), ("arguments", call["function"]?["arguments"])])),
            ])]))])))
        }
        out.append(chunk(.object([]), finish: finish))
        if let usage = completion["usage"], usage != .null {
            out.append(.obj([("id", completion["id"]), ("object", .string("chat.completion.chunk")), ("created", completion["created"]),
                             ("model", completion["model"]), ("choices", .array([])), ("usage", usage)]))
        }
        return out
    }
}
