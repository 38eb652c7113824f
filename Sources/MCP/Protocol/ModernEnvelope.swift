import GatewayCore
import NIOCore
import NIOHTTP1

/// The 2026-07-28 request checks, in the order the revision gives them (first failure wins):
/// `params._meta` carries the protocol version and client capabilities (-32602); the
/// `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers agree with the body (-32020);
/// the version is one the gate serves (-32022, naming the versions it does).
enum ModernEnvelope {
    struct Rejection: Error, Equatable {
        var code: RPCErrorCode
        var message: String
        var data: JSONValue?

        static func == (a: Rejection, b: Rejection) -> Bool { a.code == b.code && a.message == b.message }
    }

    /// Whether the message is written in the stateless revision: its `_meta` names a version,
    /// or the version header names a modern one.
    static func isModern(_ m: RPCMessage, headers: HTTPHeaders) -> Bool {
        if let v = headers.first(name: "mcp-protocol-version"), ProtocolVersions.modern.contains(v) { return true }
        return m.range(of: ["params", "_meta", ProtocolVersions.protocolVersionKey]) != nil
    }

    /// `headers` nil skips the header rung (the HTTP+SSE transport carries none).
    static func check(_ m: RPCMessage, headers: HTTPHeaders?) -> Rejection? {
        guard m.kind == .request else { return nil }
        guard m.range(of: ["params", "_meta"]) != nil else {
            return Rejection(code: RPCErrorCode.invalidParams, message: "params._meta must be an object carrying the required '\(ProtocolVersions.protocolVersionKey)' and '\(ProtocolVersions.clientCapabilitiesKey)' envelope keys")
        }
        let version = m.text(at: ["params", "_meta", ProtocolVersions.protocolVersionKey])
        let missing = [(ProtocolVersions.protocolVersionKey, version != nil),
                       (ProtocolVersions.clientCapabilitiesKey, m.range(of: ["params", "_meta", ProtocolVersions.clientCapabilitiesKey]) != nil)]
            .filter { !$0.1 }.map(\.0)
        if !missing.isEmpty {
            return Rejection(code: RPCErrorCode.invalidParams, message: "params._meta is missing the required envelope key(s): \(missing.joined(separator: ", "))")
        }
        let versionValue = version.flatMap { try? JSONParser.parse($0) }?.stringValue
        if let headers, let rejection = checkHeaders(m, headers: headers, version: versionValue) { return rejection }
        guard let versionValue else {
            return Rejection(code: RPCErrorCode.invalidParams, message: "the protocol-version envelope value must be a string")
        }
        guard ProtocolVersions.modern.contains(versionValue) else {
            return Rejection(code: RPCErrorCode.unsupportedProtocolVersion, message: "Unsupported protocol version",
                             data: .object([("supported", .array(ProtocolVersions.modern.map { .string($0) })), ("requested", .string(versionValue))]))
        }
        return nil
    }

    private static func checkHeaders(_ m: RPCMessage, headers: HTTPHeaders, version versionValue: String?) -> Rejection? {
        var seen = (0, 0, 0)
        for (name, _) in headers {
            // Byte length and case-blind byte compares: no lowercased copy per header.
            switch name.utf8.count {
            case 20 where ASCII.equalsIgnoringCase(name, "mcp-protocol-version"): seen.0 += 1
            case 10 where ASCII.equalsIgnoringCase(name, "mcp-method"): seen.1 += 1
            case 8 where ASCII.equalsIgnoringCase(name, "mcp-name"): seen.2 += 1
            default: break
            }
        }
        for (name, count) in [("mcp-protocol-version", seen.0), ("mcp-method", seen.1), ("mcp-name", seen.2)] where count > 1 {
            return Rejection(code: RPCErrorCode.headerMismatch, message: "\(name) header is given more than once")
        }
        guard let header = headers.first(name: "mcp-protocol-version"), header == versionValue else {
            return Rejection(code: RPCErrorCode.headerMismatch, message: "mcp-protocol-version header does not match the request envelope's protocol version")
        }
        guard headers.first(name: "mcp-method") == m.method else {
            return Rejection(code: RPCErrorCode.headerMismatch, message: "mcp-method header does not match the request body's method")
        }
        if let method = m.method, let key = ProtocolVersions.nameBearing[method], let target = m.target,
           headers.first(name: "mcp-name").map(decodeHeaderValue) != target {
            return Rejection(code: RPCErrorCode.headerMismatch, message: "mcp-name header does not match the request body's '\(key)' parameter")
        }
        return nil
    }

    /// Header values that are not visible ASCII travel as `=?base64?...?=`.
    static func decodeHeaderValue(_ value: String) -> String {
        guard value.hasPrefix("=?base64?"), value.hasSuffix("?="), value.count >= 11 else { return value }
        let payload = String(value.dropFirst(9).dropLast(2))
        guard let bytes = [UInt8](base64: payload), let text = String(validating: bytes, as: UTF8.self) else { return value }
        return text
    }
}

extension ModernEnvelope {
    /// Methods whose 2026-07-28 results are cacheable (`ttlMs` and `cacheScope` required).
    static let cacheable: Set<String> = ["tools/list", "prompts/list", "resources/list", "resources/templates/list", "resources/read", "server/discover"]

    /// A response as 2026-07-28 writes it: its result gains `resultType: "complete"` and, for
    /// cacheable methods, `ttlMs: 0` and `cacheScope: "private"`, where the upstream (speaking
    /// an older revision) left them out. Nothing else changes.
    static func completing(_ response: ByteBuffer, method: String) -> ByteBuffer {
        guard let message = try? RPCMessage.parse(response), let edit = completion(of: message, method: method) else { return response }
        return message.replacing([edit])
    }

    /// The insertion that completes `message`'s result, if it needs one.
    static func completion(of message: RPCMessage, method: String) -> (Range<Int>, String)? {
        guard let r = message.range(of: ["result"]) else { return nil }
        let response = message.bytes
        let present = response.withUnsafeReadableBytes { raw in
            JSONScanner.members(["resultType", "ttlMs", "cacheScope"], in: UnsafeRawBufferPointer(rebasing: raw[r])).map { Set($0.keys) }
        }
        guard let present else { return nil }
        var add: [String] = []
        if !present.contains("resultType") { add.append("\"resultType\":\"complete\"") }
        if cacheable.contains(method) {
            if !present.contains("ttlMs") { add.append("\"ttlMs\":0") }
            if !present.contains("cacheScope") { add.append("\"cacheScope\":\"private\"") }
        }
        guard !add.isEmpty else { return nil }
        let empty: Bool = response.withUnsafeReadableBytes { raw in
            let inside = UnsafeRawBufferPointer(rebasing: raw[(r.lowerBound + 1)..<r.upperBound])
            let next = inside.first { b in b != 0x20 && b != 0x0A && b != 0x0D && b != 0x09 }
            return next == UInt8(ascii: "}")
        }
        let at = r.lowerBound + 1
        return (at..<at, add.joined(separator: ",") + (empty ? "" : ","))
    }
}
