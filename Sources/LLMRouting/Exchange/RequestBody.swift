import GatewayCore
import NIOCore

/// A caller's JSON body as the gate reads it: the few top-level fields routing needs, located by
/// `JSONScanner` without building a tree, and the whole parsed only when a translation needs it.
/// Same-dialect calls go out as the caller's bytes with only `model` spliced in.
final class RequestBody {
    /// The top-level members the gate reads.
    enum Field: Int, CaseIterable {
        case model, stream, streamOptions, messages, maxTokens, maxCompletionTokens, input, prompt, metadata
        case maxOutputTokens, n, bestOf

        var key: String {
            switch self {
            case .model: "model"
            case .stream: "stream"
            case .streamOptions: "stream_options"
            case .messages: "messages"
            case .maxTokens: "max_tokens"
            case .maxCompletionTokens: "max_completion_tokens"
            case .input: "input"
            case .prompt: "prompt"
            case .metadata: "metadata"
            case .maxOutputTokens: "max_output_tokens"
            case .n: "n"
            case .bestOf: "best_of"
            }
        }
    }

    static let keys: [[UInt8]] = Field.allCases.map { Array($0.key.utf8) }

    let raw: ByteBuffer
    /// The byte ranges (in `raw`'s readable bytes) of the members read, by `Field`: found while
    /// the body is validated, compared as bytes (no key becomes a String).
    private let ranges: [Range<Int>?]
    private var parsedWhole: JSONValue??

    /// Nil when the body is not one strict JSON object (`JSONValidator`: no key twice at any
    /// depth, escapes decoded, nothing after it); `problem` then says why. What the gate reads
    /// from it is then exactly what the provider will read.
    init?(_ raw: ByteBuffer) {
        guard let ranges = raw.withUnsafeReadableBytes({ bytes -> [Range<Int>?]? in
            // One pass: validated, and the members read found on the way.
            (try? JSONValidator.validate(bytes, findingTopLevel: Self.keys)) ?? nil
        }) else { return nil }
        self.raw = raw
        self.ranges = ranges
    }

    /// Why a body is refused, in words a caller can act on.
    static func problem(_ raw: ByteBuffer) -> ProblemDetails {
        do {
            try JSONValidator.validate(raw)
            return ProblemDetails(status: .badRequest, title: "The request body must be a JSON object")
        } catch {
            return ProblemDetails(status: .badRequest, title: "The request body is not valid JSON", detail: error.description)
        }
    }

    func has(_ field: Field) -> Bool { ranges[field.rawValue] != nil }

    /// The numbers that size a call's output, with the range each may take. A provider refuses
    /// values outside them anyway; the gate refuses them first, because it reserves tokens and
    /// dollars from them (a negative `max_tokens` once made a reservation negative).
    static let countFields: [(Field, ClosedRange<Int>)] = [
        (.maxTokens, 1...Int(Int32.max)), (.maxCompletionTokens, 1...Int(Int32.max)), (.maxOutputTokens, 1...Int(Int32.max)),
        (.n, 1...128), (.bestOf, 1...128),
    ]

    /// Why one of `countFields` is refused, or nil when each is absent, null or an integer in
    /// its range.
    func countProblem() -> ProblemDetails? {
        for (field, range) in Self.countFields where has(field) {
            let n = count(field)
            if n == nil, isNull(field) { continue }
            guard let n, range.contains(n) else {
                var p = ProblemDetails(status: .badRequest, title: "`\(field.key)` must be an integer from \(range.lowerBound) to \(range.upperBound)")
                p.code = .invalidValue
                return p
            }
        }
        return nil
    }

    /// An integer count field as given (after `countProblem` passed), nil when absent, null or
    /// not an integer. Read from its bytes, with nothing allocated for a plain integer: every
    /// call reads these twice (check, reservation).
    func count(_ field: Field) -> Int? {
        guard let r = ranges[field.rawValue] else { return nil }
        return raw.withUnsafeReadableBytes { JSONScanner.int(UnsafeRawBufferPointer(rebasing: $0[r])) }
    }

    private func isNull(_ field: Field) -> Bool {
        guard let r = ranges[field.rawValue] else { return false }
        return raw.withUnsafeReadableBytes { $0[r].elementsEqual("null".utf8) }
    }

    /// A top-level field, parsed (small ones: model, stream, stream_options, max_tokens).
    func field(_ field: Field) -> JSONValue? {
        guard let r = ranges[field.rawValue] else { return nil }
        return raw.withUnsafeReadableBytes { try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: $0[r])) }
    }

    /// The first byte of a field's value and whether it is an empty array (`messages` checks).
    func startsArray(_ field: Field) -> (isArray: Bool, isEmpty: Bool) {
        guard let r = ranges[field.rawValue] else { return (false, true) }
        return raw.withUnsafeReadableBytes { b in
            guard b[r.lowerBound] == UInt8(ascii: "[") else { return (false, true) }
            let inner = b[(r.lowerBound + 1)..<(r.upperBound - 1)]
            return (true, inner.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 })
        }
    }

    /// The whole body parsed (strictly), once; nil when it is not valid JSON.
    var json: JSONValue? {
        if let parsedWhole { return parsedWhole }
        let v = try? JSONParser.parse(raw.readableBytesView)
        parsedWhole = .some(v)
        return v
    }

    /// The caller's bytes with `model` replaced by `model`, and `insert` (a member written as
    /// JSON text, e.g. `"stream_options":{...}`) added before the closing brace.
    func spliced(model: String, insert: String?, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: raw.readableBytes + model.utf8.count + (insert?.utf8.count ?? 0) + 8)
        let start = raw.readerIndex
        guard let m = ranges[Field.model.rawValue] else { return raw }
        out.writeBytes(raw.readableBytesView[start..<(start + m.lowerBound)])
        JSONValue.writeQuoted(model, to: &out)
        let afterModel = start + m.upperBound
        let end = raw.writerIndex
        if let insert {
            // The body ends in `}` (possibly followed by whitespace): insert before it.
            let view = raw.readableBytesView
            var close = end - 1
            while close > afterModel, view[close] != UInt8(ascii: "}") { close -= 1 }
            out.writeBytes(view[afterModel..<close])
            out.writeStaticString(",")
            out.writeString(insert)
            out.writeBytes(view[close..<end])
        } else {
            out.writeBytes(raw.readableBytesView[afterModel..<end])
        }
        return out
    }
}
