import GatewayCore
import NIOCore

/// One JSON-RPC message as the gate sees it: the raw bytes, plus the few members it reads
/// (`id`, `method`, the tool name or resource URI, the progress token). Everything else is
/// passed on byte for byte: unknown fields, `_meta`, `structuredContent`, annotations.
package struct RPCMessage: Sendable {
    enum Kind: Sendable, Equatable {
        case request
        case notification
        /// A `result` or `error` answering a request.
        case response
    }

    /// The whole message (one JSON object).
    var bytes: ByteBuffer
    var kind: Kind
    /// The id's JSON text (`7`, `"a-1"`, `null`), kept verbatim so its type survives.
    var id: String?
    var idRange: Range<Int>?
    var method: String?
    /// `params.name` (tools/call, prompts/get) or `params.uri` (resources/read, subscribe).
    var target: String?
    var targetRange: Range<Int>?
    /// `params`, `params._meta` and `result` as located in `bytes`: paths below them are
    /// looked up from there rather than by walking the message again.
    var paramsRange: Range<Int>?
    var metaRange: Range<Int>?
    var resultRange: Range<Int>?
    /// `params._meta.progressToken` (JSON text) and `params.requestId` (cancellation), if any.
    var progressToken: String?
    var progressTokenRange: Range<Int>?
    var isError: Bool

    /// Why a body is not a message.
    package struct Malformed: Error, Sendable {
        var reason: String
        /// The id, when it could be read (errors should carry it).
        var id: String?
    }

    /// The members `parse` reads at the top, in the order `parse(_:topLevel:)` takes their ranges.
    package static let topKeys = ["jsonrpc", "id", "method", "params", "result", "error"].map { Array($0.utf8) }
    private static let paramKeys = ["name", "uri", "_meta"].map { Array($0.utf8) }
    private static let metaKeys = [Array("progressToken".utf8)]

    /// Reads one message. Throws `Malformed` for anything that is not a JSON-RPC 2.0 object.
    package static func parse(_ buffer: ByteBuffer) throws(Malformed) -> RPCMessage {
        try parse(buffer, topLevel: buffer.withUnsafeReadableBytes { JSONScanner.slots(topKeys, in: $0) })
    }

    /// `parse`, with the ranges of `topKeys` already found (nil: not an object), as
    /// `JSONValidator.validate(_:findingTopLevel:)` finds them while it validates: the message
    /// is then walked once, not twice.
    package static func parse(_ buffer: ByteBuffer, topLevel: [Range<Int>?]?) throws(Malformed) -> RPCMessage {
        let result: Result<RPCMessage, Malformed> = buffer.withUnsafeReadableBytes { raw in
            guard let slots = topLevel else {
                return .failure(Malformed(reason: "not a JSON object"))
            }
            let (jsonrpc, idRange, method, params, result, error) = (slots[0], slots[1], slots[2], slots[3], slots[4], slots[5])
            func text(_ r: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: raw[r]), as: UTF8.self) }
            let id = idRange.map(text)
            if let id, !(id == "null" || id.first == "\"" || id.first.map({ $0 == "-" || $0.isNumber }) == true) {
                return .failure(Malformed(reason: "id must be a string or a number"))
            }
            guard let v = jsonrpc, v.count == 5, text(v) == "\"2.0\"" else {
                return .failure(Malformed(reason: "jsonrpc must be \"2.0\"", id: id))
            }
            var message = RPCMessage(bytes: buffer, kind: .notification, id: id, idRange: idRange, isError: error != nil)
            message.resultRange = result
            if let m = method {
                guard case .string(let name)? = try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[m])) else {
                    return .failure(Malformed(reason: "method must be a string", id: id))
                }
                message.method = name
                message.kind = id == nil ? .notification : .request
            } else if result != nil || error != nil {
                guard id != nil else { return .failure(Malformed(reason: "a response needs an id")) }
                message.kind = .response
            } else {
                return .failure(Malformed(reason: "neither a request, a notification nor a response", id: id))
            }
            if let p = params {
                message.paramsRange = p
                let inner = UnsafeRawBufferPointer(rebasing: raw[p])
                if let members = JSONScanner.slots(paramKeys, in: inner) {
                    if let r = members[0] ?? members[1], case .string(let s)? = try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: inner[r])) {
                        message.target = s
                        message.targetRange = (r.lowerBound + p.lowerBound)..<(r.upperBound + p.lowerBound)
                    }
                    if let m = members[2] {
                        message.metaRange = (m.lowerBound + p.lowerBound)..<(m.upperBound + p.lowerBound)
                        let metaBytes = UnsafeRawBufferPointer(rebasing: inner[m])
                        if let meta = JSONScanner.slots(metaKeys, in: metaBytes), let t = meta[0] {
                            let start = p.lowerBound + m.lowerBound
                            message.progressTokenRange = (t.lowerBound + start)..<(t.upperBound + start)
                            message.progressToken = text(message.progressTokenRange!)
                        }
                    }
                }
            }
            return .success(message)
        }
        return try result.get()
    }

    /// The value of `params` parsed (for the few methods whose params the gate interprets).
    package var params: JSONValue? { parsed(paramsRange) }

    /// The `result` member parsed.
    package var result: JSONValue? { parsed(resultRange) }

    private func parsed(_ range: Range<Int>?) -> JSONValue? {
        guard let r = range else { return nil }
        return bytes.withUnsafeReadableBytes { raw in try? JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[r])) }
    }

    /// Where the value at `path` (`["params", "ref", "name"]`) sits in `bytes`, if present.
    func range(of path: [String]) -> Range<Int>? {
        // Start below the deepest member `parse` located.
        var known: Range<Int>?
        var rest = path[...]
        if path.first == "params", let p = paramsRange {
            known = p
            rest = path.dropFirst()
            if rest.first == "_meta" {
                guard let m = metaRange else { return nil }
                known = m
                rest = rest.dropFirst()
            }
        } else if path.first == "result", let r = resultRange {
            known = r
            rest = path.dropFirst()
        }
        return bytes.withUnsafeReadableBytes { raw in
            var base = known?.lowerBound ?? 0
            var current = UnsafeRawBufferPointer(rebasing: raw[known ?? 0..<raw.count])
            var found = known
            for key in rest {
                guard let r = JSONScanner.member(key, in: current) else { return nil }
                found = (base + r.lowerBound)..<(base + r.upperBound)
                base += r.lowerBound
                current = UnsafeRawBufferPointer(rebasing: current[r])
            }
            return found
        }
    }

    /// The JSON text at `path`, if present.
    func text(at path: [String]) -> String? {
        guard let r = range(of: path) else { return nil }
        return bytes.withUnsafeReadableBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[r]), as: UTF8.self) }
    }

    /// The edit that removes the members of `params._meta` whose keys start with `prefix`
    /// (and sets `progressToken` to `token`, if given), leaving every other member's bytes as
    /// they were; nil when there are none.
    func removingMeta(prefix: String, progressToken token: String? = nil) -> (Range<Int>, String)? {
        guard let r = range(of: ["params", "_meta"]) else { return nil }
        return bytes.withUnsafeReadableBytes { raw -> (Range<Int>, String)? in
            guard let spans = JSONScanner.memberSpans(in: UnsafeRawBufferPointer(rebasing: raw[r])),
                  spans.contains(where: { $0.key.hasPrefix(prefix) }) else { return nil }
            let kept = spans.filter { !$0.key.hasPrefix(prefix) }.map { span in
                if span.key == "progressToken", let token { return "\"progressToken\":" + token }
                return String(decoding: UnsafeRawBufferPointer(rebasing: raw[(r.lowerBound + span.span.lowerBound)..<(r.lowerBound + span.span.upperBound)]), as: UTF8.self)
            }
            return (r, "{" + kept.joined(separator: ",") + "}")
        }
    }

    /// A copy of the message with byte ranges replaced (ranges must not overlap).
    func replacing(_ edits: [(Range<Int>, String)]) -> ByteBuffer {
        var out = ByteBufferAllocator().buffer(capacity: bytes.readableBytes + 32)
        var cursor = 0
        let sorted = edits.sorted { $0.0.lowerBound < $1.0.lowerBound }
        bytes.withUnsafeReadableBytes { raw in
            for (range, text) in sorted {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[cursor..<range.lowerBound]))
                out.writeString(text)
                cursor = range.upperBound
            }
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[cursor...]))
        }
        return out
    }

    /// The message with its id (which must exist) replaced by `newID` (JSON text).
    func withID(_ newID: String, target newTarget: String? = nil) -> ByteBuffer {
        var edits: [(Range<Int>, String)] = []
        if let idRange { edits.append((idRange, newID)) }
        if let newTarget, let targetRange { edits.append((targetRange, JSONValue.string(newTarget).text)) }
        return replacing(edits)
    }
}

