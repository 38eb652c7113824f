import Gateway
import GatewayCore
import LLMRouting
import MCPGate
import NIOCore
import NIOHTTP1

/// The parsers that read what clients, upstreams and operators send, each as one fuzz target:
/// every input must be answered (accepted or refused), never trap, and keep the invariants the
/// gateway relies on. `scripts/fuzz` runs them under libFuzzer; a plain build replays the
/// seed corpus through the same code (`FuzzMain`).
enum FuzzTargets {
    static let all: [String: @Sendable ([UInt8]) -> Void] = [
        "json": json, "sse": sse, "jsonrpc": jsonrpc, "config": config, "request-head": requestHead,
    ]

    /// The JSON parser, the strict validator and the scanner agree: whatever the validator
    /// accepts, the parser accepts; whatever the parser refuses, the validator refuses.
    static func json(_ data: [UInt8]) {
        let parsed = try? JSONParser.parse(data)
        let valid = (try? JSONValidator.validate(data)) != nil
        if valid { precondition(parsed != nil, "validator accepted what the parser refused") }
        if parsed == nil { precondition(!valid, "parser refused what the validator accepted") }
        data.withUnsafeBytes { raw in
            // Validation that finds members on the way finds what the scanner finds.
            let keys = [Array("model".utf8), Array("n".utf8), Array("messages".utf8)]
            // It throws exactly when the plain validation does; it finds nothing (nil) exactly
            // when the text is not an object.
            var fused: [Range<Int>?]?
            var threw = false
            do { fused = try JSONValidator.validate(raw, findingTopLevel: keys) } catch { threw = true }
            precondition(threw == !valid, "validation with members disagrees with validation")
            if valid, let slots = JSONScanner.slots(keys, in: raw) {
                precondition(fused == slots, "members found while validating differ from the scanner's")
            }
            _ = JSONScanner.slots([Array("model".utf8), Array("n".utf8)], in: raw)
            _ = JSONScanner.members(["model", "messages"], in: raw)
            _ = JSONScanner.elements(in: raw)
            _ = JSONScanner.int(raw)
            _ = JSONScanner.decodedStringLength(raw)
        }
    }

    /// The SSE parser: the same events whatever the split of the stream.
    static func sse(_ data: [UInt8]) {
        guard let first = data.first else { return }
        let split = Int(first) % max(data.count, 1)
        var whole = SSEParser(), parts = SSEParser()
        let a = (try? whole.feed(ByteBuffer(bytes: data))) ?? []
        var b = (try? parts.feed(ByteBuffer(bytes: data[..<split]))) ?? []
        b += (try? parts.feed(ByteBuffer(bytes: data[split...]))) ?? []
        precondition(a.map(\.data) == b.map(\.data), "events depend on how the stream was split")
        _ = whole.finish()
    }

    /// The JSON-RPC envelope: a message is read or refused with a reason.
    static func jsonrpc(_ data: [UInt8]) {
        if let m = try? RPCMessage.parse(ByteBuffer(bytes: data)) {
            _ = m.params
            _ = m.result
        }
    }

    /// The config reader: any text is a config or a list of problems with paths.
    static func config(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        do {
            let config = try GatewayConfig.parse(yaml: text, environment: ["SECRET": "x"], sections: [LLMConfig.self, MCPConfig.self])
            _ = config.effectiveJSON
        } catch {
            precondition(!error.problems.isEmpty, "a refused config names no problem")
        }
    }

    /// A request head (method, target and headers from the input) through the head check, the
    /// path normalizer and the upstream head edits: normalizing is idempotent, and what goes
    /// upstream has exactly one Host and frames a body the way the client's head did.
    static func requestHead(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return }
        let requestLine = lines.removeFirst().split(separator: " ", maxSplits: 1).map(String.init)
        let method = HTTPMethod(rawValue: requestLine.first ?? "GET")
        let uri = requestLine.count > 1 ? requestLine[1] : "/"
        var headers = HTTPHeaders()
        for line in lines.prefix(64) {
            let kv = line.split(separator: ":", maxSplits: 1).map(String.init)
            // Names as the HTTP parser lets them through: tokens (NIO traps on others).
            guard kv.count == 2, !kv[0].isEmpty, kv[0].utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else { continue }
            headers.add(name: kv[0], value: kv[1])
        }
        guard case .success(let target) = UpstreamURL.parse("http://u:1") else { return }
        for version in [HTTPVersion.http1_0, .http1_1] {
            guard case .accept(let head, let framing) = RequestHeadCheck.check(HTTPRequestHead(version: version, method: method, uri: uri, headers: headers), isHTTP2: false) else { continue }
            for mode in EscapedSlashes.allCases {
                guard let request = RouteRequest(method: head.method, uri: head.uri, headers: head.headers, escapedSlashes: mode) else { continue }
                let again = PathNormalizer.normalize(request.path, escapedSlashes: mode == .decode ? .keep : mode)
                precondition(again == request.path, "normalizing twice changed \(request.path) to \(String(describing: again))")
                let up = ForwardedHeaders.upstreamRequest(head, uri: String(request.path), target: target,
                                                          preserveHost: true, requestID: "r", clientIP: "127.0.0.1", scheme: "http")
                precondition(up.headers["host"].count == 1, "not exactly one Host upstream")
                let chunked = up.headers["transfer-encoding"] == ["chunked"]
                precondition((framing == .chunked) == chunked, "the upstream head frames the body differently")
            }
        }
    }
}