/// Writing the gate's own JSON-RPC messages.
enum RPC {
    static func error(id: String?, code: RPCErrorCode, message: String, data: JSONValue? = nil) -> ByteBuffer {
        var b = ByteBufferAllocator().buffer(capacity: 96 + message.utf8.count)
        b.writeStaticString("{\"jsonrpc\":\"2.0\",\"id\":")
        b.writeString(id ?? "null")
        b.writeStaticString(",\"error\":{\"code\":")
        b.writeString(String(code.value))
        b.writeStaticString(",\"message\":")
        JSONValue.writeQuoted(message, to: &b)
        if let data {
            b.writeStaticString(",\"data\":")
            data.write(to: &b)
        }
        b.writeStaticString("}}")
        return b
    }

    static func result(id: String, _ result: JSONValue) -> ByteBuffer {
        var b = ByteBufferAllocator().buffer(capacity: 256)
        b.writeStaticString("{\"jsonrpc\":\"2.0\",\"id\":")
        b.writeString(id)
        b.writeStaticString(",\"result\":")
        result.write(to: &b)
        b.writeStaticString("}")
        return b
    }

    /// A response whose result is given as raw JSON bytes.
    static func result(id: String, raw: ByteBuffer) -> ByteBuffer {
        var raw = raw
        var b = ByteBufferAllocator().buffer(capacity: raw.readableBytes + 48)
        b.writeStaticString("{\"jsonrpc\":\"2.0\",\"id\":")
        b.writeString(id)
        b.writeStaticString(",\"result\":")
        b.writeBuffer(&raw)
        b.writeStaticString("}")
        return b
    }

    static func request(id: Int, method: String, params: JSONValue?) -> ByteBuffer {
        var fields: [(String, JSONValue)] = [("jsonrpc", .string("2.0")), ("id", .int(id)), ("method", .string(method))]
        if let params { fields.append(("params", params)) }
        var b = ByteBufferAllocator().buffer(capacity: 128)
        JSONValue.object(fields).write(to: &b)
        return b
    }

    static func notification(method: String, params: JSONValue?) -> ByteBuffer {
        var fields: [(String, JSONValue)] = [("jsonrpc", .string("2.0")), ("method", .string(method))]
        if let params { fields.append(("params", params)) }
        var b = ByteBufferAllocator().buffer(capacity: 128)
        JSONValue.object(fields).write(to: &b)
        return b
    }
}
